/**
 * Chooses the partition of each produced record and converts it to the client's byte
 * types. Partitions are always chosen here, never by the client, whose default
 * partitioner is not Kafka's (it uses `murmur2 >>> 0`).
 */
import { TributaryError } from '../../core/errors.ts';
import type { ProduceRecord } from '../log.ts';
import { partitionForKey } from '../partitioner.ts';
import type { RoutedRecord } from './produce-queue.ts';

/** Per-record framing on the wire (length, attributes, deltas, varint sizes). */
const RECORD_OVERHEAD = 24;

const toBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export function checkPartition(topic: string, partition: number, count: number, brokers: string): number {
  if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
    throw new TributaryError(
      'LOG_PARTITION_NOT_FOUND',
      `topic '${topic}' on Kafka ${brokers} has partitions 0..${count - 1}; partition ${partition} does not exist`,
      { topic, partition, partitions: count, brokers },
    );
  }
  return partition;
}

export class Router {
  readonly #brokers: string;
  /** Next partition for records with neither key nor partition, per topic. */
  readonly #roundRobin = new Map<string, number>();

  constructor(brokers: string) {
    this.#brokers = brokers;
  }

  forget(topic: string): void {
    this.#roundRobin.delete(topic);
  }

  /**
   * An explicit partition is checked against the topic; a key goes to Kafka's murmur2
   * partition; records with neither share one partition per call (one batch, like
   * Kafka's sticky partitioner), and successive calls rotate over the partitions.
   */
  route(records: ProduceRecord[], partitionCounts: Map<string, number>, now: number): RoutedRecord[] {
    const sticky = new Map<string, number>();
    return records.map((r): RoutedRecord => {
      const count = partitionCounts.get(r.topic)!;
      let partition: number;
      if (r.partition !== undefined) {
        partition = checkPartition(r.topic, r.partition, count, this.#brokers);
      } else if (r.key != null) {
        partition = partitionForKey(r.key, count);
      } else {
        partition = sticky.get(r.topic) ?? this.#nextRoundRobin(r.topic, count);
        sticky.set(r.topic, partition);
      }
      let headers: Map<Buffer, Buffer> | undefined;
      let size = RECORD_OVERHEAD + (r.key?.length ?? 0) + (r.value?.length ?? 0);
      if (r.headers !== undefined) {
        headers = new Map();
        for (const [k, v] of Object.entries(r.headers)) {
          const kb = Buffer.from(k, 'utf8');
          headers.set(kb, toBuffer(v));
          size += kb.length + v.length + 2;
        }
      }
      return {
        topic: r.topic,
        partition,
        key: r.key == null ? undefined : toBuffer(r.key),
        value: r.value == null ? undefined : toBuffer(r.value),
        headers,
        timestamp: BigInt(r.timestamp ?? now),
        size,
      };
    });
  }

  #nextRoundRobin(topic: string, count: number): number {
    const next = this.#roundRobin.get(topic) ?? 0;
    this.#roundRobin.set(topic, (next + 1) % count);
    return next % count;
  }
}
