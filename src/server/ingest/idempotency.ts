/**
 * Idempotency keys of ingest requests: a POST sent again with the same `Idempotency-Key`
 * (and the same body, to the same topic) gets the first request's answer and produces
 * nothing more — also after the server restarted, or crashed half-way.
 *
 * What is kept, and where: the keys topic of the same log (`_tributary_ingest_keys`, one
 * partition), as durable as the records themselves. Each key goes through two markers:
 *
 * 1. `pending`, with the topic's end offsets at that moment, appended before any record;
 * 2. the records, each with the headers `tributary-idempotency-key` (the key's digest)
 *    and `tributary-ingest-index` (its position in the request);
 * 3. `done`, with the answer, appended once the records are acknowledged.
 *
 * A retry finding `done` answers from it. A retry finding `pending` (the first attempt
 * failed or the server died between 1 and 3) reads the topic from the offsets the marker
 * holds, finds which of the request's records are already there by their headers, and
 * produces only the others: whatever the first attempt got into the log, each record is
 * in the topic once. Retries of a key in flight wait for it (in this process).
 *
 * Keys are scoped by the token's subject; they are remembered for `ttlMs` from their first
 * use (default 24 h) — a key sent again later is a new request. Keys are in memory too
 * (read from the topic on start): about 300 bytes each.
 *
 * Not covered: two server processes taking the same key at the same moment (each
 * checks its own memory); run one ingesting server per log, or give each client its
 * own server.
 */
import { createHash } from 'node:crypto';
import { type Clock, systemClock } from '../../core/clock.ts';
import { TributaryError } from '../../core/errors.ts';
import type { Log, ProduceRecord } from '../../log/log.ts';

export const KEYS_TOPIC = '_tributary_ingest_keys';
export const KEY_HEADER = 'tributary-idempotency-key';
export const INDEX_HEADER = 'tributary-ingest-index';
export const DEFAULT_KEY_TTL_MS = 24 * 3600_000;

export interface PartitionSummary {
  partition: number;
  records: number;
  firstOffset: number;
  lastOffset: number;
}

/** The answer to an ingest request. */
export interface IngestResult {
  topic: string;
  records: number;
  partitions: PartitionSummary[];
}

interface KeyMarker {
  /** The key's digest. */
  id: string;
  /** The request's digest (topic, form, body). */
  hash: string;
  topic: string;
  /** When the key was first used (ms). */
  at: number;
  state: 'pending' | 'done';
  /** pending: each partition's end offset before the records were produced. */
  starts?: number[];
  /** done: the answer. */
  result?: IngestResult;
}

export interface KeyedOutcome {
  result: IngestResult;
  /** The answer of an earlier request with this key (nothing produced now). */
  replayed: boolean;
}

/** Where each record went, by its position in the request. */
export function summarize(
  topic: string,
  placed: ReadonlyArray<{ partition: number; offset: number }>,
): IngestResult {
  const by = new Map<number, PartitionSummary>();
  for (const { partition, offset } of placed) {
    const s = by.get(partition);
    if (!s) by.set(partition, { partition, records: 1, firstOffset: offset, lastOffset: offset });
    else {
      s.records++;
      if (offset < s.firstOffset) s.firstOffset = offset;
      if (offset > s.lastOffset) s.lastOffset = offset;
    }
  }
  return {
    topic,
    records: placed.length,
    partitions: [...by.values()].sort((a, b) => a.partition - b.partition),
  };
}

const sha256 = (...parts: Array<string | Uint8Array>) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\n');
  return h.digest('hex');
};

/** A key's identity: the caller's subject and the key. */
export function keyId(subject: string, key: string): string {
  return sha256(subject, key).slice(0, 32);
}

/** A request's identity: what it asks to write. */
export function requestHash(topic: string, form: string, body: Uint8Array): string {
  return sha256(topic, form, body);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface IdempotencyOptions {
  log: Log;
  /** Default `_tributary_ingest_keys`. */
  topic?: string;
  ttlMs?: number;
  clock?: Clock;
}

export class IdempotencyKeys {
  private readonly log: Log;
  private readonly topic: string;
  private readonly ttlMs: number;
  private readonly clock: Clock;
  /** Live keys, oldest first. */
  private readonly keys = new Map<string, KeyMarker>();
  private readonly inflight = new Map<string, Promise<unknown>>();

  private constructor(opts: IdempotencyOptions) {
    this.log = opts.log;
    this.topic = opts.topic ?? KEYS_TOPIC;
    this.ttlMs = opts.ttlMs ?? DEFAULT_KEY_TTL_MS;
    this.clock = opts.clock ?? systemClock;
  }

  /** Creates the keys topic if needed and reads the keys still live. */
  static async open(opts: IdempotencyOptions): Promise<IdempotencyKeys> {
    const k = new IdempotencyKeys(opts);
    // Markers are kept a day past the keys' life: a key is never forgotten early.
    await k.log.ensureTopic(k.topic, { partitions: 1, retentionMs: k.ttlMs + 24 * 3600_000 });
    const { earliest, latest } = await k.log.offsets(k.topic, 0);
    let at = earliest;
    while (at < latest) {
      const res = await k.log.fetch(k.topic, 0, at, { maxRecords: 10_000 });
      if (res.records.length === 0) break;
      for (const r of res.records) {
        if (r.value === null) continue;
        try {
          const m = JSON.parse(decoder.decode(r.value)) as KeyMarker;
          if (typeof m.id === 'string' && typeof m.hash === 'string') {
            k.keys.delete(m.id);
            k.keys.set(m.id, m);
          }
        } catch {
          // Not a marker of ours: ignored.
        }
      }
      at = res.nextOffset;
    }
    k.prune();
    return k;
  }

  /** Keys remembered now. */
  get size(): number {
    return this.keys.size;
  }

  private prune(): void {
    const oldest = this.clock.now() - this.ttlMs;
    for (const [id, m] of this.keys) {
      if (m.at >= oldest) break;
      this.keys.delete(id);
    }
  }

  private live(id: string): KeyMarker | undefined {
    const m = this.keys.get(id);
    if (m && m.at < this.clock.now() - this.ttlMs) {
      this.keys.delete(id);
      return undefined;
    }
    return m;
  }

  private async mark(m: KeyMarker): Promise<void> {
    await this.log.produce([
      {
        topic: this.topic,
        partition: 0,
        key: encoder.encode(m.id),
        value: encoder.encode(JSON.stringify(m)),
      },
    ]);
    this.keys.delete(m.id);
    this.keys.set(m.id, m);
  }

  /**
   * Produces `records` to `topic` once for key `id` (the request's digest `hash`): the
   * first time, or again only what an earlier attempt did not get into the log; a key
   * already done answers its result. INGEST_IDEMPOTENCY_KEY_REUSED when the key was used
   * for another request.
   */
  async once(
    id: string,
    hash: string,
    topic: string,
    partitions: number,
    records: ProduceRecord[],
  ): Promise<KeyedOutcome> {
    for (let running = this.inflight.get(id); running; running = this.inflight.get(id)) {
      await running.catch(() => {});
    }
    const known = this.live(id);
    if (known && (known.hash !== hash || known.topic !== topic)) {
      throw new TributaryError(
        'INGEST_IDEMPOTENCY_KEY_REUSED',
        `this Idempotency-Key was used for another request (${known.topic === topic ? 'another body' : `topic ${known.topic}`}) at ${new Date(known.at).toISOString()}; a key stands for one batch: send new records with a new key`,
        { field: 'headers.idempotency-key' },
      );
    }
    if (known?.state === 'done' && known.result) return { result: known.result, replayed: true };
    const attempt = this.attempt(id, hash, topic, partitions, records, known);
    this.inflight.set(id, attempt);
    try {
      return { result: await attempt, replayed: false };
    } finally {
      this.inflight.delete(id);
      this.prune();
    }
  }

  private async attempt(
    id: string,
    hash: string,
    topic: string,
    partitions: number,
    records: ProduceRecord[],
    pending: KeyMarker | undefined,
  ): Promise<IngestResult> {
    const placed: Array<{ partition: number; offset: number } | undefined> = new Array(records.length);
    let at: number;
    if (pending) {
      at = pending.at;
      for (const [index, where] of await this.findWritten(id, topic, pending.starts ?? [])) {
        if (index < records.length) placed[index] = where;
      }
    } else {
      at = this.clock.now();
      const starts = await Promise.all(
        Array.from({ length: partitions }, async (_, p) => (await this.log.offsets(topic, p)).latest),
      );
      await this.mark({ id, hash, topic, at, state: 'pending', starts });
    }
    const missing: number[] = [];
    for (let i = 0; i < records.length; i++) if (placed[i] === undefined) missing.push(i);
    if (missing.length > 0) {
      const tagged = missing.map((i) => ({
        ...records[i],
        headers: {
          ...records[i].headers,
          [KEY_HEADER]: encoder.encode(id),
          [INDEX_HEADER]: encoder.encode(String(i)),
        },
      }));
      const results = await this.log.produce(tagged);
      missing.forEach((i, j) => {
        placed[i] = { partition: results[j].partition, offset: results[j].offset };
      });
    }
    const result = summarize(topic, placed as Array<{ partition: number; offset: number }>);
    await this.mark({ id, hash, topic, at, state: 'done', result });
    return result;
  }

  /** The records of key `id` already in `topic` past `starts`: position → where. */
  private async findWritten(
    id: string,
    topic: string,
    starts: readonly number[],
  ): Promise<Map<number, { partition: number; offset: number }>> {
    const found = new Map<number, { partition: number; offset: number }>();
    const { partitions } = await this.log.describeTopic(topic);
    for (let p = 0; p < partitions; p++) {
      const { earliest, latest } = await this.log.offsets(topic, p);
      let offset = Math.max(earliest, starts[p] ?? earliest);
      while (offset < latest) {
        const res = await this.log.fetch(topic, p, offset, { maxRecords: 10_000 });
        if (res.records.length === 0) break;
        for (const r of res.records) {
          const key = r.headers[KEY_HEADER];
          const index = r.headers[INDEX_HEADER];
          if (key === undefined || index === undefined || decoder.decode(key) !== id) continue;
          found.set(Number(decoder.decode(index)), { partition: p, offset: r.offset });
        }
        offset = res.nextOffset;
      }
    }
    return found;
  }
}
