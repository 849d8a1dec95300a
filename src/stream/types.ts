/**
 * The runtime's vocabulary: a micro-batch as the sinks see it, and the sink interface.
 *
 * A sink's progress is the last source offset it has committed per partition, read from
 * its own storage (a Delta table's `txn` actions, a topic's tail), never from a consumer
 * group: what a sink has durably written is the only truth about what it has done.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ValueBatch } from '../log/log.ts';
import type { VersionChanges } from '../table/index.ts';

/** Last committed source offset per partition (absent: nothing committed yet). */
export type Progress = Map<number, number>;

/** A record the contract rejected, with its original bytes and the reason. */
export interface RejectedRecord {
  partition: number;
  offset: number;
  timestamp: number;
  value: Uint8Array | null;
  field: string;
  rule: string;
  message: string;
}

export interface BatchView {
  /** The pipeline's connection; the batch's temp tables live on it. */
  conn: DuckDBConnection;
  topic: string;
  /**
   * Temp table of the batch's valid records: `_p` (partition), `_o` (offset), `_t`
   * (record timestamp, ms) and the contract's typed columns.
   */
  validTable: string;
  /**
   * The same valid records as a relation (SQL) any connection of the process's DuckDB
   * instance can read, for sinks working on a connection of their own; undefined when
   * the batch lives in temp tables only.
   */
  sharedValid?: string;
  /** The batch's rejected records, explained: given to the DLQ (sinks get an empty list: they run while the rejects are explained). */
  rejected: readonly RejectedRecord[];
  /** Per partition in the batch: the last offset fetched (valid or not). */
  lastOffsets: ReadonlyMap<number, number>;
  /** Milliseconds since the epoch when the batch started (from the pipeline's clock). */
  startedAt: number;
  /** The batch's number in this run (1, 2, ...). */
  seq: number;
  /**
   * Relations computed for the batch by stateful operators, by name (a window's emitted
   * rows): tables any connection of the instance can read.
   */
  relations?: ReadonlyMap<string, string>;
  /** The batch's plan, when the pipeline plans its batches (stateful.ts): the same rows on a replay. */
  plan?: { id: number; ends: readonly number[]; time?: number };
  /** What the batch's checks found, for the data-quality results (sinks/quality.ts). */
  quality?: BatchQuality;
}

/** A rule a decoder checks, named as its rejected records name it (`field` '' for the whole record). */
export interface RuleRef {
  field: string;
  rule: string;
}

/**
 * A pipeline step's check of a batch's rows: a dedup's (`unique` on its key) or a
 * window's (`on_time`): how many rows it read, how many failed, and the first failing
 * ones by partition and offset.
 */
export interface StepCheck {
  check: 'dedup' | 'window';
  /** The transform's name. */
  step: string;
  field: string;
  rule: string;
  records: number;
  failed: number;
  samples: Array<{ partition: number; offset: number }>;
}

/** The inputs of a batch's data-quality results. */
export interface BatchQuality {
  /** Every record the decoder rejected (those kept as tagged rows too), sorted by partition and offset. */
  rejected: Promise<readonly RejectedRecord[]>;
  /** The stateful steps' checks of the batch's rows (those of the batch's plan). */
  steps: readonly StepCheck[];
  /** A table any connection of the instance reads: every decoded row with `_p`, `_o` and the typed columns. */
  rawTable: string;
  /** The batch's records (valid or not) past `progress`. */
  recordsPast(progress: Progress): number;
}

/**
 * A batch decoded into DuckDB: every record a row of `rawTable` with `_ok` (valid), the
 * rejected ones explained later (the explanations settle on their own).
 */
export interface DeferredDecodedBatch {
  /** A temp view of `conn` over the valid rows (not made for a shared table: see `rawTable`). */
  validTable: string;
  /** Every decoded row, with `_ok` (valid) — the view's source. */
  rawTable: string;
  valid: number;
  /** Records rejected (not JSON, or breaking the contract). */
  rejectedCount: number;
  /** Their explanations, sorted by partition and offset; settles on its own. */
  rejected: Promise<RejectedRecord[]>;
}

/**
 * Where a pipeline's records come from, partition by partition: a log topic, a Delta
 * table read as a stream, a database's change capture. Positions are offsets per
 * partition; sinks record the last one they committed.
 */
export interface Source {
  /** Names the source in progress markers (`<pipeline>/<sink>/<name>/<partition>`) and messages. */
  readonly name: string;
  partitions(): Promise<number>;
  /** The records of `partition` from `offset`, at most about `limits` of them. */
  fetch(partition: number, offset: number, limits: FetchLimits): Promise<SourceBatch>;
  /** The offset the next record of `partition` will have (for lag). */
  latest(partition: number): Promise<number>;
  /**
   * The ends of `partitions` at one instant, when the source can give them without a
   * round trip (Log.endsNow); a batch then reads each partition up to its end only.
   */
  endsNow?(partitions: readonly number[]): number[];
}

export interface FetchLimits {
  maxRecords: number;
  maxBytes: number;
  /** Nothing past this offset (a replayed batch plan ends there). */
  lastOffset?: number;
}

/** One partition's records of a batch: bytes for a decoder (a topic's values), or rows (a table's files). */
export interface SourceBatch {
  partition: number;
  count: number;
  /** Offset of the last record (when count > 0). */
  lastOffset: number;
  /** Where the partition's next fetch starts. */
  nextOffset: number;
  /** The partition's end when fetched (nextOffset < highWatermark: more to read). */
  highWatermark: number;
  /** The records' values, for the decoder. */
  values?: ValueBatch;
  /** Rows that need no decoding: a Delta table's versions, each row at the offset of its version. */
  rows?: { versions: VersionChanges[] };
}

/**
 * Turns the bytes of a batch's records into rows of a DuckDB table (`raw.table`): `_o`,
 * `_p`, `_t`, `_ok` and the typed columns; records it cannot read, or that break the
 * contract, are rejected with their bytes and the reason.
 */
export interface Decoder {
  /** The contract's name, recorded with rejected records. */
  readonly contractName: string;
  /**
   * The rules it checks, as its rejected records name them, in the order it checks them
   * (the data-quality results report each, failed or not; a rejected record naming
   * another is reported too).
   */
  readonly rules?: readonly RuleRef[];
  decode(
    conn: DuckDBConnection,
    batches: readonly ValueBatch[],
    explainConn: DuckDBConnection,
    raw: { table: string; shared: boolean },
  ): Promise<DeferredDecodedBatch>;
}

/** Progress markers to commit with a sink's batch, known once the DLQ write is done. */
export type ExtraTxn = () => Promise<ReadonlyArray<{ appId: string; version: number }>>;

export interface SinkResult {
  /** Rows written (after the sink's own filtering and dedup). */
  rows: number;
  /** Records the sink dropped as duplicates. */
  duplicates?: number;
  /** Table version committed, when the sink is a table and committed (the last, if several). */
  version?: number;
  /** Commits this result stands for (default: 1 when `version` is set). */
  commits?: number;
  /**
   * Commit tries lost to other writers of the table: re-attempted at a later version, or
   * (a conflict with what was read) re-planned on a new snapshot.
   */
  conflicts?: number;
  /**
   * Every batch up to this `seq` is durable in the sink (undefined: no change). A sink
   * that buffers, or commits in the background, reports batches once they are durable.
   */
  durableThrough?: number;
}

/**
 * Stores a batch's rows together with its own progress, atomically. What every sink must
 * do (and a new one must pass) is the contract suite test/stream/sink-contract.ts.
 */
export interface Sink {
  readonly name: string;
  /**
   * True when `write` runs SQL on the batch's connection. Such sinks run one after the
   * other; the others (working on connections of their own, e.g. over `sharedValid`, or
   * only on what `prepare` left them) run concurrently with those.
   */
  readonly usesBatchConnection: boolean;
  /** Loads what the sink has committed; called once before the first batch. */
  open(conn: DuckDBConnection, partitions: number): Promise<Progress>;
  /**
   * Writes the records of `batch` past `progress` (the sink's own), and commits the new
   * progress with them atomically. `extraTxn` resolves to further progress markers (e.g.
   * the DLQ's) to commit in the same transaction, if the sink can: the sink may write its
   * files first, but commits only once they are known (the DLQ is written meanwhile).
   */
  write(batch: BatchView, progress: Progress, extraTxn: ExtraTxn): Promise<SinkResult>;
  /** Optional first step on the batch's connection, run before any sink's `write`. */
  prepare?(batch: BatchView, progress: Progress): Promise<void>;
  /**
   * Commits whatever the sink buffered and waits for commits in flight (at the end of a
   * run, before a graceful stop); `lastSeq` is the last batch it was given.
   */
  flush?(batchConn: DuckDBConnection, lastSeq: number): Promise<SinkResult | undefined>;
  /**
   * Resolves once nothing the sink started is still running: a write in progress, a
   * commit in the background. Never rejects (a failure is reported by the sink's next
   * call, as usual). The pipeline calls it after a failed batch, before reloading
   * progress: a reload must see every commit the failed batch may still make, and must
   * not reset state a write of that batch still uses.
   */
  settle?(): Promise<void>;
  /**
   * Called when a fetch found nothing new (the source is caught up): a sink that buffers
   * starts the commit that is due (a MERGE of buffered changes whose interval has passed),
   * so the last changes of a burst do not wait for the next record; it reports what
   * finished since its last call, as `write` does. Never runs beside `write`.
   */
  tick?(): Promise<SinkResult | undefined>;
  /** Periodic housekeeping (compaction, vacuum, checkpoint); optional. */
  maintain?(): Promise<void>;
  close?(): Promise<void>;
}

/** SQL predicate over `_p`/`_o` keeping the records past `progress`. */
export function pastProgress(progress: Progress, lastOffsets: ReadonlyMap<number, number>): string {
  const parts: string[] = [];
  for (const [p, last] of lastOffsets) {
    const done = progress.get(p) ?? -1;
    if (done >= last) continue;
    parts.push(`(_p = ${p} AND _o > ${done})`);
  }
  return parts.length === 0 ? 'false' : parts.join(' OR ');
}

/** The progress a sink reaches by committing the batch: per partition, the batch's last offset. */
export function advancedProgress(
  progress: Progress,
  lastOffsets: ReadonlyMap<number, number>,
): Array<{ partition: number; offset: number }> {
  const out: Array<{ partition: number; offset: number }> = [];
  for (const [p, last] of lastOffsets) {
    if ((progress.get(p) ?? -1) < last) out.push({ partition: p, offset: last });
  }
  return out;
}
