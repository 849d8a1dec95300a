/**
 * A running pipeline's status as the API answers it: state and uptime, per-partition
 * position, end and lag, throughput, latency percentiles (pipeline and per sink, from
 * ingest and from event time), counters, the DLQ (its size and latest records) and
 * recent errors. Latencies and counters are since the pipeline was registered
 * (PipelineMetrics); rates are over the last ten seconds (registry.ts).
 */
import type { Histogram } from '../../stream/metrics.ts';
import { type DlqTail, readDlqTail } from './dlq-tail.ts';
import type { RecentError, RunningPipeline } from './registry.ts';

export interface Percentiles {
  /** Observations (records) behind the percentiles. */
  count: number;
  p50: number;
  p90: number;
  p99: number;
}

/** Milliseconds; each percentile is the upper end of its ~4 % wide bucket. */
function percentiles(h: Histogram): Percentiles {
  const q = (x: number) => round(h.quantile(x));
  return { count: h.total, p50: q(0.5), p90: q(0.9), p99: q(0.99) };
}

const iso = (ms: number) => new Date(ms).toISOString();
const round = (n: number) => Math.round(n * 10) / 10;

function errorJson(e: RecentError) {
  return { ...e, at: iso(e.at) };
}

/** The short form, for the list. */
export async function pipelineSummary(entry: RunningPipeline) {
  await entry.refreshLag();
  const m = entry.metrics;
  const d = entry.pipeline.describe();
  return {
    name: entry.name,
    state: entry.state,
    startedAt: iso(entry.startedAt),
    uptimeSeconds: Math.round(entry.uptimeSeconds()),
    source: d.source,
    lag: m.totalLag(),
    recordsIn: m.recordsIn,
    recordsInPerSecond: round(entry.throughput().recordsInPerSecond),
    invalid: m.invalid,
    dlqWritten: m.dlqWritten,
    latencyMs: { fromIngest: percentiles(m.ingestLatencyMs), fromEventTime: percentiles(m.eventLatencyMs) },
    errors: entry.errors.length,
    ...(entry.failure && { failure: errorJson(entry.failure) }),
  };
}

/** Everything, with the DLQ's last `dlqLimit` records. */
export async function pipelineDetail(entry: RunningPipeline, dlqLimit: number) {
  await entry.refreshLag();
  const pipeline = entry.pipeline;
  const m = entry.metrics;
  const d = pipeline.describe();
  const positions = pipeline.positions();
  // A worker of a consumer group shows the partitions it owns (docs/scale-out.md).
  const owned = pipeline.ownedPartitions();
  const partitions = positions
    .map((position, partition) => {
      const lag = m.lag.get(partition) ?? 0;
      return { partition, position, end: position + lag, lag };
    })
    .filter((p) => owned === undefined || owned.has(p.partition));
  const rates = entry.throughput();
  let dlq: (DlqTail & { writtenByThisProcess: number }) | null = null;
  if (d.dlq)
    dlq = { ...(await readDlqTail(d.dlq.log, d.dlq.topic, dlqLimit)), writtenByThisProcess: m.dlqWritten };
  return {
    name: entry.name,
    state: entry.state,
    startedAt: iso(entry.startedAt),
    ...(entry.stoppedAt !== undefined && { stoppedAt: iso(entry.stoppedAt) }),
    uptimeSeconds: Math.round(entry.uptimeSeconds()),
    source: { name: d.source, partitions, lag: m.totalLag() },
    throughput: {
      intervalSeconds: round(rates.intervalSeconds),
      recordsInPerSecond: round(rates.recordsInPerSecond),
    },
    counters: {
      batches: m.batches,
      recordsIn: m.recordsIn,
      invalid: m.invalid,
      tagged: m.tagged,
      late: m.late,
      lateDropped: m.lateDropped,
      deduplicated: m.deduplicated,
      dlqWritten: m.dlqWritten,
    },
    batchMs: { last: m.lastBatchMs, ...percentiles(m.batchMs) },
    latencyMs: { fromIngest: percentiles(m.ingestLatencyMs), fromEventTime: percentiles(m.eventLatencyMs) },
    sinks: d.sinks.map((name) => {
      const c = m.sink(name);
      const table = entry.sinkTables.get(name);
      return {
        name,
        ...(table !== undefined && { table }),
        rows: c.rows,
        rowsPerSecond: round(rates.sinks[name] ?? 0),
        duplicates: c.duplicates,
        commits: c.commits,
        conflicts: c.conflicts,
        latencyMs: {
          fromIngest: percentiles(c.ingestLatencyMs),
          fromEventTime: percentiles(c.eventLatencyMs),
        },
      };
    }),
    dlq,
    errors: entry.errors.map(errorJson),
    ...(entry.failure && { failure: errorJson(entry.failure) }),
  };
}
