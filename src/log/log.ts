/**
 * The event log: topics of N partitions holding ordered, offset-addressed records.
 * Two implementations pass one contract suite (test/log/contract.ts): the embedded
 * durable log (src/log/embedded/, the default) and Apache Kafka (src/log/kafka/).
 *
 * Guarantees every implementation gives:
 * - Records of one partition keep the order they were acknowledged in; offsets are
 *   dense-increasing integers from 0 (Kafka may leave gaps after compaction or
 *   transactions; readers must use the offsets handed back, never count).
 * - A record whose `produce` promise resolved is durable per the log's flush policy and
 *   is returned by every later fetch of its offset until retention removes it.
 * - A record with a key and no explicit partition goes to
 *   `murmur2(key) & 0x7fffffff % partitions` (Kafka's default partitioner), so a topic
 *   keeps its key-to-partition mapping when it moves between implementations.
 * - Reads see committed records only: on Kafka, records of a transaction that is still
 *   open or was aborted are never returned, and the end of a partition (`latest`,
 *   `highWatermark`) is its last stable offset (Kafka's read_committed isolation).
 */
export interface TopicConfig {
  partitions: number;
  /** Records older than this may be deleted (whole segments at a time). Undefined: forever. */
  retentionMs?: number;
  /** Per partition: oldest segments are deleted above this size. Undefined: unbounded. */
  retentionBytes?: number;
}

export interface TopicInfo extends TopicConfig {
  name: string;
}

export type Headers = Record<string, Uint8Array>;

export interface ProduceRecord {
  topic: string;
  /** Explicit partition; otherwise chosen from the key (murmur2) or round-robin if no key. */
  partition?: number;
  key?: Uint8Array | null;
  value: Uint8Array | null;
  headers?: Headers;
  /** Milliseconds since the epoch; defaults to the time of produce. */
  timestamp?: number;
}

export interface ProduceResult {
  topic: string;
  partition: number;
  offset: number;
}

export interface LogRecord {
  offset: number;
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Headers;
}

export interface FetchOptions {
  /** At most this many records (default 10,000). */
  maxRecords?: number;
  /** Stop adding records once this many bytes of values are gathered (default 16 MiB; at least one record is returned). */
  maxBytes?: number;
  /** If nothing is available at `offset`, wait up to this long for new records (default 0: return at once). */
  maxWaitMs?: number;
}

export interface FetchResult {
  topic: string;
  partition: number;
  records: LogRecord[];
  /**
   * The offset to fetch next: past the last returned record, or past the offsets the
   * fetch stepped over without records (Kafka's transaction markers and aborted records);
   * the requested offset if there was nothing.
   */
  nextOffset: number;
  /**
   * The partition's end for readers at fetch time: the offset the next produced record
   * will get, or on Kafka the last stable offset (the first offset of a transaction still
   * open, if any).
   */
  highWatermark: number;
}

/**
 * A batch of record values as one contiguous buffer, each value followed by `\n`, with
 * per-record metadata in parallel arrays: the runtime's fast path reads values out of
 * it without building an object per record. Values that are null are written as empty.
 * A value may itself hold newline bytes, unchanged: `ends` (not the `\n` separators)
 * says where each value ends.
 */
export interface ValueBatch {
  topic: string;
  partition: number;
  count: number;
  values: Uint8Array;
  /** offsets[i] is the offset of the i-th value. */
  offsets: Float64Array;
  /** timestamps[i] is the record timestamp (ms since the epoch) of the i-th value. */
  timestamps: Float64Array;
  /** ends[i] is the byte position in `values` just past the i-th value (before its `\n`). */
  ends: Uint32Array;
  nextOffset: number;
  highWatermark: number;
}

export interface PartitionOffsets {
  /** The oldest offset still held. */
  earliest: number;
  /**
   * Where readers' records end: the offset the next produced record will get, or on
   * Kafka the last stable offset (below an open transaction). Not a count: on Kafka,
   * transaction markers and aborted records take offsets too.
   */
  latest: number;
}

/**
 * A writer that one process at a time may hold for a given id, across processes and
 * machines (Kafka transactions, KIP-98: the id is a `transactional.id`). What the DLQ of
 * a pipeline on several workers needs: a worker frozen while it writes must not add its
 * records after its partition went to another worker.
 *
 * - `claim()` makes this writer the id's holder: the previous holder's open write is
 *   aborted and settled (readers then see it as never written; one it had committed is
 *   visible), and every later write of the previous holder fails with
 *   `LOG_WRITER_FENCED`.
 * - `write()` appends its records atomically: readers see all of them or none.
 * - A write that failed otherwise (a broker or network error) leaves the writer
 *   `unsettled`: whether it committed is unknown until `settle()` aborts what may still
 *   be open, as the same holder (or finds the writer fenced).
 * - After `claim()` or `settle()`, what earlier writes did is final: read the
 *   destination's end again before deciding what to write.
 */
export interface FencedWriter {
  readonly id: string;
  /**
   * `unclaimed` until `claim()`; `ready` to write; `unsettled` after a failed write;
   * `fenced` once another writer claimed the id (only `claim()` leaves it).
   */
  readonly state: 'unclaimed' | 'ready' | 'unsettled' | 'fenced';
  /** Takes the id over from whoever holds it (see above). */
  claim(): Promise<void>;
  /** After a failed write: aborts what may be open, as the same holder; `LOG_WRITER_FENCED` if fenced. */
  settle(): Promise<void>;
  /**
   * Appends `records` as one transaction (state `ready` only); resolves once committed,
   * with their offsets in input order. Fails with `LOG_WRITER_FENCED` when another writer
   * claimed the id since; nothing of the call is visible then.
   */
  write(records: ProduceRecord[]): Promise<ProduceResult[]>;
  close(): Promise<void>;
}

export interface Log {
  /** Human-readable description: `embedded:<dir>` or `kafka:<brokers>`. */
  readonly description: string;
  createTopic(name: string, config: TopicConfig): Promise<void>;
  /** Creates the topic if it is missing; an existing topic is left as it is. */
  ensureTopic(name: string, config: TopicConfig): Promise<TopicInfo>;
  deleteTopic(name: string): Promise<void>;
  /**
   * Grows a topic to `partitions` partitions (never shrinks it); the topic as it is then.
   * Kafka only: the embedded log's topics keep the partitions they were created with.
   */
  addPartitions?(name: string, partitions: number): Promise<TopicInfo>;
  listTopics(): Promise<TopicInfo[]>;
  describeTopic(name: string): Promise<TopicInfo>;
  /** Appends records (to one or several topics); resolves when all are acknowledged. Results are in input order. */
  produce(records: ProduceRecord[]): Promise<ProduceResult[]>;
  fetch(topic: string, partition: number, offset: number, options?: FetchOptions): Promise<FetchResult>;
  fetchValues(topic: string, partition: number, offset: number, options?: FetchOptions): Promise<ValueBatch>;
  offsets(topic: string, partition: number): Promise<PartitionOffsets>;
  /**
   * The end (the offset the next record will get) of each of `partitions`, all taken at
   * one instant, when the log can tell without a round trip: the embedded log, whose
   * produce calls append in this process. A batch that reads each partition up to these
   * ends holds whole produce calls and no partition ahead of another (a window's
   * watermark is the newest event time over all partitions: a partition read further
   * than the others would make their records of the same moment late). Kafka has no
   * such instant (its producers are elsewhere) and leaves it out.
   */
  endsNow?(topic: string, partitions: readonly number[]): number[];
  commitOffsets(
    group: string,
    offsets: { topic: string; partition: number; offset: number }[],
  ): Promise<void>;
  /** Committed offsets of a group for a topic, by partition (partitions never committed are absent). */
  committedOffsets(group: string, topic: string): Promise<Map<number, number>>;
  /**
   * A writer fenced by `id` (see FencedWriter). Kafka only: the embedded log has one
   * writer process per partition (its lock), so there is nothing to fence there and a
   * plain `produce` is its equivalent.
   */
  fencedWriter?(id: string): FencedWriter;
  close(): Promise<void>;
}

/**
 * A record's value and timestamp, by partition and offset, in fetched batches (binary
 * search on the offsets). A null value travels as an empty one: both are returned as
 * null (unusable as a record either way).
 */
export function recordAt(
  batches: readonly ValueBatch[],
  partition: number,
  offset: number,
): { value: Uint8Array | null; timestamp: number } {
  for (const b of batches) {
    if (b.partition !== partition || b.count === 0) continue;
    if (offset < b.offsets[0] || offset > b.offsets[b.count - 1]) continue;
    let lo = 0;
    let hi = b.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const o = b.offsets[mid];
      if (o === offset) {
        const start = mid === 0 ? 0 : b.ends[mid - 1] + 1;
        return {
          value: b.ends[mid] === start ? null : b.values.subarray(start, b.ends[mid]),
          timestamp: b.timestamps[mid],
        };
      }
      if (o < offset) lo = mid + 1;
      else hi = mid - 1;
    }
  }
  throw new Error(`record ${partition}/${offset} is not in the batch`);
}
