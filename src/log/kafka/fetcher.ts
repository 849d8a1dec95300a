/**
 * Fetch from an explicit offset of one partition, with long polling.
 *
 * A Kafka broker answers the requests of one connection strictly in order, so a fetch
 * parked in the broker's purgatory for `maxWaitMs` would hold up every request queued
 * behind it on that connection (including the produce that would wake it). Each fetch
 * therefore borrows a connection pool of its own from a small free list; admin and
 * produce traffic use their clients' pools.
 *
 * A long wait is split into slices well under the client's request timeout; the fetch
 * returns as soon as one slice brings records (the broker answers when `minBytes` = 1
 * byte is available).
 *
 * Isolation is read_committed for every topic (a DLQ is written in transactions, and a
 * source topic may be): the broker sends nothing past the partition's last stable offset
 * (LSO, the first offset of a transaction still open), and lists the aborted transactions
 * the response overlaps, whose records records.ts drops. For a topic without
 * transactions the LSO is the high watermark and the list is empty: nothing changes.
 *
 * The request is sent as the client's `Consumer.fetch` sends it (negotiated Fetch
 * version, its metadata, its retries) but without that method, which at read_committed
 * also filters aborted records itself: it keys aborted ranges by producer id only (a
 * producer's second aborted transaction in one response hides its first), and throws from
 * inside its callback (out of reach of any catch) on an abort marker of a producer that
 * has no listed range, which a transaction aborted before any of its records reached the
 * partition leaves behind.
 */
import {
  type API,
  type ClusterMetadata,
  type Connection,
  ConnectionPool,
  type Consumer,
  FetchIsolationLevels,
  type fetchV17,
  kGetApi,
  kMetadata,
  kPerformWithRetry,
  type RecordsBatch,
} from '@platformatic/kafka';
import type { Clock } from '../../core/clock.ts';
import type { AbortedTxn } from './records.ts';
import type { TopicLayout } from './topics.ts';

type FetchRequestTopic = fetchV17.FetchRequestTopic;
type FetchResponse = fetchV17.FetchResponse;

/** Longest single broker wait; the client's per-request timeout (requestTimeout) is 30 s. */
const MAX_WAIT_SLICE_MS = 20_000;
/** Idle pools kept for reuse; more concurrent fetches open (and later close) extra ones. */
const MAX_IDLE_POOLS = 4;

export interface RawFetch {
  batches: RecordsBatch[] | undefined;
  /** Where readers' records end: the last stable offset. */
  highWatermark: number;
  aborted: AbortedTxn[];
}

export class KafkaFetcher {
  readonly #consumer: Consumer;
  readonly #clientId: string;
  readonly #clock: Clock;
  readonly #idle: ConnectionPool[] = [];
  readonly #open = new Set<ConnectionPool>();
  #closed = false;

  constructor(consumer: Consumer, clientId: string, clock: Clock) {
    this.#consumer = consumer;
    this.#clientId = clientId;
    this.#clock = clock;
  }

  /**
   * Record batches of `partition` from `offset`, asking the broker for up to
   * `brokerBytes` (it always sends at least one whole batch). Waits up to `waitMs` for
   * data when there is none yet.
   */
  async fetch(
    layout: TopicLayout,
    partition: number,
    offset: number,
    waitMs: number,
    brokerBytes: number,
  ): Promise<RawFetch> {
    const deadline = this.#clock.now() + waitMs;
    const pool = this.#borrow();
    try {
      for (;;) {
        const slice = Math.max(0, Math.min(deadline - this.#clock.now(), MAX_WAIT_SLICE_MS));
        const response = await this.#request(pool, layout.leaders[partition], slice, brokerBytes, [
          {
            topicId: layout.id,
            partitions: [
              {
                partition,
                // -1: no leader-epoch fencing; we address offsets directly, not a
                // consumer position that could have been truncated (KIP-320).
                currentLeaderEpoch: -1,
                fetchOffset: BigInt(offset),
                lastFetchedEpoch: -1,
                partitionMaxBytes: brokerBytes,
              },
            ],
          },
        ]);
        const p = response.responses[0]?.partitions[0];
        // Fetch v4+ always has the LSO; -1 would mean unknown (never for a leader's answer).
        const lso = Number(p?.lastStableOffset ?? -1);
        const result: RawFetch = {
          batches: p?.records,
          highWatermark: lso >= 0 ? lso : Number(p?.highWatermark ?? 0),
          aborted: p?.abortedTransactions ?? [],
        };
        if ((result.batches?.length ?? 0) > 0 || this.#clock.now() >= deadline || this.#closed) return result;
      }
    } finally {
      this.#giveBack(pool);
    }
  }

  /** One Fetch request to `node` on `pool`, retried by the client's policy. */
  #request(
    pool: ConnectionPool,
    node: number,
    waitMs: number,
    maxBytes: number,
    topics: FetchRequestTopic[],
  ): Promise<FetchResponse> {
    const c = this.#consumer;
    type FetchApi = API<
      [number, number, number, number, number, number, FetchRequestTopic[], [], string],
      FetchResponse
    >;
    return new Promise((resolve, reject) => {
      c[kPerformWithRetry]<FetchResponse>(
        'fetch',
        (retry) => {
          c[kMetadata]({ topics: [] }, (error: Error | null, md?: ClusterMetadata) => {
            if (error) return retry(error);
            const broker = md!.brokers.get(node);
            if (!broker) return retry(new Error(`broker ${node} is not in the cluster metadata`));
            pool.get(broker, (error: Error | null, conn?: Connection) => {
              if (error) return retry(error);
              c[kGetApi]('Fetch', (error: Error | null, api?: FetchApi) => {
                if (error) return retry(error);
                // Session id and epoch 0: a full fetch, no incremental session (KIP-227).
                api!(
                  conn!,
                  waitMs,
                  1,
                  maxBytes,
                  FetchIsolationLevels.READ_COMMITTED,
                  0,
                  0,
                  topics,
                  [],
                  '',
                  retry,
                );
              });
            });
          });
        },
        (error: Error | null, response?: FetchResponse) => (error ? reject(error) : resolve(response!)),
        0,
      );
    });
  }

  #borrow(): ConnectionPool {
    const pool = this.#idle.pop();
    if (pool) return pool;
    const fresh = new ConnectionPool(this.#clientId, { connectTimeout: 10_000, requestTimeout: 30_000 });
    this.#open.add(fresh);
    return fresh;
  }

  #giveBack(pool: ConnectionPool): void {
    if (!this.#closed && this.#idle.length < MAX_IDLE_POOLS) {
      this.#idle.push(pool);
      return;
    }
    this.#open.delete(pool);
    void pool.close().catch(() => {});
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#open];
    this.#open.clear();
    this.#idle.length = 0;
    await Promise.allSettled(pools.map((p) => p.close()));
  }
}
