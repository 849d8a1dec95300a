/**
 * Backpressure for ingest: the bytes and records the server holds that the log has not
 * yet acknowledged — bodies being received, parsed, or waiting for `produce` — are
 * bounded. A request that would go past a bound is refused at once with 429
 * (INGEST_BUSY, `Retry-After`), before its body is read when it says its length, so a
 * log that slows down makes clients wait instead of the server's memory grow. A request
 * that finds nothing in flight is always taken (a single batch never waits forever).
 */
import { TributaryError } from '../../core/errors.ts';

export interface InFlightLimits {
  /** Bytes of request bodies held at once (default 64 MiB). */
  maxBytes: number;
  /** Records held at once (default 500,000). */
  maxRecords: number;
  /** The answer's Retry-After, in seconds (default 1). */
  retryAfterSeconds: number;
}

export const DEFAULT_IN_FLIGHT: InFlightLimits = {
  maxBytes: 64 * 1024 * 1024,
  maxRecords: 500_000,
  retryAfterSeconds: 1,
};

export class InFlight {
  bytes = 0;
  records = 0;
  /** Requests holding a reservation. */
  requests = 0;
  readonly limits: InFlightLimits;

  constructor(limits: Partial<InFlightLimits> = {}) {
    this.limits = {
      ...DEFAULT_IN_FLIGHT,
      ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)),
    };
  }

  /** A reservation of `bytes`, or INGEST_BUSY. */
  take(bytes: number): Reservation {
    const r = new Reservation(this);
    r.grow(bytes, 0);
    this.requests++;
    return r;
  }

  /** Adds to what `r` holds, or throws INGEST_BUSY (leaving it as it was). */
  grow(r: Reservation, bytes: number, records: number): void {
    const alone = this.bytes === r.bytes && this.records === r.records;
    if (
      !alone &&
      (this.bytes + bytes > this.limits.maxBytes || this.records + records > this.limits.maxRecords)
    ) {
      throw new TributaryError(
        'INGEST_BUSY',
        `the server holds ${this.bytes} bytes and ${this.records} records not yet written to the log (limits ${this.limits.maxBytes} bytes, ${this.limits.maxRecords} records): send again in ${this.limits.retryAfterSeconds} s, or send smaller batches`,
        { retryAfterSeconds: this.limits.retryAfterSeconds },
      );
    }
    this.bytes += bytes;
    this.records += records;
  }

  release(r: Reservation): void {
    this.bytes -= r.bytes;
    this.records -= r.records;
    this.requests--;
  }
}

/** What one request holds; released once (when its records are durable, or it failed). */
export class Reservation {
  bytes = 0;
  records = 0;
  private released = false;
  private readonly owner: InFlight;

  constructor(owner: InFlight) {
    this.owner = owner;
  }

  grow(bytes: number, records: number): void {
    this.owner.grow(this, bytes, records);
    this.bytes += bytes;
    this.records += records;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.owner.release(this);
  }
}
