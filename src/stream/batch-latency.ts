/**
 * Latency of each batch's records, from their record time (ingest) and event time to the
 * moment every sink has made them durable: the record times are counted per 10 ms bucket
 * when the batch is decoded, and recorded once each sink reports the batch durable (a sink
 * that buffers or commits in the background reports it later than its write returns).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { PipelineMetrics, SinkCounters } from './metrics.ts';
import type { Sink } from './types.ts';

/** [time bucket (ms), records]. */
export type Bucket = readonly [number, number];

export interface LatencyInputs {
  ingest: Bucket[];
  event: Bucket[];
}

/** The valid records of a decoded batch (`raw`, rows with `_ok`) per 10 ms of record time and of event time. */
export async function latencyInputs(
  conn: DuckDBConnection,
  raw: string,
  eventTimeMs: string | undefined,
): Promise<LatencyInputs> {
  const valid = `(SELECT * FROM ${raw} WHERE _ok)`;
  const buckets = async (expr: string) =>
    (await conn.runAndReadAll(`SELECT ${expr} // 10 * 10, count(*) FROM ${valid} GROUP BY 1`))
      .getRows()
      .map(([t, n]) => [Number(t), Number(n)] as const);
  return { ingest: await buckets('_t'), event: eventTimeMs ? await buckets(`(${eventTimeMs})::BIGINT`) : [] };
}

export class BatchLatency {
  private pending: Array<{ seq: number; waiting: Set<Sink>; ingest: Bucket[]; event: Bucket[] }> = [];

  /** Forgets the batches in flight (after a failure, progress is reloaded). */
  reset(): void {
    this.pending = [];
  }

  /** Batch `seq` is handed to `sinks`. */
  started(seq: number, sinks: readonly Sink[], inputs: LatencyInputs): void {
    this.pending.push({ seq, waiting: new Set(sinks), ...inputs });
  }

  /** `sink` made every batch up to `through` durable: records their latency at `now`. */
  durable(metrics: PipelineMetrics, sink: Sink, counters: SinkCounters, through: number, now: number): void {
    const rest: typeof this.pending = [];
    for (const b of this.pending) {
      if (b.seq <= through && b.waiting.delete(sink)) {
        for (const [t, n] of b.ingest) counters.ingestLatencyMs.record(now - t, n);
        for (const [t, n] of b.event) counters.eventLatencyMs.record(now - t, n);
      }
      if (b.waiting.size > 0) {
        rest.push(b);
        continue;
      }
      for (const [t, n] of b.ingest) metrics.ingestLatencyMs.record(now - t, n);
      for (const [t, n] of b.event) metrics.eventLatencyMs.record(now - t, n);
    }
    this.pending = rest;
  }
}
