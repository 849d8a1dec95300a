/**
 * An upsert Delta sink: changes are reduced to one row per key and MERGEd into the table
 * with `txn` actions in the same commit. It works on a DuckDB connection of its own
 * (reading the batch through `BatchView.sharedValid`), so it runs alongside the sinks
 * on the batch connection. The MERGE is the data plane's copy-on-write
 * MERGE (src/table/ops/merge.ts), which skips files by key min/max statistics, so its
 * cost follows the batch when keys are clustered.
 *
 * With `commitIntervalMs`, changes of several micro-batches are buffered (in a DuckDB
 * temp table on the sink's connection) and merged at most that often: every MERGE
 * rewrites the files it touches, so merging every 200 ms would rewrite the same newest
 * file five times a second. Buffering trades freshness for less rewriting and CPU.
 * Exactly-once is unchanged: the txn versions committed are the last offsets whose
 * changes the commit includes; buffered changes lost in a crash are read again from the
 * log, because the sink's stored progress has not moved. A commit carries the further
 * markers (`extraTxn`, e.g. the DLQ's progress) of the last batch it includes, whether
 * it starts on a later `write` or on `flush`; a batch without rows past the progress
 * (all of its records rejected) still owes a commit of its progress.
 */
import { promises as fs } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Clock } from '../../core/clock.ts';
import { crashPoint } from '../../core/crash-points.ts';
import { quoteIdent, quoteString } from '../../core/sql.ts';
import { merge, openConnection, optimize, type ParquetCodec, type WhenMatched } from '../../table/index.ts';
import type { DeltaTable } from '../../table/table.ts';
import type { SchemaMode } from '../../table/validate.ts';
import { scratchFile } from '../scratch.ts';
import {
  advancedProgress,
  type BatchView,
  type ExtraTxn,
  type Progress,
  pastProgress,
  type Sink,
  type SinkResult,
} from '../types.ts';
import { progressFromTable } from './delta-append.ts';
import { type MaintenanceOptions, maintainTable } from './maintenance.ts';

export interface DeltaMergeSinkOptions {
  name: string;
  appIdPrefix: string;
  table: DeltaTable;
  /** SQL producing at most one row per key, in the table's columns, from valid records (`from`). */
  select: (from: string) => string;
  /** The relation read from a batch instead of its valid records past the sink's progress (see DeltaAppendSinkOptions). */
  input?: (batch: BatchView) => string;
  on: string[];
  whenMatched: WhenMatched;
  /** Rows whose key is not in the table: inserted (default), or only those for which `{ insert: SQL }` holds. */
  whenNotMatched?: 'insert' | { insert: string };
  /**
   * Columns (SQL over the `select` output) whose values, compared in order, rank rows of
   * one key: the largest is the newest (e.g. `['event_time']`). Combines the changes of
   * the batches buffered while a MERGE runs or waits for its interval: needed unless
   * every batch's changes are merged before the next batch arrives.
   */
  newestBy?: string[];
  /** Merge at most this often (clock time); 0 (default): every batch. */
  commitIntervalMs?: number;
  /** Merge early once this many change rows are buffered (default 1,000,000). */
  maxBufferedRows?: number;
  targetFileSize?: number;
  /** Sort the rows of the files a MERGE writes (by the key: new rows split into several files keep disjoint key ranges). */
  orderBy?: string[];
  /** Parquet codec of the files MERGEs write (default zstd); compaction writes zstd. */
  compression?: ParquetCodec;
  /**
   * Compaction between MERGEs, in the background right after one, at most every
   * `everyMs` (clock time): files written at least `olderThanMs` ago are bin-packed into
   * files of `targetFileSize`, in key order (`orderBy`). A MERGE rewrites each file that
   * holds a changed row, so small recent files keep MERGEs cheap; compacting them once
   * they stop changing keeps readers from paying for thousands of small files.
   */
  compaction?: { everyMs: number; olderThanMs: number; targetFileSize: number };
  /** Housekeeping run by `maintain()` (the pipeline schedules it). */
  maintenance?: MaintenanceOptions;
  /** 'merge': columns the changes have and the table lacks are added as nullable columns (default 'strict': refused). */
  schemaMode?: SchemaMode;
  clock?: Clock;
}

interface PreparedChanges {
  file: string;
  /** Per partition, the last offset the changes include. */
  upTo: Array<[number, number]>;
  /** The last batch the changes include. */
  seq: number;
  /** That batch's further progress markers (`write`'s extraTxn), committed with the changes. */
  extraTxn: ExtraTxn;
}

const noMarkers: ExtraTxn = async () => [];

export class DeltaMergeSink implements Sink {
  readonly name: string;
  readonly usesBatchConnection = false;
  private readonly opts: DeltaMergeSinkOptions;
  private readonly buffer: string;
  /**
   * Rows buffered; per partition the last offset the buffer includes (set by every batch
   * past the progress, even one without rows: its progress must be committed too); the
   * last batch, and its extraTxn.
   */
  private buffered = 0;
  private readonly bufferedUpTo: Progress = new Map();
  /** The progress the table holds as of this sink's last read or commit: the fence of its next MERGE. */
  private committed: Progress = new Map();
  private bufferedSeq = 0;
  private bufferedExtra: ExtraTxn = noMarkers;
  /** Changes taken from the buffer, ready to merge. */
  private changes?: PreparedChanges;
  /** This sink's connection: the buffer lives on it. */
  private own?: DuckDBConnection;
  /** The MERGE running in the background, its outcome once settled. */
  private inflight?: Promise<void>;
  /** The `write` in progress, if any (settles without rejecting). */
  private writing?: Promise<void>;
  private finished?: SinkResult;
  private failure?: unknown;
  private lastCommit: number;
  private lastCompaction: number;

  constructor(opts: DeltaMergeSinkOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.buffer = `__merge_buffer_${opts.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    this.lastCommit = this.clock.now();
    this.lastCompaction = this.clock.now();
  }

  private get clock(): Clock {
    return this.opts.clock ?? this.opts.table.clock;
  }

  get table(): DeltaTable {
    return this.opts.table;
  }

  async maintain(): Promise<void> {
    await this.awaitMerge();
    await maintainTable(this.opts.table, this.opts.maintenance);
  }

  appId(partition: number): string {
    return `${this.opts.appIdPrefix}/${partition}`;
  }

  async open(_conn: DuckDBConnection, partitions: number): Promise<Progress> {
    // A write of a failed batch may still be buffering, a MERGE in flight may land or
    // not: once both settled, the table says what is stored.
    await this.settle();
    this.inflight = undefined;
    this.finished = undefined;
    this.failure = undefined;
    this.own ??= await openConnection();
    // Whatever was buffered is forgotten: the pipeline re-reads it from the stored progress.
    await this.own.run(`DROP TABLE IF EXISTS ${this.buffer}`);
    this.buffered = 0;
    this.bufferedUpTo.clear();
    this.bufferedExtra = noMarkers;
    await this.dropChanges();
    this.lastCommit = this.clock.now();
    this.committed = progressFromTable(await this.opts.table.snapshot(), (p) => this.appId(p), partitions);
    return new Map(this.committed);
  }

  private async dropChanges(): Promise<void> {
    if (this.changes !== undefined) await fs.rm(this.changes.file, { force: true });
    this.changes = undefined;
  }

  /** Resolves once the MERGE in flight (if any) settled; its outcome is reported by the next call, as usual. */
  async idle(): Promise<void> {
    await this.inflight;
  }

  /**
   * Resolves once no write is in progress and no MERGE is in flight (a write may start
   * one). Failures are kept for the next call, as usual.
   */
  async settle(): Promise<void> {
    while (this.writing !== undefined || this.inflight !== undefined) {
      await this.writing;
      await this.inflight;
    }
  }

  /** Waits for the MERGE in flight; rethrows its failure (the pipeline then reloads progress). */
  private async awaitMerge(): Promise<void> {
    await this.inflight;
    this.inflight = undefined;
    this.throwFailure();
  }

  private throwFailure(): void {
    if (this.failure !== undefined) {
      const err = this.failure;
      this.failure = undefined;
      throw err;
    }
  }

  private due(): boolean {
    const interval = this.opts.commitIntervalMs ?? 0;
    return interval <= 0 || this.clock.now() - this.lastCommit >= interval || this.overfull();
  }

  private overfull(): boolean {
    return this.buffered >= (this.opts.maxBufferedRows ?? 1_000_000);
  }

  /**
   * Adds the batch's changes to the buffer; when a MERGE is due and none is running, the
   * buffer becomes a Parquet file of changes and its MERGE starts in the background (the
   * next batches need not wait for it). Reports the MERGE that finished since the last
   * call.
   */
  async write(batch: BatchView, progress: Progress, extraTxn: ExtraTxn): Promise<SinkResult> {
    const run = this.bufferBatch(batch, progress, extraTxn);
    const ignore = () => {};
    const writing: Promise<void> = run.then(ignore, ignore).then(() => {
      if (this.writing === writing) this.writing = undefined;
    });
    this.writing = writing;
    return run;
  }

  private async bufferBatch(batch: BatchView, progress: Progress, extraTxn: ExtraTxn): Promise<SinkResult> {
    this.throwFailure();
    const conn = this.own!;
    const advanced = advancedProgress(progress, batch.lastOffsets);
    if (advanced.length > 0) {
      if (batch.sharedValid === undefined) {
        throw new Error(`sink ${this.name} reads the batch on its own connection: the batch must be shared`);
      }
      const from = this.opts.input
        ? `(SELECT * FROM ${this.opts.input(batch)})`
        : `(SELECT * FROM ${batch.sharedValid} AS __b WHERE ${pastProgress(progress, batch.lastOffsets)})`;
      const verb = this.pending()
        ? `INSERT INTO ${this.buffer}`
        : `CREATE OR REPLACE TEMP TABLE ${this.buffer} AS`;
      await conn.run(`${verb} ${this.opts.select(from)}`);
      this.buffered = Number(
        (await conn.runAndReadAll(`SELECT count(*) FROM ${this.buffer}`)).getRows()[0][0],
      );
      for (const a of advanced) this.bufferedUpTo.set(a.partition, a.offset);
      this.bufferedSeq = batch.seq;
      this.bufferedExtra = extraTxn;
    }
    if (this.pending() && this.due()) {
      // One MERGE at a time; an over-full buffer waits for the running one.
      if (this.inflight && this.overfull()) await this.awaitMerge();
      if (!this.inflight) {
        // The previous MERGE may have failed while this batch was buffered: its changes
        // are not in the table, so no MERGE of later changes may commit progress past
        // them. The batch fails, and the pipeline reloads progress from the table.
        this.throwFailure();
        await this.takeBuffer(conn);
        this.start();
      }
    }
    const done = this.finished;
    this.finished = undefined;
    const idle = this.inflight === undefined && !this.pending() && this.changes === undefined;
    return {
      rows: done?.rows ?? 0,
      version: done?.version,
      durableThrough: idle ? batch.seq : done?.durableThrough,
    };
  }

  /**
   * Between batches: starts the MERGE of the buffered changes when it is due and none is
   * running (without this, changes buffered while the previous MERGE ran would wait for
   * the next batch with records); reports a MERGE that finished since the last call.
   */
  async tick(): Promise<SinkResult | undefined> {
    this.throwFailure();
    if (this.pending() && this.due() && !this.inflight) {
      await this.takeBuffer(this.own!);
      this.start();
    }
    const done = this.finished;
    this.finished = undefined;
    return done;
  }

  /** Moves the buffer (newest row per key) into a Parquet file of changes to merge. */
  private async takeBuffer(conn: DuckDBConnection): Promise<void> {
    const file = scratchFile('merge', 'parquet');
    const keys = this.opts.on.map(quoteIdent).join(', ');
    // The newest row per key is chosen on narrow values (the max of a struct compares
    // field by field; the row id breaks ties towards the later batch); only then are the
    // winners' wide rows read. A window ordered over the wide rows sorted all of them.
    const newest = this.opts.newestBy;
    // Without newestBy, the row of the later batch wins (its row id is larger).
    const rank = newest === undefined ? '' : `${newest.map((c, i) => `'k${i}': ${c}`).join(', ')}, `;
    const rows = `SELECT * FROM ${this.buffer} SEMI JOIN (SELECT max({${rank}'rid': rowid}).rid AS __rid FROM ${this.buffer} GROUP BY ${keys}) AS __w ON __w.__rid = ${this.buffer}.rowid`;
    await conn.run(`COPY (${rows}) TO ${quoteString(file)} (FORMAT parquet, COMPRESSION uncompressed)`);
    await conn.run(`DROP TABLE IF EXISTS ${this.buffer}`);
    this.changes = {
      file,
      upTo: [...this.bufferedUpTo],
      seq: this.bufferedSeq,
      extraTxn: this.bufferedExtra,
    };
    this.buffered = 0;
    this.bufferedUpTo.clear();
    this.bufferedExtra = noMarkers;
  }

  /** True when batches past the stored progress are buffered (with rows or not): a commit is owed. */
  private pending(): boolean {
    return this.bufferedUpTo.size > 0;
  }

  /** Starts the MERGE of the prepared changes in the background. */
  private start(): void {
    const changes = this.changes!;
    this.changes = undefined;
    this.lastCommit = this.clock.now();
    // Once settled, the MERGE is no longer in flight: the next one may start.
    // (Left set, every later MERGE waited for an over-full buffer or the final flush.)
    const run: Promise<void> = this.merge(changes)
      .then(
        (res) => {
          this.finished = res;
        },
        (err) => {
          this.failure = err;
        },
      )
      .then(() => {
        if (this.inflight === run) this.inflight = undefined;
      });
    this.inflight = run;
  }

  private async merge(changes: PreparedChanges): Promise<SinkResult> {
    try {
      const txn = [
        ...changes.upTo.map(([p, offset]) => ({ appId: this.appId(p), version: offset })),
        ...(await changes.extraTxn()),
      ];
      const res = await merge(
        this.opts.table,
        { file: changes.file, format: 'parquet' },
        {
          on: this.opts.on,
          whenMatched: this.opts.whenMatched,
          ...(this.opts.whenNotMatched !== undefined && { whenNotMatched: this.opts.whenNotMatched }),
          txn,
          // Fenced: a worker that lost a partition to another cannot MERGE its stale changes.
          txnFence: new Map(changes.upTo.map(([p]) => [this.appId(p), this.committed.get(p)])),
          targetFileSize: this.opts.targetFileSize,
          orderBy: this.opts.orderBy,
          compression: this.opts.compression,
          ...(this.opts.schemaMode !== undefined && { schemaMode: this.opts.schemaMode }),
        },
      );
      crashPoint('sink.merge.committed');
      for (const [p, offset] of changes.upTo) this.committed.set(p, offset);
      await this.maybeCompact();
      return {
        rows: res.metrics.numSourceRows,
        version: res.version,
        conflicts: res.attempts - 1 + Math.max(0, (res.commitAttempts ?? 1) - 1),
        durableThrough: changes.seq,
      };
    } finally {
      await fs.rm(changes.file, { force: true });
    }
  }

  /** Compacts files that stopped changing, when due (see `compaction`); never touches rows or progress. */
  private async maybeCompact(): Promise<void> {
    const c = this.opts.compaction;
    if (c === undefined || this.clock.now() - this.lastCompaction < c.everyMs) return;
    this.lastCompaction = this.clock.now();
    await optimize(this.opts.table, {
      targetFileSize: c.targetFileSize,
      orderBy: this.opts.orderBy,
      olderThanMs: c.olderThanMs,
    });
  }

  async close(): Promise<void> {
    await this.settle();
    await this.dropChanges();
    this.own?.closeSync();
    this.own = undefined;
  }

  async flush(_conn: DuckDBConnection, lastSeq: number): Promise<SinkResult | undefined> {
    const conn = this.own!;
    await this.awaitMerge();
    let rows = this.finished?.rows ?? 0;
    let version = this.finished?.version;
    // A MERGE that finished since the last report, and the final one: two commits.
    let commits = version === undefined ? 0 : 1;
    this.finished = undefined;
    if (this.pending() && this.changes === undefined) await this.takeBuffer(conn);
    if (this.changes !== undefined) {
      const changes = this.changes;
      this.changes = undefined;
      const res = await this.merge(changes);
      rows += res.rows;
      version = res.version;
      if (res.version !== undefined) commits++;
      this.lastCommit = this.clock.now();
    }
    return { rows, version, commits, durableThrough: lastSeq };
  }
}
