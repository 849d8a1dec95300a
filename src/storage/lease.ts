/**
 * A lease kept in object storage: at most one holder at a time runs the work it guards
 * (table maintenance among several workers of one pipeline, docs/scale-out.md), taken
 * over when the holder dies. Written by hand because it must live beside the tables, in
 * the same storage and with only the store contract's put-if-absent (object-store.ts):
 * no coordination service to run.
 *
 * The lease is a sequence of small records `<prefix>/<seq>.json` (seq zero-padded, so the
 * last in list order is the newest). Taking or renewing it is a put-if-absent of the
 * next seq: of several writers of one seq exactly one wins, so the sequence is a total
 * order of holders. A record names its holder and the time it expires (the holder's
 * clock); a release writes a record marked released. Another writer takes over when
 * the newest record is released, or expired by more than the skew allowance (its own
 * clock), or at once when the holder was a process of this machine that is gone (a
 * worker restarted after a crash does not wait out its predecessor's lease). The holder
 * considers the lease lost at the expiry it wrote, or as soon as a renewal finds the
 * next seq taken.
 *
 * Safety assumes clocks of the writers differ by less than `skewMs` (default a quarter
 * of the TTL). Work the lease guards must be safe to overlap anyway (a holder paused
 * past its expiry cannot be stopped): Delta's conflict rules keep two OPTIMIZEs or
 * VACUUMs correct; the lease keeps them from running side by side.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type Clock, systemClock } from '../core/clock.ts';
import { isTributaryError, TributaryError } from '../core/errors.ts';
import { isAlive, processStart } from '../core/process.ts';
import type { ObjectStore } from './object-store.ts';

export interface LeaseRecord {
  seq: number;
  holder: string;
  /** The holding process: its machine, pid and start time (core/process.ts). */
  host?: string;
  pid?: number;
  start?: string;
  acquiredAt: number;
  expiresAt: number;
  released?: boolean;
}

export interface LeaseOptions {
  /** How long a take or renewal holds the lease (default 2 minutes). */
  ttlMs?: number;
  /** Clock difference between writers the lease tolerates (default ttl / 4). */
  skewMs?: number;
  /** This holder's name (default host, pid and a random suffix: unique per process). */
  holder?: string;
  clock?: Clock;
}

/** Records kept behind the newest (older ones are deleted as the lease moves on). */
const KEEP = 8;
const SEQ_DIGITS = 20;

export class StoreLease {
  readonly store: ObjectStore;
  readonly prefix: string;
  readonly holder: string;
  readonly ttlMs: number;
  readonly skewMs: number;
  readonly #clock: Clock;
  #seq = 0;
  #expiresAt = 0;
  /** Records up to this seq are known to be pruned. */
  #prunedTo = 0;

  constructor(store: ObjectStore, prefix: string, opts: LeaseOptions = {}) {
    this.store = store;
    this.prefix = prefix.replace(/\/+$/, '');
    this.ttlMs = opts.ttlMs ?? 120_000;
    this.skewMs = opts.skewMs ?? Math.floor(this.ttlMs / 4);
    if (!(this.ttlMs > 0) || !(this.skewMs >= 0) || this.skewMs >= this.ttlMs) {
      throw new TributaryError(
        'INPUT_INVALID',
        `lease ${this.prefix}: ttl ${this.ttlMs} ms and skew ${this.skewMs} ms must be positive, the skew below the ttl`,
        { ttlMs: this.ttlMs, skewMs: this.skewMs },
      );
    }
    this.holder = opts.holder ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.#clock = opts.clock ?? systemClock;
  }

  /** Whether this holder holds the lease now (by its own clock). */
  get held(): boolean {
    return this.#seq > 0 && this.#clock.now() < this.#expiresAt;
  }

  /** The seq of this holder's newest record while it holds the lease (0 when it does not). */
  get seq(): number {
    return this.held ? this.#seq : 0;
  }

  /** The newest record, or undefined when the lease was never taken. */
  async current(): Promise<LeaseRecord | undefined> {
    const listed = await this.store.list(`${this.prefix}/`);
    for (let i = listed.length - 1; i >= 0; i--) {
      const rec = await this.#read(listed[i].path);
      if (rec !== undefined) return rec;
    }
    return undefined;
  }

  /**
   * Takes the lease (or renews it when held). Returns undefined when this holder has it
   * now, else the record of the holder that has it.
   */
  async acquire(): Promise<LeaseRecord | undefined> {
    if (this.held && (await this.renew())) return undefined;
    // Losing the put of the next seq means another record came first (another taker, or
    // a release): decide again on it.
    for (;;) {
      const latest = await this.current();
      const now = this.#clock.now();
      if (
        latest !== undefined &&
        !latest.released &&
        now <= latest.expiresAt + this.skewMs &&
        latest.holder !== this.holder &&
        !holderGone(latest)
      ) {
        return latest;
      }
      if (await this.#write((latest?.seq ?? 0) + 1, now)) return undefined;
    }
  }

  /** Extends a held lease; false when it was lost (expired, or taken by another). */
  async renew(): Promise<boolean> {
    if (!this.held) {
      this.#seq = 0;
      return false;
    }
    return await this.#write(this.#seq + 1, this.#clock.now());
  }

  /** Gives the lease up so another holder need not wait for it to expire. */
  async release(): Promise<void> {
    if (!this.held) return;
    const seq = this.#seq + 1;
    const now = this.#clock.now();
    this.#seq = 0;
    const rec: LeaseRecord = { ...this.#record(seq, now, now), released: true };
    try {
      await this.store.putIfAbsent(this.#path(seq), new TextEncoder().encode(JSON.stringify(rec)));
    } catch (err) {
      // Taken meanwhile (we were past our expiry by another's clock): nothing to give up.
      if (!isTributaryError(err, 'STORAGE_ALREADY_EXISTS')) throw err;
      return;
    }
    await this.#prune(seq).catch(() => {});
  }

  async #write(seq: number, now: number): Promise<boolean> {
    const rec = this.#record(seq, now, now + this.ttlMs);
    try {
      await this.store.putIfAbsent(this.#path(seq), new TextEncoder().encode(JSON.stringify(rec)));
    } catch (err) {
      if (isTributaryError(err, 'STORAGE_ALREADY_EXISTS')) {
        this.#seq = 0;
        return false;
      }
      throw err;
    }
    this.#seq = seq;
    this.#expiresAt = rec.expiresAt;
    await this.#prune(seq).catch(() => {});
    return true;
  }

  async #prune(seq: number): Promise<void> {
    if (seq - this.#prunedTo < 2 * KEEP) return;
    for (const m of await this.store.list(`${this.prefix}/`)) {
      const n = Number(m.path.slice(this.prefix.length + 1).replace(/\.json$/, ''));
      if (Number.isSafeInteger(n) && n <= seq - KEEP) await this.store.delete(m.path);
    }
    this.#prunedTo = seq - KEEP;
  }

  async #read(path: string): Promise<LeaseRecord | undefined> {
    try {
      const rec = JSON.parse(new TextDecoder().decode(await this.store.get(path))) as LeaseRecord;
      return typeof rec.seq === 'number' && typeof rec.expiresAt === 'number' ? rec : undefined;
    } catch (err) {
      // Pruned between the listing and the read.
      if (isTributaryError(err, 'STORAGE_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  #record(seq: number, now: number, expiresAt: number): LeaseRecord {
    return { seq, holder: this.holder, ...self(), acquiredAt: now, expiresAt };
  }

  #path(seq: number): string {
    return `${this.prefix}/${String(seq).padStart(SEQ_DIGITS, '0')}.json`;
  }
}

let me: { host: string; pid: number; start?: string } | undefined;
function self() {
  me ??= { host: hostname(), pid: process.pid, start: processStart(process.pid) };
  return me;
}

/** A holder that was a process of this machine which no longer runs. */
function holderGone(rec: LeaseRecord): boolean {
  return rec.host === self().host && rec.pid !== undefined && !isAlive({ pid: rec.pid, start: rec.start });
}

export type LeaseOutcome<T> = { ran: true; value: T } | { ran: false; heldBy: LeaseRecord };

/**
 * Runs `work` holding the lease, renewed every third of its TTL while the work runs,
 * released afterwards; or does not run it when another holder has the lease. `work`
 * gets the lease so it can check `held` between steps and stop when it was lost.
 */
export async function withLease<T>(
  lease: StoreLease,
  work: (lease: StoreLease) => Promise<T>,
): Promise<LeaseOutcome<T>> {
  const heldBy = await lease.acquire();
  if (heldBy !== undefined) return { ran: false, heldBy };
  const stop = keepRenewed(lease);
  try {
    return { ran: true, value: await work(lease) };
  } finally {
    await stop();
  }
}

/**
 * Renews a held lease every third of its TTL until the returned function is called,
 * which stops the renewals and releases the lease.
 */
export function keepRenewed(lease: StoreLease): () => Promise<void> {
  let renewing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(
    () => {
      renewing = renewing.then(() => lease.renew()).catch(() => {});
    },
    Math.max(1, Math.floor(lease.ttlMs / 3)),
  );
  timer.unref();
  return async () => {
    clearInterval(timer);
    await renewing;
    await lease.release();
  };
}
