/**
 * An upsert Delta sink: changes are reduced to one row per key and MERGEd into the table
 * with `txn` actions in the same commit. The MERGE is the data plane's copy-on-write
 * MERGE (src/table/ops/merge.ts), which skips files by key min/max statistics, so its
 * cost follows the batch when keys are clustered.
 *
 * With `commitIntervalMs`, changes of several micro-batches are buffered (in a DuckDB
 * temp table on the batch connection) and merged at most that often: every MERGE
 * rewrites the files it touches, so merging every 200 ms would rewrite the same newest
 * file five times a second. Buffering trades freshness for less rewriting and CPU.
 * Exactly-once is unchanged: the txn versions committed are the last offsets whose
 * changes the commit includes; buffered changes lost in a crash are read again from the
 * log, because the sink's stored progress has not moved.
 */
import { promises as fs } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Clock } from '../../core/clock.ts';
import { quoteIdent, quoteString } from '../../quality/contract.ts';
import { merge, optimize, type ParquetCodec, type WhenMatched } from '../../table/index.ts';
import type { DeltaTable } from '../../table/table.ts';
import { scratchFile } from '../scratch.ts';
import {
  advancedProgress,
  type BatchView,
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
  on: string[];
  whenMatched: WhenMatched;
  /**
   * SQL ORDER BY list ranking rows of one key newest first (e.g. `event_time DESC`), used
   * to combine buffered batches; needed when `commitIntervalMs` > 0.
   */
  newestFirst?: string;
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
  clock?: Clock;
}

interface PreparedChanges {
  file: string;
  /** Per partition, the last offset the changes include. */
  upTo: Array<[number, number]>;
  /** The last batch the changes include. */
  seq: number;
}

export class DeltaMergeSink implements Sink {
  readonly name: string;
  readonly usesBatchConnection = false;
  private readonly opts: DeltaMergeSinkOptions;
  private readonly buffer: string;
  /** Rows buffered, per partition the last offset they include, and the last batch. */
  private buffered = 0;
  private readonly bufferedUpTo: Progress = new Map();
  private bufferedSeq = 0;
  /** Changes taken from the buffer, ready for `write` to merge. */
  private changes?: PreparedChanges;
  /** The MERGE running in the background, its outcome once settled. */
  private inflight?: Promise<void>;
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
    await this.settle();
    await maintainTable(this.opts.table, this.opts.maintenance);
  }

  appId(partition: number): string {
    return `${this.opts.appIdPrefix}/${partition}`;
  }

  async open(conn: DuckDBConnection, partitions: number): Promise<Progress> {
    // A MERGE in flight may land or not; either way the table says what is stored.
    await this.inflight?.catch(() => {});
    this.inflight = undefined;
    this.finished = undefined;
    this.failure = undefined;
    // Whatever was buffered is forgotten: the pipeline re-reads it from the stored progress.
    await conn.run(`DROP TABLE IF EXISTS ${this.buffer}`);
    this.buffered = 0;
    this.bufferedUpTo.clear();
    await this.dropChanges();
    this.lastCommit = this.clock.now();
    return progressFromTable(await this.opts.table.snapshot(), (p) => this.appId(p), partitions);
  }

  private async dropChanges(): Promise<void> {
    if (this.changes !== undefined) await fs.rm(this.changes.file, { force: true });
    this.changes = undefined;
  }

  /** Resolves once the MERGE in flight (if any) settled; its outcome is reported by the next call, as usual. */
  async idle(): Promise<void> {
    await this.inflight;
  }

  /** Waits for the MERGE in flight; rethrows its failure (the pipeline then reloads progress). */
  private async settle(): Promise<void> {
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
   * Adds the batch's changes to the buffer. When a MERGE is due and none is running, the
   * buffer becomes a Parquet file for `write` (the data plane's MERGE reads its source on
   * its own connection; writing the file here frees the batch connection for the others).
   */
  async prepare(batch: BatchView, progress: Progress): Promise<void> {
    this.throwFailure();
    const advanced = advancedProgress(progress, batch.lastOffsets);
    const { conn } = batch;
    if (advanced.length > 0) {
      const from = `(SELECT * FROM ${batch.validTable} WHERE ${pastProgress(progress, batch.lastOffsets)})`;
      const verb =
        this.buffered === 0 ? `CREATE OR REPLACE TEMP TABLE ${this.buffer} AS` : `INSERT INTO ${this.buffer}`;
      await conn.run(`${verb} ${this.opts.select(from)}`);
      this.buffered = Number(
        (await conn.runAndReadAll(`SELECT count(*) FROM ${this.buffer}`)).getRows()[0][0],
      );
      for (const a of advanced) this.bufferedUpTo.set(a.partition, a.offset);
      this.bufferedSeq = batch.seq;
    }
    if (this.buffered === 0 || !this.due()) return;
    // One MERGE at a time; an over-full buffer waits for the running one.
    if (this.inflight && this.overfull()) await this.settle();
    if (!this.inflight) await this.takeBuffer(conn);
  }

  /** Moves the buffer (newest row per key) into a Parquet file of changes to merge. */
  private async takeBuffer(conn: DuckDBConnection): Promise<void> {
    const file = scratchFile('merge', 'parquet');
    const keys = this.opts.on.map(quoteIdent).join(', ');
    const rows =
      this.opts.newestFirst === undefined
        ? `SELECT * FROM ${this.buffer}`
        : `SELECT * FROM ${this.buffer} QUALIFY row_number() OVER (PARTITION BY ${keys} ORDER BY ${this.opts.newestFirst}) = 1`;
    await conn.run(`COPY (${rows}) TO ${quoteString(file)} (FORMAT parquet, COMPRESSION uncompressed)`);
    await conn.run(`DROP TABLE IF EXISTS ${this.buffer}`);
    this.changes = { file, upTo: [...this.bufferedUpTo], seq: this.bufferedSeq };
    this.buffered = 0;
    this.bufferedUpTo.clear();
  }

  /**
   * Starts the MERGE of prepared changes in the background (the next batches need not
   * wait for it) and reports the MERGE that finished since the last call.
   */
  async write(
    batch: BatchView,
    _progress: Progress,
    extraTxn: ReadonlyArray<{ appId: string; version: number }>,
  ): Promise<SinkResult> {
    this.throwFailure();
    if (this.changes !== undefined) {
      const changes = this.changes;
      this.changes = undefined;
      this.lastCommit = this.clock.now();
      // Once settled, the MERGE is no longer in flight: `prepare` may start the next one.
      // (Left set, every later MERGE waited for an over-full buffer or the final flush.)
      const run: Promise<void> = this.merge(changes, extraTxn)
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
    const done = this.finished;
    this.finished = undefined;
    const idle = this.inflight === undefined && this.buffered === 0 && this.changes === undefined;
    return {
      rows: done?.rows ?? 0,
      version: done?.version,
      durableThrough: idle ? batch.seq : done?.durableThrough,
    };
  }

  private async merge(
    changes: PreparedChanges,
    extraTxn: ReadonlyArray<{ appId: string; version: number }>,
  ): Promise<SinkResult> {
    try {
      const txn = [
        ...changes.upTo.map(([p, offset]) => ({ appId: this.appId(p), version: offset })),
        ...extraTxn,
      ];
      const res = await merge(
        this.opts.table,
        { file: changes.file, format: 'parquet' },
        {
          on: this.opts.on,
          whenMatched: this.opts.whenMatched,
          txn,
          targetFileSize: this.opts.targetFileSize,
          orderBy: this.opts.orderBy,
          compression: this.opts.compression,
        },
      );
      await this.maybeCompact();
      return { rows: res.metrics.numSourceRows, version: res.version, durableThrough: changes.seq };
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

  async flush(conn: DuckDBConnection, lastSeq: number): Promise<SinkResult | undefined> {
    await this.settle();
    let rows = this.finished?.rows ?? 0;
    let version = this.finished?.version;
    // A MERGE that finished since the last report, and the final one: two commits.
    let commits = version === undefined ? 0 : 1;
    this.finished = undefined;
    if (this.buffered > 0 && this.changes === undefined) await this.takeBuffer(conn);
    if (this.changes !== undefined) {
      const changes = this.changes;
      this.changes = undefined;
      const res = await this.merge(changes, []);
      rows += res.rows;
      version = res.version;
      if (res.version !== undefined) commits++;
      this.lastCommit = this.clock.now();
    }
    return { rows, version, commits, durableThrough: lastSeq };
  }
}
