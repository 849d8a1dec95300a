/**
 * The Log interface (src/log/log.ts) on Apache Kafka, through @platformatic/kafka.
 *
 * - Topics: the client's Admin (see topics.ts).
 * - Produce: one Producer, acks=all, compressed batches; the partition of every record is
 *   chosen here, so keyed records follow Kafka's murmur2 partitioner (partitioner.ts)
 *   exactly (the client's own default partitioner does not), and batching is ours
 *   (produce-queue.ts).
 * - Fetch: raw Fetch requests at an explicit offset (fetcher.ts), no group membership,
 *   read_committed: records of open or aborted transactions are never returned, and a
 *   partition's end (`latest`, `highWatermark`) is its last stable offset.
 * - Fenced writers (`fencedWriter`): Kafka transactions (transactions.ts), on one
 *   connection pool shared by all of them.
 * - Group offsets: OffsetCommit / OffsetFetch as an admin would (generation -1), which
 *   Kafka accepts for a group without active members, the way our runtime uses groups.
 */
import {
  Admin,
  type CompressionAlgorithmValue,
  ConnectionPool,
  Consumer,
  FetchIsolationLevels,
  ProduceAcks,
  Producer,
} from '@platformatic/kafka';
import { type Clock, systemClock } from '../../core/clock.ts';
import { TributaryError } from '../../core/errors.ts';
import type {
  FencedWriter,
  FetchOptions,
  FetchResult,
  Log,
  PartitionOffsets,
  ProduceRecord,
  ProduceResult,
  TopicConfig,
  TopicInfo,
  ValueBatch,
} from '../log.ts';
import { type KafkaErrorContext, translateError } from './errors.ts';
import { KafkaFetcher, type RawFetch } from './fetcher.ts';
import { KafkaGroups } from './groups.ts';
import { ProduceQueue, partitionKey, type RoutedRecord } from './produce-queue.ts';
import { type Bounds, collectRecords, collectValues } from './records.ts';
import { checkPartition, Router } from './route.ts';
import { KafkaTopics, type TopicLayout } from './topics.ts';
import { KafkaFencedWriter, type TxnContext } from './transactions.ts';

export interface KafkaLogOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  clientId?: string;
  /** Codec of produced record batches (default `lz4`: cheap to compress and to read). */
  compression?: CompressionAlgorithmValue;
  /** Default timestamp of produced records and the clock of fetch deadlines. */
  clock?: Clock;
  /**
   * How long a fenced writer's transaction may stay open before the coordinator aborts it
   * (default 60 s, Kafka's own default; at most the broker's transaction.max.timeout.ms).
   */
  transactionTimeoutMs?: number;
}

const DEFAULT_MAX_RECORDS = 10_000;
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
const MIB = 1024 * 1024;

interface ClientError extends Error {
  findBy?: (property: string, value: unknown) => unknown;
}

export class KafkaLog implements Log {
  readonly description: string;
  readonly #brokers: string;
  readonly #clock: Clock;
  readonly #admin: Admin;
  #producer: Producer;
  readonly #newProducer: () => Producer;
  readonly #consumer: Consumer;
  readonly #topics: KafkaTopics;
  readonly #groups: KafkaGroups;
  readonly #fetcher: KafkaFetcher;
  readonly #queue: ProduceQueue;
  readonly #router: Router;
  /** Moving average of wire bytes per record, to size fetch requests to maxRecords. */
  #wireBytesPerRecord = 512;
  #closed: Promise<void> | undefined;
  readonly #txn: TxnContext;
  #txnPool: ConnectionPool | undefined;

  constructor(opts: KafkaLogOptions) {
    if (
      !Array.isArray(opts.brokers) ||
      opts.brokers.length === 0 ||
      opts.brokers.some((b) => !/:\d+$/.test(b))
    ) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `Kafka brokers must be a non-empty list of host:port (got ${JSON.stringify(opts.brokers)})`,
        { brokers: opts.brokers },
      );
    }
    this.#brokers = opts.brokers.join(',');
    this.description = `kafka:${this.#brokers}`;
    this.#clock = opts.clock ?? systemClock;
    const clientId = opts.clientId ?? 'tributary';
    // Few, quick retries inside the client: errors reach our callers, who decide. The
    // client retries an unknown topic too (a topic another client just created may not
    // be known to every broker yet), but that need not take long.
    const retryDelay = (
      _client: unknown,
      operation: string,
      _attempt: number,
      _retries: number,
      error: Error,
    ) =>
      operation === 'metadata' || (error as ClientError).findBy?.('apiId', 'UNKNOWN_TOPIC_OR_PARTITION')
        ? 50
        : 250;
    const base = { clientId, bootstrapBrokers: opts.brokers, retries: 3, retryDelay };
    this.#admin = new Admin(base);
    this.#newProducer = () =>
      new Producer({
        ...base,
        compression: opts.compression ?? 'lz4',
        idempotent: true,
        acks: ProduceAcks.ALL,
        repeatOnStaleMetadata: true,
      });
    this.#producer = this.#newProducer();
    this.#consumer = new Consumer({ ...base, groupId: `${clientId}-fetch`, autocommit: false });
    this.#topics = new KafkaTopics(this.#admin, this.#brokers, this.#clock);
    this.#groups = new KafkaGroups(this.#admin, this.#brokers);
    this.#router = new Router(this.#brokers);
    this.#fetcher = new KafkaFetcher(this.#consumer, clientId, this.#clock);
    this.#queue = new ProduceQueue((chunk) => this.#send(chunk), {
      maxPartitionBytes: 900 * 1024,
      maxRequestBytes: 8 * MIB,
    });
    const log = this;
    this.#txn = {
      brokers: this.#brokers,
      get pool() {
        if (log.#closed) throw new TributaryError('LOG_BROKER', `the Kafka log ${log.description} is closed`);
        log.#txnPool ??= new ConnectionPool(clientId, { connectTimeout: 10_000, requestTimeout: 30_000 });
        return log.#txnPool;
      },
      clock: this.#clock,
      compression: opts.compression ?? 'lz4',
      route: async (records) => (await this.#route(records)).routed,
      cluster: async (topics, fresh) => {
        try {
          return await this.#admin.metadata({ topics, forceUpdate: fresh });
        } catch (err) {
          throw translateError(err, this.#ctx('look up metadata'));
        }
      },
      stableOffsets: async (parts) => {
        const byTopic = new Map<string, number[]>();
        for (const { topic, partition } of parts)
          byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
        try {
          const listed = await this.#admin.listOffsets({
            topics: [...byTopic].map(([name, ps]) => ({
              name,
              partitions: ps.map((partitionIndex) => ({ partitionIndex, timestamp: -1n })),
            })),
            isolationLevel: FetchIsolationLevels.READ_COMMITTED,
          });
          const out = new Map<string, number>();
          for (const t of listed) {
            for (const p of t.partitions) out.set(partitionKey(t.name, p.partitionIndex), Number(p.offset));
          }
          return out;
        } catch (err) {
          throw translateError(err, this.#ctx('list offsets'));
        }
      },
      transactionTimeoutMs: opts.transactionTimeoutMs ?? 60_000,
      retryForMs: 60_000,
      maxPartitionBytes: 900 * 1024,
    };
  }

  /**
   * A writer fenced by the transactional id `id` (FencedWriter in log.ts); writers of one
   * log share one connection pool.
   */
  fencedWriter(id: string): FencedWriter {
    return new KafkaFencedWriter(id, this.#txn);
  }

  createTopic(name: string, config: TopicConfig): Promise<void> {
    return this.#topics.create(name, config);
  }

  ensureTopic(name: string, config: TopicConfig): Promise<TopicInfo> {
    return this.#topics.ensure(name, config);
  }

  addPartitions(name: string, partitions: number): Promise<TopicInfo> {
    return this.#topics.grow(name, partitions);
  }

  async deleteTopic(name: string): Promise<void> {
    await this.#topics.delete(name);
    this.#router.forget(name);
  }

  listTopics(): Promise<TopicInfo[]> {
    return this.#topics.list();
  }

  describeTopic(name: string): Promise<TopicInfo> {
    return this.#topics.describe(name);
  }

  /** Each record's partition, from the topics' partition counts. */
  async #route(
    records: ProduceRecord[],
  ): Promise<{ routed: RoutedRecord[]; names: string[]; counts: Map<string, number> }> {
    const names = [...new Set(records.map((r) => r.topic))];
    const counts = new Map<string, number>();
    for (const name of names) counts.set(name, (await this.#topics.layout(name)).partitions);
    // A partition past the cached count: the topic may have gained partitions; look again.
    for (const r of records) {
      if (r.partition !== undefined && r.partition >= counts.get(r.topic)!)
        counts.set(r.topic, (await this.#topics.layout(r.topic, true)).partitions);
    }
    return { routed: this.#router.route(records, counts, this.#clock.now()), names, counts };
  }

  async produce(records: ProduceRecord[]): Promise<ProduceResult[]> {
    if (records.length === 0) return [];
    const { routed, names, counts } = await this.#route(records);
    try {
      await this.#producerKnows(names, counts);
      return await this.#queue.enqueue(routed);
    } catch (err) {
      const e = translateError(err, {
        ...this.#ctx('produce'),
        topic: names.length === 1 ? names[0] : undefined,
      });
      if (e.code === 'LOG_TOPIC_NOT_FOUND') this.#topics.forget();
      throw e;
    }
  }

  /**
   * The producer keeps metadata of its own and sends a record for partition p to
   * p % (the partition count it knows): after partitions were added to a topic, a record
   * for a new partition went silently to an old one (a DLQ record of source partition 5
   * into DLQ partition 1). So its metadata is refreshed whenever it knows fewer
   * partitions than the layout the records were routed with.
   */
  async #producerKnows(names: string[], counts: ReadonlyMap<string, number>): Promise<void> {
    const producer = this.#producer;
    const stale = (md: Awaited<ReturnType<Producer['metadata']>>) =>
      names.some((n) => (md.topics.get(n)?.partitionsCount ?? 0) < counts.get(n)!);
    if (!stale(await producer.metadata({ topics: names }))) return;
    if (stale(await producer.metadata({ topics: names, forceUpdate: true }))) {
      throw new TributaryError(
        'LOG_BROKER',
        `the producer's view of ${names.join(', ')} has fewer partitions than the topic's; try again`,
        { topics: names },
      );
    }
  }

  /**
   * The client retries a produce request as a whole when some of its partitions fail
   * (e.g. NOT_LEADER_OR_FOLLOWER right after a topic is created), which would write the
   * partitions that succeeded twice. The idempotent producer (KIP-98: producer id +
   * per-partition sequence numbers) makes the broker drop those repeats. After a request
   * that failed for good, its sequence numbers are unknown to us, so a fresh producer
   * (a new producer id) takes over.
   */
  async #send(chunk: RoutedRecord[]): Promise<Map<string, number>> {
    const producer = this.#producer;
    let result: Awaited<ReturnType<Producer['send']>>;
    try {
      result = await producer.send({
        acks: ProduceAcks.ALL,
        messages: chunk.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          key: r.key,
          value: r.value,
          headers: r.headers,
          timestamp: r.timestamp,
        })),
      });
    } catch (err) {
      if (this.#producer === producer && this.#closed === undefined) {
        this.#producer = this.#newProducer();
        void producer.close().catch(() => {});
      }
      throw err;
    }
    const bases = new Map<string, number>();
    for (const o of result.offsets ?? []) bases.set(partitionKey(o.topic, o.partition), Number(o.offset));
    return bases;
  }

  async #partitionLayout(topic: string, partition: number, fresh = false): Promise<TopicLayout> {
    const layout = await this.#topics.layout(topic, fresh);
    checkPartition(topic, partition, layout.partitions, this.#brokers);
    return layout;
  }

  async fetch(
    topic: string,
    partition: number,
    offset: number,
    options: FetchOptions = {},
  ): Promise<FetchResult> {
    const { raw, bounds } = await this.#fetchRaw(topic, partition, offset, options);
    const { records, nextOffset } = collectRecords(raw.batches, bounds, raw.aborted);
    return { topic, partition, records, nextOffset, highWatermark: raw.highWatermark };
  }

  async fetchValues(
    topic: string,
    partition: number,
    offset: number,
    options: FetchOptions = {},
  ): Promise<ValueBatch> {
    const { raw, bounds } = await this.#fetchRaw(topic, partition, offset, options);
    const collected = collectValues(raw.batches, bounds, raw.aborted);
    return { topic, partition, ...collected, highWatermark: raw.highWatermark };
  }

  async #fetchRaw(
    topic: string,
    partition: number,
    offset: number,
    options: FetchOptions,
  ): Promise<{ raw: RawFetch; bounds: Bounds }> {
    const bounds: Bounds = {
      offset,
      maxRecords: Math.max(1, options.maxRecords ?? DEFAULT_MAX_RECORDS),
      maxBytes: Math.max(1, options.maxBytes ?? DEFAULT_MAX_BYTES),
    };
    const wait = Math.max(0, options.maxWaitMs ?? 0);
    const ctx = { ...this.#ctx('fetch'), topic, partition, offset };
    // Enough wire bytes for maxRecords records of the size seen so far, never more
    // than maxBytes of values could need (the broker sends at least one batch anyway).
    const want = Math.min(bounds.maxBytes * 1.1, bounds.maxRecords * this.#wireBytesPerRecord * 1.25);
    const brokerBytes = Math.round(Math.min(Math.max(want + 16 * 1024, 64 * 1024), 32 * MIB));
    const raw = await this.#withFreshMetadata(ctx, async (fresh) => {
      const layout = await this.#partitionLayout(topic, partition, fresh);
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw new TributaryError(
          'LOG_OFFSET_OUT_OF_RANGE',
          `offset ${offset} of topic '${topic}' partition ${partition} is not a valid offset (offsets are integers from 0); read the partition's earliest and latest offsets and fetch between them`,
          { topic, partition, offset },
        );
      }
      return this.#fetcher.fetch(layout, partition, offset, wait, brokerBytes);
    });
    this.#learnRecordSize(raw);
    return { raw, bounds };
  }

  #learnRecordSize(raw: RawFetch): void {
    let bytes = 0;
    let count = 0;
    for (const b of raw.batches ?? []) {
      bytes += b.length;
      count += b.records.length;
    }
    if (count > 0)
      this.#wireBytesPerRecord = 0.7 * this.#wireBytesPerRecord + 0.3 * Math.max(16, bytes / count);
  }

  /**
   * Runs `op` on cached metadata; if the broker says that metadata is stale (topic
   * deleted and created again, leader moved), once more on fresh metadata.
   */
  async #withFreshMetadata<T>(ctx: KafkaErrorContext, op: (fresh: boolean) => Promise<T>): Promise<T> {
    try {
      return await op(false);
    } catch (err) {
      if (err instanceof TributaryError) throw err;
      const stale = err as ClientError;
      const retry = stale.findBy?.('hasStaleMetadata', true) || stale.findBy?.('apiId', 'UNKNOWN_TOPIC_ID');
      if (!retry) throw translateError(err, ctx);
      this.#topics.forget();
      try {
        return await op(true);
      } catch (again) {
        throw translateError(again, ctx);
      }
    }
  }

  async offsets(topic: string, partition: number): Promise<PartitionOffsets> {
    const ctx = { ...this.#ctx('list offsets'), topic, partition };
    return this.#withFreshMetadata(ctx, async (fresh) => {
      await this.#partitionLayout(topic, partition, fresh);
      const at = async (timestamp: bigint): Promise<number> => {
        // read_committed: LATEST is the last stable offset, where fetches end.
        const listed = await this.#admin.listOffsets({
          topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp }] }],
          isolationLevel: FetchIsolationLevels.READ_COMMITTED,
        });
        const p = listed
          .find((t) => t.name === topic)
          ?.partitions.find((x) => x.partitionIndex === partition);
        if (p === undefined) throw new Error(`the broker listed no offset for ${topic}/${partition}`);
        return Number(p.offset);
      };
      // -2 and -1 are Kafka's EARLIEST and LATEST timestamps (ListOffsets request).
      const [earliest, latest] = await Promise.all([at(-2n), at(-1n)]);
      return { earliest, latest };
    });
  }

  commitOffsets(
    group: string,
    offsets: { topic: string; partition: number; offset: number }[],
  ): Promise<void> {
    return this.#groups.commit(group, offsets);
  }

  committedOffsets(group: string, topic: string): Promise<Map<number, number>> {
    return this.#groups.committed(group, topic);
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#fetcher.close();
      await Promise.allSettled([
        this.#producer.close(),
        this.#consumer.close(true),
        this.#admin.close(),
        this.#txnPool?.close(),
      ]);
    })();
    return this.#closed;
  }

  #ctx(operation: string): KafkaErrorContext {
    return { brokers: this.#brokers, operation };
  }
}
