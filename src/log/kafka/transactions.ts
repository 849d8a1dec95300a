/**
 * Fenced writers (src/log/log.ts, FencedWriter) on Kafka transactions (KIP-98), spoken on
 * the client's protocol layer as membership.ts does for groups.
 *
 * A writer's id is a `transactional.id`. `claim()` is InitProducerId without a producer
 * id (-1, -1): the coordinator bumps the id's epoch, aborts the previous holder's open
 * transaction and answers only once that abort is settled (CONCURRENT_TRANSACTIONS
 * meanwhile, retried here); from then on the previous holder's AddPartitionsToTxn and
 * EndTxn fail with PRODUCER_FENCED and its Produce with INVALID_PRODUCER_EPOCH. A write is
 * one transaction: AddPartitionsToTxn, Produce (transactional batches with the producer
 * id, epoch and per-partition sequence numbers), EndTxn(commit). Readers at read_committed
 * see its records once the commit markers are written (fetcher.ts).
 *
 * After a failed write nothing says whether its transaction is open, committed or
 * aborted, nor which sequence number the broker expects next. `settle()` then aborts
 * with the writer's own epoch (INVALID_TXN_STATE: nothing was open) and calls
 * InitProducerId with its own producer id and epoch (KIP-360), which bumps the epoch and
 * resets the sequences, or answers PRODUCER_FENCED when another writer claimed the id.
 *
 * Why not the client's Producer, which has transactions (beginTransaction, send, commit):
 * it initialises with producer id 0 and epoch 0 unless told, which the coordinator reads
 * as "I am producer 0" and answers PRODUCER_FENCED to a second process claiming an id
 * whose producer id is not 0; it cannot
 * settle as above; it adds partitions with AddPartitionsToTxn v4+, which the protocol
 * reserves for brokers (KIP-890: versions 3 and below are the clients'); and it is
 * one client (connections, metadata) per transactional id, where a worker needs one per
 * source partition. Here one connection pool serves every writer of a log.
 *
 * Protocol versions, all answered by every Kafka since 3.0 and none of KIP-890's
 * "transactions v2" (whose epoch changes with every transaction): FindCoordinator v4
 * (key type 1: transaction), InitProducerId v4, AddPartitionsToTxn v3, Produce v9, EndTxn v3.
 */
import {
  addPartitionsToTxnV3,
  type Broker,
  type ClusterMetadata,
  type CompressionAlgorithmValue,
  type Connection,
  type ConnectionPool,
  endTxnV3,
  findCoordinatorV4,
  initProducerIdV4,
  type NumericMap,
  produceV9,
} from '@platformatic/kafka';
import type { Clock } from '../../core/clock.ts';
import { TributaryError } from '../../core/errors.ts';
import type { FencedWriter, ProduceRecord, ProduceResult } from '../log.ts';
import { translateError } from './errors.ts';
import { partitionKey, type RoutedRecord } from './produce-queue.ts';

export interface TxnContext {
  /** `host:port,...`, for messages. */
  brokers: string;
  pool: ConnectionPool;
  clock: Clock;
  compression: CompressionAlgorithmValue;
  /** Chooses each record's partition (as `produce` does). */
  route(records: ProduceRecord[]): Promise<RoutedRecord[]>;
  /** Cluster metadata for `topics` (`fresh`: not from the cache). */
  cluster(topics: string[], fresh: boolean): Promise<ClusterMetadata>;
  /** The last stable offset of each `topic\0partition` key asked (ListOffsets at read_committed). */
  stableOffsets(parts: { topic: string; partition: number }[]): Promise<Map<string, number>>;
  /** How long the coordinator lets a transaction stay open before aborting it. */
  transactionTimeoutMs: number;
  /** Longest time to keep retrying a coordinator that is busy (loading, settling an abort). */
  retryForMs: number;
  /** Uncompressed bytes per partition in one Produce request (under `max.message.bytes`). */
  maxPartitionBytes: number;
  sleep?: (ms: number) => Promise<void>;
}

type State = FencedWriter['state'];

/** Broker errors that mean another writer claimed the id (Kafka protocol error codes). */
const FENCED = ['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING'];
/** The coordinator is busy: the same request again shortly. */
const BUSY = ['CONCURRENT_TRANSACTIONS', 'COORDINATOR_LOAD_IN_PROGRESS'];
/** The coordinator moved or is not up yet: look it up again. */
const MOVED = ['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE'];
const TRANSACTION_KEY = 1;

interface ClientError extends Error {
  findBy?: (property: string, value: unknown) => { apiId?: string } | null;
}

function kafkaError(err: unknown, ids: readonly string[]): string | undefined {
  const e = err as ClientError;
  if (typeof e?.findBy !== 'function') return undefined;
  return ids.find((id) => e.findBy!('apiId', id));
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class KafkaFencedWriter implements FencedWriter {
  readonly id: string;
  readonly #ctx: TxnContext;
  #state: State = 'unclaimed';
  #producerId = -1n;
  #epoch = -1;
  /** Next sequence number per `topic:partition` (the client's key), for this producer id and epoch. */
  readonly #sequences = new Map<string, number>();
  #coordinator: Broker | undefined;
  #freshMetadata = false;
  #closed = false;

  constructor(id: string, ctx: TxnContext) {
    this.id = id;
    this.#ctx = ctx;
  }

  get state(): State {
    return this.#state;
  }

  /** The producer id and epoch held (for tests and diagnostics). */
  get producer(): { id: bigint; epoch: number } {
    return { id: this.#producerId, epoch: this.#epoch };
  }

  async claim(): Promise<void> {
    this.#checkOpen();
    const res = await this.#coordinated('claim', (conn) =>
      initProducerIdV4.api.async(conn, this.id, this.#ctx.transactionTimeoutMs, -1n, -1),
    );
    this.#took(res!.producerId, res!.producerEpoch);
  }

  async settle(): Promise<void> {
    this.#checkOpen();
    if (this.#state === 'ready') return;
    if (this.#state === 'fenced') throw this.#fenced('settle', 'an earlier call');
    if (this.#state === 'unclaimed') {
      throw new TributaryError('INTERNAL', `fenced writer '${this.id}': settle() before claim()`);
    }
    // INVALID_TXN_STATE: nothing open (never begun, or committed), nothing to abort.
    await this.#coordinated(
      'abort',
      (conn) => endTxnV3.api.async(conn, this.id, this.#producerId, this.#epoch, false),
      ['INVALID_TXN_STATE'],
    );
    const res = await this.#coordinated('settle', (conn) =>
      initProducerIdV4.api.async(
        conn,
        this.id,
        this.#ctx.transactionTimeoutMs,
        this.#producerId,
        this.#epoch,
      ),
    );
    this.#took(res!.producerId, res!.producerEpoch);
  }

  /**
   * Resolves once readers see the records: the coordinator answers a commit before the
   * commit markers are in the partitions, and until then a read_committed reader stops
   * short of them. A writer that reads its partition's end again after a failure (the DLQ
   * sink, after a failed table commit) must find them there.
   */
  async write(records: ProduceRecord[]): Promise<ProduceResult[]> {
    if (records.length === 0) return [];
    const results = await this.send(records);
    await this.commit();
    // Not visible in time: unsettled, so the next write settles first and reads the end again.
    await this.#failing(() => this.#visible(results));
    return results;
  }

  /**
   * The first half of `write`: adds the records' partitions to the transaction and
   * produces them, leaving the transaction open until `commit()` (for tests that hold a
   * transaction open, as a writer frozen between the two would).
   */
  async send(records: ProduceRecord[]): Promise<ProduceResult[]> {
    this.#checkReady('write');
    return this.#failing(async () => {
      const routed = await this.#ctx.route(records);
      const parts = new Map<string, { topic: string; partition: number }>();
      for (const r of routed) parts.set(partitionKey(r.topic, r.partition), r);
      await this.#addPartitions([...parts.values()]);
      return this.#produce(routed);
    });
  }

  /** Commits the transaction `send` opened. */
  async commit(): Promise<void> {
    this.#checkReady('commit');
    await this.#failing(() =>
      this.#coordinated('commit', (conn) =>
        endTxnV3.api.async(conn, this.id, this.#producerId, this.#epoch, true),
      ),
    );
  }

  /** Waits until each partition's last stable offset is past the records written. */
  async #visible(results: ProduceResult[]): Promise<void> {
    const last = new Map<string, { topic: string; partition: number; offset: number }>();
    for (const r of results) {
      const key = partitionKey(r.topic, r.partition);
      if ((last.get(key)?.offset ?? -1) < r.offset) last.set(key, r);
    }
    const deadline = this.#ctx.clock.now() + this.#ctx.retryForMs;
    const sleep = this.#ctx.sleep ?? realSleep;
    for (let pause = 2; ; pause = Math.min(pause * 2, 100)) {
      const stable = await this.#ctx.stableOffsets([...last.values()]);
      if ([...last].every(([key, r]) => (stable.get(key) ?? -1) > r.offset)) return;
      if (this.#ctx.clock.now() + pause > deadline) {
        throw new TributaryError(
          'LOG_BROKER',
          `transactional write '${this.id}' on Kafka ${this.#ctx.brokers} committed, but its records were not readable within ${this.#ctx.retryForMs} ms (the commit markers are not written yet); retry`,
          { transactionalId: this.id },
        );
      }
      await sleep(pause);
    }
  }

  #checkReady(operation: string): void {
    this.#checkOpen();
    if (this.#state === 'ready') return;
    if (this.#state === 'fenced') throw this.#fenced(operation, 'an earlier call');
    throw new TributaryError(
      'INTERNAL',
      `fenced writer '${this.id}': ${operation} while ${this.#state} (claim() or settle() first)`,
    );
  }

  /** Runs `op`; a failure other than fencing leaves the writer unsettled. */
  async #failing<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (this.#state === 'ready') this.#state = 'unsettled';
      throw err;
    }
  }

  /** Forgets the writer; an open transaction is left to its timeout or the next holder's claim. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #checkOpen(): void {
    if (this.#closed) throw new TributaryError('INTERNAL', `fenced writer '${this.id}' is closed`);
  }

  #took(producerId: bigint, epoch: number): void {
    this.#producerId = producerId;
    this.#epoch = epoch;
    this.#sequences.clear();
    this.#state = 'ready';
  }

  async #addPartitions(parts: { topic: string; partition: number }[]): Promise<void> {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of parts) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    await this.#coordinated('add partitions', (conn) =>
      addPartitionsToTxnV3.api.async(conn, [
        {
          transactionalId: this.id,
          producerId: this.#producerId,
          producerEpoch: this.#epoch,
          verifyOnly: false,
          topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
        },
      ]),
    );
  }

  /**
   * Produces the records in requests of at most `maxPartitionBytes` per partition, one
   * request at a time per leader; sequence numbers advance only with acknowledged batches.
   */
  async #produce(routed: RoutedRecord[]): Promise<ProduceResult[]> {
    const results: ProduceResult[] = new Array(routed.length);
    const topics = [...new Set(routed.map((r) => r.topic))];
    const md = await this.#ctx.cluster(topics, this.#freshMetadata);
    this.#freshMetadata = false;
    let next = 0;
    const order = routed.map((_, i) => i);
    while (next < order.length) {
      // One request: records in input order until a partition's chunk is full.
      const sizes = new Map<string, number>();
      const chunk: number[] = [];
      for (; next < order.length; next++) {
        const r = routed[order[next]];
        const key = partitionKey(r.topic, r.partition);
        const size = (sizes.get(key) ?? 0) + r.size;
        if (size > this.#ctx.maxPartitionBytes && sizes.has(key)) break;
        sizes.set(key, size);
        chunk.push(order[next]);
      }
      const byLeader = new Map<number, number[]>();
      for (const i of chunk) {
        const r = routed[i];
        const leader = md.topics.get(r.topic)?.partitions[r.partition]?.leader ?? -1;
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), i]);
      }
      await Promise.all(
        [...byLeader].map(([leader, idx]) => this.#produceTo(md, leader, routed, idx, results)),
      );
    }
    return results;
  }

  async #produceTo(
    md: ClusterMetadata,
    leader: number,
    routed: RoutedRecord[],
    idx: number[],
    results: ProduceResult[],
  ): Promise<void> {
    const broker = md.brokers.get(leader);
    if (!broker) {
      this.#freshMetadata = true;
      throw new TributaryError(
        'LOG_BROKER',
        `transactional write '${this.id}' on Kafka ${this.#ctx.brokers}: no leader known for ${[...new Set(idx.map((i) => `${routed[i].topic}/${routed[i].partition}`))].join(', ')}; retry`,
      );
    }
    const counts = new Map<string, number>();
    for (const i of idx) {
      const key = `${routed[i].topic}:${routed[i].partition}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    // The client reads a batch's first sequence number with `sequences.getWithDefault`.
    const sequences = {
      getWithDefault: (key: string, fallback: number) => this.#sequences.get(key) ?? fallback,
    } as unknown as NumericMap;
    let res: Awaited<ReturnType<typeof produceV9.api.async>>;
    try {
      const conn = await this.#ctx.pool.get(broker);
      res = await produceV9.api.async(
        conn,
        -1,
        30_000,
        idx.map((i) => {
          const r = routed[i];
          return {
            topic: r.topic,
            partition: r.partition,
            ...(r.key !== undefined && { key: r.key }),
            value: r.value as Buffer,
            ...(r.headers !== undefined && { headers: r.headers }),
            timestamp: r.timestamp,
          };
        }),
        {
          transactionalId: this.id,
          producerId: this.#producerId,
          producerEpoch: this.#epoch,
          sequences,
          compression: this.#ctx.compression,
        },
      );
    } catch (err) {
      if (kafkaError(err, ['NOT_LEADER_OR_FOLLOWER', 'UNKNOWN_TOPIC_OR_PARTITION']))
        this.#freshMetadata = true;
      throw this.#translate(err, 'produce');
    }
    const bases = new Map<string, number>();
    if (typeof res !== 'boolean') {
      for (const t of res.responses) {
        for (const p of t.partitionResponses) bases.set(partitionKey(t.name, p.index), Number(p.baseOffset));
      }
    }
    const seen = new Map<string, number>();
    for (const i of idx) {
      const r = routed[i];
      const key = partitionKey(r.topic, r.partition);
      const base = bases.get(key);
      if (base === undefined) throw new Error(`the broker returned no offset for ${r.topic}/${r.partition}`);
      const k = seen.get(key) ?? 0;
      seen.set(key, k + 1);
      results[i] = { topic: r.topic, partition: r.partition, offset: base + k };
    }
    for (const [key, n] of counts) this.#sequences.set(key, (this.#sequences.get(key) ?? 0) + n);
  }

  /**
   * Runs `op` on the transaction coordinator: retried while the coordinator is busy
   * (settling an earlier transaction of the id, loading its state) or moved, for up to
   * `retryForMs`; a fencing answer makes the writer fenced.
   */
  async #coordinated<T>(
    operation: string,
    op: (conn: Connection) => Promise<T>,
    accept: readonly string[] = [],
  ): Promise<T | undefined> {
    const deadline = this.#ctx.clock.now() + this.#ctx.retryForMs;
    const sleep = this.#ctx.sleep ?? realSleep;
    let pause = 5;
    for (;;) {
      try {
        const conn = await this.#ctx.pool.get(await this.#findCoordinator());
        return await op(conn);
      } catch (err) {
        if (err instanceof TributaryError) throw err;
        if (kafkaError(err, accept)) return undefined;
        const fenced = kafkaError(err, FENCED);
        if (fenced) {
          this.#state = 'fenced';
          throw this.#fenced(operation, fenced, err);
        }
        const moved = kafkaError(err, MOVED);
        const again = moved ?? kafkaError(err, BUSY);
        if (moved) this.#coordinator = undefined;
        if (!again || this.#ctx.clock.now() + pause > deadline) {
          this.#coordinator = undefined;
          throw this.#translate(err, operation);
        }
        await sleep(pause);
        pause = Math.min(pause * 2, 200);
      }
    }
  }

  async #findCoordinator(): Promise<Broker> {
    if (this.#coordinator) return this.#coordinator;
    const md = await this.#ctx.cluster([], false);
    const bootstrap = [...md.brokers.values()];
    const conn = await this.#ctx.pool.getFirstAvailable(bootstrap);
    const res = await findCoordinatorV4.api.async(conn, TRANSACTION_KEY, [this.id]);
    const c = res.coordinators.find((x) => x.key === this.id);
    if (!c || c.nodeId < 0) throw new Error(`no transaction coordinator for '${this.id}'`);
    this.#coordinator = { host: c.host, port: c.port };
    return this.#coordinator;
  }

  #translate(err: unknown, operation: string): TributaryError {
    return translateError(err, {
      brokers: this.#ctx.brokers,
      operation: `transactional ${operation} of '${this.id}'`,
    });
  }

  #fenced(operation: string, why: string, cause?: unknown): TributaryError {
    return new TributaryError(
      'LOG_WRITER_FENCED',
      `transactional id '${this.id}' on Kafka ${this.#ctx.brokers} was claimed by another writer (${operation}: ${why}): this writer's open transaction is aborted and it writes nothing more until it claims the id again`,
      { transactionalId: this.id, brokers: this.#ctx.brokers, kafkaError: why },
      cause,
    );
  }
}
