/**
 * append and overwrite: one batch in one commit.
 *
 * append is a blind append (readScope 'none'): it never conflicts with other appends,
 * so concurrent writers and stream workers simply retry at the next version. Optional
 * `txn` actions ride in the same commit — the streaming exactly-once path: the offsets
 * become visible atomically with the rows (PROTOCOL.md, "Transaction Identifiers").
 * overwrite removes every current file and adds the new ones in one commit.
 */
import type { Clock } from '../../core/clock.ts';
import type { Action, Txn } from '../actions.ts';
import { commitMayHaveLanded } from '../commit.ts';
import type { SchemaMode } from '../validate.ts';
import { writeBatch } from '../write/batch.ts';
import type { DataSource } from '../write/source.ts';
import { type CommitOutcome, type TableHandle, tableClock } from '../write/table-handle.ts';
import { deleteWrittenFiles, type ParquetCodec } from '../write/write-files.ts';
import { removeFor } from './remove.ts';

export interface AppendOptions {
  txn?: Txn[];
  /**
   * More txn actions, asked for once the files are written, just before the commit (a
   * stream's progress that becomes known while the files are being written). A failure
   * here deletes the files and fails the append.
   */
  txnBeforeCommit?: () => Promise<ReadonlyArray<Txn>>;
  /** The progress the table must hold for these appIds (commit.ts, `txnFence`). */
  txnFence?: ReadonlyMap<string, number | undefined>;
  schemaMode?: SchemaMode;
  targetFileSize?: number;
  /** Sort rows within each new file by these columns. */
  orderBy?: string[];
  /** Parquet codec of the new files (default zstd; see write-files.ts). */
  compression?: ParquetCodec;
  operationParameters?: Record<string, unknown>;
  clock?: Clock;
}

export interface WriteResult extends CommitOutcome {
  /** True when nothing needed committing (an empty batch without txn). */
  noop?: boolean;
  rows: number;
  files: number;
}

async function writeAndCommit(
  table: TableHandle,
  data: DataSource,
  opts: AppendOptions,
  mode: 'Append' | 'Overwrite',
): Promise<WriteResult> {
  const clock = tableClock(table, opts.clock);
  const snapshot = await table.snapshot();
  const batch = await writeBatch(table, snapshot, data, {
    schemaMode: opts.schemaMode,
    targetFileSize: opts.targetFileSize,
    orderBy: opts.orderBy,
    compression: opts.compression,
    clock,
  });
  const now = clock.now();
  const actions: Action[] = [];
  if (batch.metadata) actions.push({ metaData: batch.metadata });
  if (mode === 'Overwrite')
    for (const f of snapshot.files()) actions.push({ remove: removeFor(f, now, true) });
  for (const add of batch.adds) actions.push({ add });
  let txn: ReadonlyArray<Txn> = opts.txn ?? [];
  try {
    if (opts.txnBeforeCommit) txn = [...txn, ...(await opts.txnBeforeCommit())];
  } catch (err) {
    await deleteWrittenFiles(table.store, batch.adds);
    throw err;
  }
  for (const t of txn) actions.push({ txn: { ...t, lastUpdated: t.lastUpdated ?? now } });
  if (actions.length === 0) {
    return { version: snapshot.version, attempts: 0, noop: true, rows: 0, files: 0 };
  }
  try {
    const res = await table.commit(actions, {
      readSnapshot: snapshot,
      operation: txn.length ? 'STREAMING UPDATE' : 'WRITE',
      operationParameters: {
        mode,
        partitionBy: JSON.stringify(snapshot.partitionColumns),
        ...opts.operationParameters,
      },
      operationMetrics: {
        numFiles: String(batch.adds.length),
        numOutputRows: String(batch.rows),
        numOutputBytes: String(batch.bytes),
        ...(mode === 'Overwrite' ? { numRemovedFiles: String(snapshot.files().length) } : {}),
      },
      readScope: mode === 'Append' ? 'none' : 'all',
      ...(opts.txnFence && { txnFence: opts.txnFence }),
    });
    return { ...res, rows: batch.rows, files: batch.adds.length };
  } catch (err) {
    // Files of a commit that may stand (outcome unknown) are kept: see commit.ts.
    if (!commitMayHaveLanded(err)) await deleteWrittenFiles(table.store, batch.adds);
    throw err;
  }
}

/** Appends a batch in one commit (with optional txn actions for exactly-once). */
export function append(table: TableHandle, data: DataSource, opts: AppendOptions = {}): Promise<WriteResult> {
  return writeAndCommit(table, data, opts, 'Append');
}

/** Replaces the table's contents with a batch, in one commit. */
export function overwrite(
  table: TableHandle,
  data: DataSource,
  opts: AppendOptions = {},
): Promise<WriteResult> {
  return writeAndCommit(table, data, opts, 'Overwrite');
}
