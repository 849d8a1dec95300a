/**
 * Batching for the Kafka producer. Records of every `produce` call join one queue; one
 * request is in flight at a time, and the next request takes everything that queued up
 * meanwhile (up to the size limits). So many small concurrent calls travel as a few
 * large record batches without a linger timer, and records of a partition reach the
 * broker in call order, which one-at-a-time also keeps true across client retries.
 *
 * A produce request carries one record batch per partition, and the broker answers with
 * that batch's base offset (Kafka protocol, Produce response `base_offset`); the i-th
 * record of a partition in the request gets base offset + i.
 */
import type { ProduceResult } from '../log.ts';

/** A record whose partition is already chosen, in the client's byte types. */
export interface RoutedRecord {
  topic: string;
  partition: number;
  key: Buffer | undefined;
  value: Buffer | undefined;
  headers: Map<Buffer, Buffer> | undefined;
  timestamp: bigint;
  /** Approximate bytes on the wire before compression, for the request size limits. */
  size: number;
}

/** Sends one request; resolves to the base offset of each `topic\0partition` written. */
export type SendRequest = (records: RoutedRecord[]) => Promise<Map<string, number>>;

export interface QueueLimits {
  /**
   * Uncompressed bytes per partition in one request. Kafka refuses a batch larger than
   * the topic's `max.message.bytes` (1 MiB by default) after compression, so staying
   * under it before compression is safe whatever the codec achieves.
   */
  maxPartitionBytes: number;
  /** Uncompressed bytes per request, over all partitions. */
  maxRequestBytes: number;
}

interface Entry {
  records: RoutedRecord[];
  results: ProduceResult[];
  sent: number;
  acknowledged: number;
  resolve: (results: ProduceResult[]) => void;
  reject: (err: unknown) => void;
}

export const partitionKey = (topic: string, partition: number): string => `${topic}\0${partition}`;

export class ProduceQueue {
  readonly #send: SendRequest;
  readonly #limits: QueueLimits;
  readonly #pending: Entry[] = [];
  #running = false;

  constructor(send: SendRequest, limits: QueueLimits) {
    this.#send = send;
    this.#limits = limits;
  }

  enqueue(records: RoutedRecord[]): Promise<ProduceResult[]> {
    if (records.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#pending.push({
        records,
        results: new Array(records.length),
        sent: 0,
        acknowledged: 0,
        resolve,
        reject,
      });
      if (!this.#running) void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    this.#running = true;
    try {
      while (this.#pending.length > 0) await this.#sendOne();
    } finally {
      this.#running = false;
    }
  }

  /** Takes records from the head of the queue until a limit would be passed (always at least one). */
  #take(): { chunk: RoutedRecord[]; owners: [Entry, number][] } {
    const chunk: RoutedRecord[] = [];
    const owners: [Entry, number][] = [];
    const perPartition = new Map<string, number>();
    let total = 0;
    for (const entry of this.#pending) {
      while (entry.sent < entry.records.length) {
        const r = entry.records[entry.sent];
        const key = partitionKey(r.topic, r.partition);
        const inPartition = perPartition.get(key) ?? 0;
        const full =
          inPartition + r.size > this.#limits.maxPartitionBytes ||
          total + r.size > this.#limits.maxRequestBytes;
        if (full && chunk.length > 0) return { chunk, owners };
        chunk.push(r);
        owners.push([entry, entry.sent]);
        perPartition.set(key, inPartition + r.size);
        total += r.size;
        entry.sent++;
      }
    }
    return { chunk, owners };
  }

  async #sendOne(): Promise<void> {
    const { chunk, owners } = this.#take();
    const touched = new Set(owners.map(([entry]) => entry));
    try {
      const bases = await this.#send(chunk);
      const next = new Map<string, number>();
      chunk.forEach((r, i) => {
        const key = partitionKey(r.topic, r.partition);
        const base = bases.get(key);
        if (base === undefined)
          throw new Error(`the broker returned no offset for ${r.topic}/${r.partition}`);
        const k = next.get(key) ?? 0;
        next.set(key, k + 1);
        const [entry, index] = owners[i];
        entry.results[index] = { topic: r.topic, partition: r.partition, offset: base + k };
        entry.acknowledged++;
      });
      for (const entry of touched) {
        if (entry.acknowledged === entry.records.length) this.#finish(entry, null);
      }
    } catch (err) {
      // Every call with records in the failed request fails as a whole (some of its
      // records may be written: the log is at-least-once here; exactly-once is the
      // table's job, by offsets). Calls queued behind it are unaffected.
      for (const entry of touched) this.#finish(entry, err);
    }
  }

  #finish(entry: Entry, err: unknown): void {
    const i = this.#pending.indexOf(entry);
    if (i >= 0) this.#pending.splice(i, 1);
    if (err === null) entry.resolve(entry.results);
    else entry.reject(err);
  }
}
