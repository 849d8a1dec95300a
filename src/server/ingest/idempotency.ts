/**
 * Idempotency keys of ingest requests: a POST sent again with the same `Idempotency-Key`
 * (and the same body, to the same topic) gets the first request's answer and produces
 * nothing more — also after the server restarted, or crashed half-way, and when several
 * servers on one log take the same key at the same moment.
 *
 * What is kept, and where: the keys topic of the same log (`_tributary_ingest_keys`, one
 * partition), as durable as the records themselves. Each key goes through:
 *
 * 1. a `pending` claim, with the topic's end offsets at that moment, appended before any
 *    record. The claim is decided by the topic's order (key-markers.ts): after appending
 *    its claim a server reads the topic up to it, and writes only if its claim is the one
 *    holding the key. A server whose claim lost waits for the holder's `done` (reading
 *    the topic) and answers the same;
 * 2. the records, each with the headers `tributary-idempotency-key` (the key's digest)
 *    and `tributary-ingest-index` (its position in the request);
 * 3. `done`, with the answer, appended once the records are acknowledged.
 *
 * A request finding `done` answers from it. A holder that failed or died between 1 and 3
 * leaves the key `pending`. The claim names its process (host, pid, start time): a retry
 * takes the key over at once, with a new claim naming the one it replaces, when that
 * process is known to be gone (it ended, on this host) or is this process with no
 * attempt under way (it failed); a claim of another host is taken over once it is older
 * than the lease (`claimLeaseMs`, default 60 s). Takeovers are decided in the log the
 * same way as claims (key-markers.ts). The new holder reads
 * the topic from the offsets the first claim holds, finds which of the request's records
 * are there by their headers, and produces only the others: each record is in the topic
 * once. Until the lease ends, a request for the key waits (at most `waitMs`), then is
 * answered 409 INGEST_IDEMPOTENCY_KEY_IN_PROGRESS with Retry-After.
 *
 * Keys are scoped by the token's subject; they are remembered for `ttlMs` from their first
 * use (default 24 h) — a key sent again later is a new request. Keys are in memory too
 * (read from the topic on start, then followed): about 300 bytes each.
 */
import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '../../core/clock.ts';
import { crashPoint } from '../../core/crash-points.ts';
import { TributaryError } from '../../core/errors.ts';
import { ownerAlive, thisProcess } from '../../jobs/scheduler/owner.ts';
import type { Log, ProduceRecord } from '../../log/log.ts';
import {
  applyMarker,
  claimedAt,
  DEFAULT_CLAIM_LEASE_MS,
  DEFAULT_KEY_TTL_MS,
  INDEX_HEADER,
  type IngestResult,
  KEY_HEADER,
  KEYS_TOPIC,
  type KeyMarker,
  parseMarker,
  summarize,
} from './key-markers.ts';

export {
  DEFAULT_CLAIM_LEASE_MS,
  DEFAULT_KEY_TTL_MS,
  INDEX_HEADER,
  type IngestResult,
  KEY_HEADER,
  KEYS_TOPIC,
  keyId,
  type PartitionSummary,
  requestHash,
  summarize,
} from './key-markers.ts';

export interface KeyedOutcome {
  result: IngestResult;
  /** The answer of an earlier request with this key (nothing produced now). */
  replayed: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface IdempotencyOptions {
  log: Log;
  /** Default `_tributary_ingest_keys`. */
  topic?: string;
  ttlMs?: number;
  /** How long a claim holds a key before another request may take it over (default 60 s). */
  claimLeaseMs?: number;
  /** How long a request waits for another server's claim on its key to end (default 20 s). */
  waitMs?: number;
  clock?: Clock;
}

/** A claim appended that lost to another one: start over (wait for the holder). */
const LOST = Symbol('lost');

/** Attempts under way in this process, by claim (every server instance of the process). */
const attempts = new Map<string, Promise<void>>();

export class IdempotencyKeys {
  private readonly log: Log;
  private readonly topic: string;
  private readonly ttlMs: number;
  private readonly leaseMs: number;
  private readonly waitMs: number;
  private readonly clock: Clock;
  /** Live keys, oldest first, as the keys topic says up to `readAt`. */
  private readonly keys = new Map<string, KeyMarker>();
  /** Attempts under way in this process, by key. */
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** The next offset of the keys topic to read. */
  private readAt = 0;
  private reading?: Promise<void>;

  private constructor(opts: IdempotencyOptions) {
    this.log = opts.log;
    this.topic = opts.topic ?? KEYS_TOPIC;
    this.ttlMs = opts.ttlMs ?? DEFAULT_KEY_TTL_MS;
    this.leaseMs = opts.claimLeaseMs ?? DEFAULT_CLAIM_LEASE_MS;
    this.waitMs = opts.waitMs ?? 20_000;
    this.clock = opts.clock ?? systemClock;
  }

  /** Creates the keys topic if needed and reads the keys still live. */
  static async open(opts: IdempotencyOptions): Promise<IdempotencyKeys> {
    const k = new IdempotencyKeys(opts);
    // Markers are kept a day past the keys' life: a key is never forgotten early.
    await k.log.ensureTopic(k.topic, { partitions: 1, retentionMs: k.ttlMs + 24 * 3600_000 });
    k.readAt = (await k.log.offsets(k.topic, 0)).earliest;
    await k.catchUp();
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

  private apply(marker: KeyMarker): void {
    const current = this.live(marker.id);
    const next = applyMarker(current, marker, this.leaseMs);
    if (next === current) return;
    this.keys.delete(marker.id);
    this.keys.set(marker.id, next);
  }

  /** Reads the keys topic up to `target` (default: its end now), applying each marker in order. */
  private async catchUp(target?: number): Promise<void> {
    const end = target ?? (await this.log.offsets(this.topic, 0)).latest;
    let idle = 0;
    while (this.readAt < end) {
      if (this.reading === undefined) {
        this.reading = this.readSome().finally(() => {
          this.reading = undefined;
        });
      }
      const before = this.readAt;
      await this.reading;
      if (this.readAt > before) {
        idle = 0;
        continue;
      }
      // Acknowledged but not readable yet (a replica catching up): a short wait.
      if (++idle > 200) {
        throw new TributaryError(
          'LOG_BROKER',
          `the idempotency keys topic ${this.topic} does not give its records up to offset ${end} (stuck at ${this.readAt}); send again`,
          { topic: this.topic, retryAfterSeconds: 1 },
        );
      }
      await pause(Math.min(50, 2 * idle));
    }
  }

  private async readSome(): Promise<void> {
    const { earliest } = await this.log.offsets(this.topic, 0);
    if (this.readAt < earliest) this.readAt = earliest;
    const res = await this.log.fetch(this.topic, 0, this.readAt, { maxRecords: 10_000 });
    for (const r of res.records) {
      const m = parseMarker(r.value);
      if (m) this.apply(m);
    }
    this.readAt = Math.max(this.readAt, res.nextOffset);
  }

  /** Appends a marker; resolves with its offset in the keys topic. */
  private async append(m: KeyMarker): Promise<number> {
    const [res] = await this.log.produce([
      {
        topic: this.topic,
        partition: 0,
        key: encoder.encode(m.id),
        value: encoder.encode(JSON.stringify(m)),
      },
    ]);
    return res.offset;
  }

  /**
   * Produces `records` to `topic` once for key `id` (the request's digest `hash`): the
   * first time, or again only what an earlier attempt did not get into the log; a key
   * already done answers its result. INGEST_IDEMPOTENCY_KEY_REUSED when the key was used
   * for another request; INGEST_IDEMPOTENCY_KEY_IN_PROGRESS when another server holds
   * the key past `waitMs`.
   */
  async once(
    id: string,
    hash: string,
    topic: string,
    partitions: number,
    records: ProduceRecord[],
  ): Promise<KeyedOutcome> {
    const started = this.clock.now();
    let idle = 0;
    for (;;) {
      for (let running = this.inflight.get(id); running; running = this.inflight.get(id)) {
        await running.catch(() => {});
      }
      await this.catchUp();
      const known = this.live(id);
      if (known && (known.hash !== hash || known.topic !== topic)) {
        throw new TributaryError(
          'INGEST_IDEMPOTENCY_KEY_REUSED',
          `this Idempotency-Key was used for another request (${known.topic === topic ? 'another body' : `topic ${known.topic}`}) at ${new Date(known.at).toISOString()}; a key stands for one batch: send new records with a new key`,
          { field: 'headers.idempotency-key' },
        );
      }
      if (known?.state === 'done' && known.result) return { result: known.result, replayed: true };
      if (known !== undefined) {
        const attempt = known.claim === undefined ? undefined : attempts.get(known.claim);
        if (attempt !== undefined) {
          // An attempt of this process (another server instance of it) holds the key.
          await attempt.catch(() => {});
          continue;
        }
        const now = this.clock.now();
        const leaseEnds = claimedAt(known) + this.leaseMs;
        if (now < leaseEnds && !this.ownerGone(known)) {
          // Another server holds the key: wait for its answer, within bounds.
          if (now - started >= this.waitMs) throw this.inProgress(leaseEnds - now);
          await pause(Math.min(100, 5 * ++idle));
          continue;
        }
      }
      // An attempt of this instance may have started while this one read the topic.
      if (this.inflight.has(id)) continue;
      const attempt = this.attempt(id, hash, topic, partitions, records, known);
      this.inflight.set(id, attempt);
      try {
        const result = await attempt;
        if (result === LOST) continue;
        return { result, replayed: false };
      } finally {
        this.inflight.delete(id);
        this.prune();
      }
    }
  }

  /**
   * Whether the process that made the key's claim is known to be gone: a process of this
   * host that ended, or this very process with no attempt under way for the claim (it
   * failed, or the server instance that made it was stopped).
   */
  private ownerGone(known: KeyMarker): boolean {
    if (known.owner === undefined) return false;
    const self = thisProcess();
    if (known.owner.host === self.host && known.owner.pid === self.pid && known.owner.start === self.start) {
      return true; // no attempt of it is under way (once() checked)
    }
    return ownerAlive(known.owner) === false;
  }

  private inProgress(msLeft: number): TributaryError {
    const seconds = Math.max(1, Math.ceil(msLeft / 1000));
    return new TributaryError(
      'INGEST_IDEMPOTENCY_KEY_IN_PROGRESS',
      `a request with this Idempotency-Key is being written by another server and has not finished; send it again in ${seconds} s (with the same key: it will answer that request's result, or finish its writing if that server stopped)`,
      { field: 'headers.idempotency-key', retryAfterSeconds: Math.min(seconds, 60) },
    );
  }

  /**
   * One attempt at the key: claim it (taking over `known`'s claim when there is one), then
   * write what is missing and mark it done. LOST when another claim holds the key.
   */
  private async attempt(
    id: string,
    hash: string,
    topic: string,
    partitions: number,
    records: ProduceRecord[],
    known: KeyMarker | undefined,
  ): Promise<IngestResult | typeof LOST> {
    const claim = randomUUID();
    let settle = () => {};
    attempts.set(
      claim,
      new Promise<void>((r) => {
        settle = r;
      }),
    );
    try {
      const now = this.clock.now();
      const starts =
        known?.starts ??
        (await Promise.all(
          Array.from({ length: partitions }, async (_, p) => (await this.log.offsets(topic, p)).latest),
        ));
      const marker: KeyMarker = {
        id,
        hash,
        topic,
        at: known?.at ?? now,
        state: 'pending',
        starts,
        claim,
        claimedAt: now,
        owner: thisProcess(),
        ...(known !== undefined && { replaces: known.claim ?? '' }),
      };
      const offset = await this.append(marker);
      await this.catchUp(offset + 1);
      const holding = this.live(id);
      if (holding?.state !== 'pending' || holding.claim !== claim) return LOST;
      // Past the lease another server may take the key over: do not write then.
      if (this.clock.now() >= claimedAt(holding) + this.leaseMs) return LOST;
      crashPoint('ingest.key-claimed');
      const placed: Array<{ partition: number; offset: number } | undefined> = new Array(records.length);
      if (known !== undefined) {
        // An earlier holder (this process, or one taken over) may have written some records.
        for (const [index, where] of await this.findWritten(id, topic, holding.starts ?? [])) {
          if (index < records.length) placed[index] = where;
        }
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
      crashPoint('ingest.key-written');
      const result = summarize(topic, placed as Array<{ partition: number; offset: number }>);
      const done: KeyMarker = { id, hash, topic, at: holding.at, state: 'done', result };
      await this.append(done);
      this.apply(done);
      return result;
    } finally {
      attempts.delete(claim);
      settle();
    }
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
