/**
 * Metrics whose values are read from elsewhere when scraped (a pipeline's counters,
 * its histograms): prom-client's registry takes any object with a name, help, type and
 * a `get()` giving the values, and writes the text format itself.
 */
import type { Registry } from 'prom-client';
import type { Histogram as LogHistogram } from '../../stream/metrics.ts';

export type Labels = Record<string, string | number>;

export interface Value {
  labels: Labels;
  value: number;
  /** A histogram's series: `<name>_bucket`, `_sum`, `_count`. */
  metricName?: string;
}

/** A counter or gauge whose values `collect` reads at each scrape. */
export function snapshotMetric(
  registry: Registry,
  name: string,
  help: string,
  type: 'counter' | 'gauge' | 'histogram',
  collect: () => Value[] | Promise<Value[]>,
): void {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    async get() {
      return { name, help, type, aggregator: 'sum', values: await collect() };
    },
    reset() {},
  };
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
}

/** Seconds: from 1 ms to 10 min, the range of batch durations and end-to-end latencies. */
export const LATENCY_BUCKETS_SECONDS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];

const BOUNDS_MS = LATENCY_BUCKETS_SECONDS.map((s) => s * 1000);

/**
 * A stream histogram (ms, ~4 % buckets: stream/metrics.ts) as a Prometheus histogram in
 * seconds: cumulative `_bucket`s at LATENCY_BUCKETS_SECONDS and `+Inf`, `_sum`, `_count`.
 */
export function histogramValues(name: string, labels: Labels, h: LogHistogram): Value[] {
  const counts = h.cumulative(BOUNDS_MS);
  const out: Value[] = LATENCY_BUCKETS_SECONDS.map((le, i) => ({
    metricName: `${name}_bucket`,
    labels: { ...labels, le },
    value: counts[i],
  }));
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.total });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum / 1000 });
  out.push({ metricName: `${name}_count`, labels, value: h.total });
  return out;
}
