/**
 * A Delta Lake table on an ObjectStore rooted at the table's directory: creation,
 * snapshots (latest, by version, by timestamp), optimistic commits, history,
 * checkpoints, VACUUM and log clean-up. Protocol: reader 1 / writer 2 (protocol.ts).
 *
 * The newest snapshot this object has seen is cached, so reading the latest version
 * again only lists and reads the commits made since.
 */

import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '../core/clock.ts';
import { isTributaryError, TributaryError } from '../core/errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { Action } from './actions.ts';
import { writeCheckpoint } from './checkpoint.ts';
import { type CommitOptions, type CommitResult, checkTxnFence, commit, serializeCommit } from './commit.ts';
import { type OutcomeCheckOptions, putCommit } from './commit-put.ts';
import { commitFirst, defineTable, pendingSnapshot, type TableDefinition } from './first-commit.ts';
import { type HistoryEntry, readHistory } from './history.ts';
import { cleanupLog } from './log-cleanup.ts';
import { LOG_DIR } from './log-files.ts';
import { ENGINE_INFO } from './protocol.ts';
import type { Snapshot } from './snapshot.ts';
import { loadLatest, loadVersion, versionAtTimestamp } from './snapshot-load.ts';
import { type VacuumOptions, vacuum } from './vacuum.ts';

export type { CommitOptions, CommitResult } from './commit.ts';
export type { OutcomeCheckOptions } from './commit-put.ts';
export type { ReadScope } from './conflicts.ts';
export type { HistoryEntry } from './history.ts';
export type { Snapshot } from './snapshot.ts';
export type { VacuumOptions } from './vacuum.ts';

export type CreateTableOptions = TableDefinition;

export interface TableContext {
  clock?: Clock;
  /** How commits settle ambiguous storage answers (attempts, back-off, an injectable sleep). */
  outcomeCheck?: OutcomeCheckOptions;
}

export interface OpenTableOptions extends TableContext {
  /**
   * The table to create when there is none at the location yet. It is created by its
   * first commit (an append, overwrite, MERGE, a stream's batch), which is then version
   * 0 with protocol, metaData and that commit's data, as Spark and delta-rs write a
   * table's first version. An existing table is opened as it is, whatever its schema.
   */
  createIfMissing?: CreateTableOptions;
}

export class DeltaTable {
  readonly store: ObjectStore;
  readonly clock: Clock;
  private readonly outcomeCheck?: OutcomeCheckOptions;
  private latest?: Snapshot;
  /** The empty snapshot of a table that its first commit will create (open's createIfMissing). */
  private pending?: Snapshot;

  private constructor(store: ObjectStore, ctx: TableContext) {
    this.store = store;
    this.clock = ctx.clock ?? systemClock;
    this.outcomeCheck = ctx.outcomeCheck;
  }

  /** The table's location, for messages. */
  get url(): string {
    return this.store.url;
  }

  static async exists(store: ObjectStore): Promise<boolean> {
    return (await store.list(LOG_DIR)).some((m) => /^_delta_log\/\d{20}\.(json|checkpoint\.)/.test(m.path));
  }

  /**
   * Writes version 0 (protocol, metaData, commitInfo) and no data; TABLE_ALREADY_EXISTS if
   * there is a log. To create a table with its first data in version 0, open it with
   * `createIfMissing` instead and write to it.
   */
  static async create(
    store: ObjectStore,
    opts: CreateTableOptions,
    ctx: TableContext = {},
  ): Promise<DeltaTable> {
    const table = new DeltaTable(store, ctx);
    const now = table.clock.now();
    const { protocol, metadata: metaData } = defineTable(store.url, opts, now);
    if (await DeltaTable.exists(store)) throw alreadyExists(store.url);
    const actions: Action[] = [{ protocol }, { metaData }];
    const txnId = randomUUID();
    const body = serializeCommit(actions, {
      timestamp: now,
      operation: 'CREATE TABLE',
      operationParameters: {
        partitionBy: JSON.stringify(metaData.partitionColumns),
        properties: JSON.stringify(metaData.configuration),
        ...(opts.description === undefined ? {} : { description: opts.description }),
      },
      isolationLevel: 'WriteSerializable',
      isBlindAppend: true,
      engineInfo: ENGINE_INFO,
      txnId,
    });
    const put = await putCommit(store, store.url, 0, body, txnId, 'CREATE TABLE', ctx.outcomeCheck);
    if (!put.ours) throw alreadyExists(store.url);
    return table;
  }

  /**
   * Opens an existing table (reads its latest snapshot); TABLE_NOT_FOUND if there is none,
   * unless `createIfMissing` defines the table to create then. Such a table is created by
   * its first commit (first-commit.ts): version 0 holds protocol, metaData and that
   * commit's data, and until then `snapshot()` is empty, at version -1.
   */
  static async open(store: ObjectStore, opts: OpenTableOptions = {}): Promise<DeltaTable> {
    const table = new DeltaTable(store, opts);
    if (opts.createIfMissing !== undefined) {
      table.pending = pendingSnapshot(
        store.url,
        defineTable(store.url, opts.createIfMissing, table.clock.now()),
      );
    }
    await table.snapshot();
    return table;
  }

  /** False while the table exists only as the definition its first commit will create. */
  async exists(): Promise<boolean> {
    return (await this.snapshot()).version >= 0;
  }

  /** Latest snapshot by default; or at a version; or the last version committed at or before a timestamp (ms). */
  async snapshot(at: { version?: number; timestamp?: number } = {}): Promise<Snapshot> {
    if (at.version !== undefined && at.timestamp !== undefined) {
      throw new TributaryError(
        'TABLE_INVALID_ARGUMENT',
        `table ${this.url}: give a version or a timestamp, not both`,
        {
          table: this.url,
        },
      );
    }
    let version = at.version;
    if (at.timestamp !== undefined) {
      version = await versionAtTimestamp(this.store, this.url, at.timestamp, this.clock.now());
    }
    if (version !== undefined) {
      const base = this.latest !== undefined && this.latest.version <= version ? this.latest : undefined;
      return loadVersion(this.store, this.url, version, base);
    }
    let snap: Snapshot;
    try {
      snap = await loadLatest(this.store, this.url, this.latest);
    } catch (err) {
      if (this.pending !== undefined && isTributaryError(err, 'TABLE_NOT_FOUND')) return this.pending;
      throw err;
    }
    this.remember(snap);
    return snap;
  }

  /**
   * Commits `actions` read from `opts.readSnapshot` (see commit.ts and conflicts.ts):
   * TABLE_COMMIT_CONFLICT when a concurrent commit invalidates it. After a version
   * divisible by delta.checkpointInterval a checkpoint is written; a failure there does
   * not undo the commit and is reported as `checkpointError`. A commit read from the
   * empty snapshot of a table not created yet creates it (first-commit.ts).
   */
  async commit(actions: Action[], opts: CommitOptions): Promise<CommitResult & { checkpointError?: Error }> {
    checkTxnFence(opts.readSnapshot, opts.txnFence, this.url);
    const withCheck = { ...opts, outcomeCheck: opts.outcomeCheck ?? this.outcomeCheck };
    const out =
      opts.readSnapshot.version < 0
        ? await commitFirst(this.store, this.url, this.clock, actions, withCheck)
        : await commit(this.store, this.url, this.clock, actions, withCheck);
    this.remember(out.snapshot);
    const result: CommitResult & { checkpointError?: Error } = {
      version: out.version,
      attempts: out.attempts,
    };
    // Never at version 0 (as Spark): a checkpoint of one commit saves nothing.
    if (out.version > 0 && out.version % out.snapshot.config.checkpointInterval === 0) {
      try {
        await this.checkpoint(out.snapshot);
      } catch (err) {
        result.checkpointError = err as Error;
      }
    }
    return result;
  }

  async history(opts: { limit?: number } = {}): Promise<HistoryEntry[]> {
    return readHistory(this.store, this.url, opts.limit);
  }

  /** The newest `txn.version` recorded for an application id, or undefined. */
  async appTransactionVersion(appId: string): Promise<number | undefined> {
    return (await this.snapshot()).txnVersion(appId);
  }

  /** Writes `%020d.checkpoint.parquet` for the snapshot (default: latest) and `_last_checkpoint`. */
  async checkpoint(snapshot?: Snapshot): Promise<void> {
    const snap = snapshot ?? (await this.snapshot());
    if (snap.version < 0) return; // not created yet: nothing to checkpoint
    await writeCheckpoint(this.store, snap.state, this.clock.now() - snap.config.deletedFileRetentionMs);
  }

  async vacuum(opts: VacuumOptions = {}): Promise<{ deleted: string[] }> {
    const snap = await this.snapshot();
    // Not created yet: whatever is in the directory is not this table's to delete.
    if (snap.version < 0) return { deleted: [] };
    return vacuum(this.store, snap, this.clock, opts);
  }

  /** Deletes log files older than delta.logRetentionDuration behind a checkpoint (log-cleanup.ts). */
  async cleanupLog(): Promise<{ deleted: string[] }> {
    const snap = await this.snapshot();
    if (snap.version < 0) return { deleted: [] };
    return cleanupLog(this.store, snap, this.clock);
  }

  private remember(snap: Snapshot): void {
    if (this.latest === undefined || snap.version > this.latest.version) this.latest = snap;
  }
}

function alreadyExists(url: string): TributaryError {
  return new TributaryError(
    'TABLE_ALREADY_EXISTS',
    `a Delta table already exists at ${url}; open it instead, or choose another location`,
    { table: url },
  );
}
