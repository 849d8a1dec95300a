/**
 * Pipeline metrics: counters, and latency histograms with ~4 % wide logarithmic buckets
 * (fixed memory however many records pass; quantiles are accurate to a bucket).
 */
const GROWTH = 1.04;
const LOG_GROWTH = Math.log(GROWTH);

export class Histogram {
  private readonly counts: number[] = [];
  total = 0;
  /** The sum of the values recorded (negative ones as 0): Prometheus' `_sum`. */
  sum = 0;

  /** Records `count` observations of `value` (ms; negative values count as 0). */
  record(value: number, count = 1): void {
    const i = value <= 1 ? 0 : Math.ceil(Math.log(value) / LOG_GROWTH);
    while (this.counts.length <= i) this.counts.push(0);
    this.counts[i] += count;
    this.total += count;
    this.sum += Math.max(0, value) * count;
  }

  /**
   * For each bound (ascending, ms), the observations at most that bound, as a Prometheus
   * histogram's cumulative buckets: a bucket of ours counts once its upper end is within
   * the bound, so a count may miss values up to one bucket (~4 %) below the bound.
   */
  cumulative(bounds: readonly number[]): number[] {
    const out: number[] = [];
    let i = 0;
    let seen = 0;
    for (const bound of bounds) {
      while (i < this.counts.length && (i === 0 ? 1 : GROWTH ** i) <= bound) seen += this.counts[i++];
      out.push(seen);
    }
    return out;
  }

  /** The value at quantile `q` (0..1): the upper bound of its bucket; 0 when empty. */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = q * this.total;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank && this.counts[i] > 0) return i === 0 ? 1 : GROWTH ** i;
    }
    return GROWTH ** (this.counts.length - 1);
  }

  reset(): void {
    this.counts.length = 0;
    this.total = 0;
    this.sum = 0;
  }
}

export interface SinkCounters {
  rows: number;
  duplicates: number;
  commits: number;
  /** Commit tries lost to other writers (SinkResult.conflicts). */
  conflicts: number;
  /** Commit of this sink minus the record's log timestamp (ingest time at the broker). */
  ingestLatencyMs: Histogram;
  /** Commit of this sink minus the record's event time (when the pipeline has one). */
  eventLatencyMs: Histogram;
}

export class PipelineMetrics {
  batches = 0;
  /** Records fetched that at least one sink had not yet committed. */
  recordsIn = 0;
  /** Records the contract rejected (each also in the DLQ). */
  invalid = 0;
  /** Records that broke a rule of the contract, kept as rows tagged FAILED (contract `on_failure: tag`). */
  tagged = 0;
  /** DLQ records written by this process. */
  dlqWritten = 0;
  /** Records dropped by dedup steps (their key seen within the horizon). */
  deduplicated = 0;
  /** Records behind a window's watermark (to the DLQ or dropped, per the window's policy). */
  late = 0;
  /** Of those, dropped (policy `drop`). */
  lateDropped = 0;
  readonly sinks = new Map<string, SinkCounters>();
  readonly batchMs = new Histogram();
  /** Commit by the last sink minus the record's event time. */
  readonly eventLatencyMs = new Histogram();
  /** Commit by the last sink minus the record's log timestamp (when it was produced): event to queryable everywhere. */
  readonly ingestLatencyMs = new Histogram();
  /** Per partition: records in the log not yet committed by every sink. */
  readonly lag = new Map<number, number>();
  lastBatchMs = 0;

  sink(name: string): SinkCounters {
    let c = this.sinks.get(name);
    if (!c) {
      c = {
        rows: 0,
        duplicates: 0,
        commits: 0,
        conflicts: 0,
        ingestLatencyMs: new Histogram(),
        eventLatencyMs: new Histogram(),
      };
      this.sinks.set(name, c);
    }
    return c;
  }

  totalLag(): number {
    let n = 0;
    for (const v of this.lag.values()) n += v;
    return n;
  }

  snapshot(): Record<string, unknown> {
    return {
      batches: this.batches,
      recordsIn: this.recordsIn,
      invalid: this.invalid,
      dlqWritten: this.dlqWritten,
      sinks: Object.fromEntries(
        [...this.sinks].map(([name, c]) => [
          name,
          {
            rows: c.rows,
            duplicates: c.duplicates,
            commits: c.commits,
            conflicts: c.conflicts,
            ingestLatencyMs: { p50: c.ingestLatencyMs.quantile(0.5), p99: c.ingestLatencyMs.quantile(0.99) },
            eventLatencyMs: { p50: c.eventLatencyMs.quantile(0.5), p99: c.eventLatencyMs.quantile(0.99) },
          },
        ]),
      ),
      lag: Object.fromEntries(this.lag),
      batchMs: { p50: this.batchMs.quantile(0.5), p99: this.batchMs.quantile(0.99) },
      eventLatencyMs: { p50: this.eventLatencyMs.quantile(0.5), p99: this.eventLatencyMs.quantile(0.99) },
      ingestLatencyMs: { p50: this.ingestLatencyMs.quantile(0.5), p99: this.ingestLatencyMs.quantile(0.99) },
    };
  }
}
