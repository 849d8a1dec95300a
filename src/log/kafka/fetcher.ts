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
 */
import { ConnectionPool, type Consumer, FetchIsolationLevels, type RecordsBatch } from '@platformatic/kafka';
import type { Clock } from '../../core/clock.ts';
import type { TopicLayout } from './topics.ts';

/** Longest single broker wait; the client's per-request timeout (requestTimeout) is 30 s. */
const MAX_WAIT_SLICE_MS = 20_000;
/** Idle pools kept for reuse; more concurrent fetches open (and later close) extra ones. */
const MAX_IDLE_POOLS = 4;

export interface RawFetch {
  batches: RecordsBatch[] | undefined;
  highWatermark: number;
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
        const response = await this.#consumer.fetch({
          node: layout.leaders[partition],
          maxWaitTime: slice,
          minBytes: 1,
          maxBytes: brokerBytes,
          isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED,
          connectionPool: pool,
          topics: [
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
          ],
        });
        const p = response.responses[0]?.partitions[0];
        const result: RawFetch = { batches: p?.records, highWatermark: Number(p?.highWatermark ?? 0) };
        if ((result.batches?.length ?? 0) > 0 || this.#clock.now() >= deadline || this.#closed) return result;
      }
    } finally {
      this.#giveBack(pool);
    }
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
