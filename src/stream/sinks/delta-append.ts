/**
 * An append-only Delta sink: each batch's rows in one commit together with `txn`
 * actions (appId `<pipeline>/<sink>/<topic>/<partition>`, version = last offset
 * included), so rows and progress become visible atomically (PROTOCOL.md, "Transaction
 * Identifiers"). Optional deduplication by id (dedup.ts).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { crashPoint } from '../../core/crash-points.ts';
import { append, type ParquetCodec } from '../../table/index.ts';
import type { DeltaTable } from '../../table/table.ts';
import type { SchemaMode } from '../../table/validate.ts';
import { type DedupOptions, DedupState } from '../dedup.ts';
import {
  advancedProgress,
  type BatchView,
  type ExtraTxn,
  type Progress,
  pastProgress,
  type Sink,
  type SinkResult,
} from '../types.ts';
import { type MaintenanceOptions, maintainTable } from './maintenance.ts';

export interface DeltaAppendSinkOptions {
  name: string;
  /** `<pipeline>/<sink>/<topic>`; the partition number is appended. */
  appIdPrefix: string;
  table: DeltaTable;
  /** SQL producing the table's rows from a relation of valid records (`from`). */
  select: (from: string) => string;
  /**
   * The relation the sink reads from a batch, instead of the batch's valid records past
   * its progress: e.g. a window's emitted rows (`BatchView.relations`), which the batch
   * produced once and whole. The sink still skips a batch it has committed.
   */
  input?: (batch: BatchView) => string;
  dedup?: DedupOptions;
  targetFileSize?: number;
  /** Parquet codec of the files each batch writes (default zstd; snappy when compaction rewrites them later). */
  compression?: ParquetCodec;
  /** Housekeeping run by `maintain()` (the pipeline schedules it). */
  maintenance?: MaintenanceOptions;
  /** 'merge': columns the rows have and the table lacks are added as nullable columns (default 'strict': refused). */
  schemaMode?: SchemaMode;
}

export class DeltaAppendSink implements Sink {
  readonly name: string;
  readonly usesBatchConnection = true;
  private readonly opts: DeltaAppendSinkOptions;
  private readonly dedup?: DedupState;
  private readonly tmp: string;

  constructor(opts: DeltaAppendSinkOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.tmp = `__sink_${opts.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    if (opts.dedup) this.dedup = new DedupState(opts.dedup, opts.name);
  }

  get table(): DeltaTable {
    return this.opts.table;
  }

  async maintain(): Promise<void> {
    await maintainTable(this.opts.table, this.opts.maintenance);
  }

  appId(partition: number): string {
    return `${this.opts.appIdPrefix}/${partition}`;
  }

  async open(conn: DuckDBConnection, partitions: number): Promise<Progress> {
    const snapshot = await this.opts.table.snapshot();
    await this.dedup?.load(conn, this.opts.table, snapshot);
    return progressFromTable(snapshot, (p) => this.appId(p), partitions);
  }

  async write(batch: BatchView, progress: Progress, extraTxn: ExtraTxn): Promise<SinkResult> {
    const { conn } = batch;
    const advanced = advancedProgress(progress, batch.lastOffsets);
    if (advanced.length === 0) return { rows: 0, durableThrough: batch.seq };
    // Views, not tables: the wide rows are read once, by the COPY that writes the files.
    await conn.run(
      this.opts.input
        ? `CREATE OR REPLACE TEMP VIEW ${this.tmp} AS SELECT * FROM ${this.opts.input(batch)}`
        : `CREATE OR REPLACE TEMP VIEW ${this.tmp} AS SELECT * FROM ${batch.validTable} WHERE ${pastProgress(progress, batch.lastOffsets)}`,
    );
    let input = this.tmp;
    let duplicates = 0;
    if (this.dedup) {
      const snapshot = await this.opts.table.snapshot();
      duplicates = await this.dedup.filter(conn, this.opts.table, snapshot, this.tmp, `${this.tmp}_new`);
      input = `${this.tmp}_new`;
    }
    const txn = advanced.map((a) => ({ appId: this.appId(a.partition), version: a.offset }));
    // The files are written while the DLQ is; the commit waits for the DLQ's progress.
    const res = await append(
      this.opts.table,
      { sql: this.opts.select(input), conn },
      {
        txn,
        // Fenced: a worker that lost a partition to another cannot commit rows for it.
        txnFence: new Map(advanced.map((a) => [this.appId(a.partition), progress.get(a.partition)])),
        txnBeforeCommit: async () => {
          const more = await extraTxn();
          crashPoint('sink.append.written');
          return more;
        },
        targetFileSize: this.opts.targetFileSize,
        compression: this.opts.compression,
        ...(this.opts.schemaMode !== undefined && { schemaMode: this.opts.schemaMode }),
      },
    );
    crashPoint('sink.append.committed');
    await this.dedup?.committed(conn);
    return {
      rows: res.rows,
      duplicates,
      version: res.version,
      conflicts: Math.max(0, res.attempts - 1),
      durableThrough: batch.seq,
    };
  }
}

/** A sink's progress as recorded in its table's `txn` actions. */
export function progressFromTable(
  snapshot: { txnVersion(appId: string): number | undefined },
  appId: (p: number) => string,
  partitions: number,
): Progress {
  const progress: Progress = new Map();
  for (let p = 0; p < partitions; p++) {
    const v = snapshot.txnVersion(appId(p));
    if (v !== undefined) progress.set(p, v);
  }
  return progress;
}
