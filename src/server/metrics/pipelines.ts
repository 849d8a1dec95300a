/**
 * The running pipelines' counters as Prometheus metrics, read from their
 * PipelineMetrics at each scrape (docs/serving.md "Metrics" lists them). Counters count
 * since the pipeline was registered in this process; histograms are in seconds.
 */
import type { Registry } from 'prom-client';
import type { PipelineMetrics, SinkCounters } from '../../stream/metrics.ts';
import { PIPELINE_STATES, type RunningPipeline, type RunningPipelines } from '../pipelines/registry.ts';
import { histogramValues, type Labels, snapshotMetric, type Value } from './snapshot.ts';

type PerPipeline = (e: RunningPipeline, m: PipelineMetrics) => Value[];

/** A metric with one value per pipeline (or more, from `values`). */
function perPipeline(
  registry: Registry,
  pipelines: RunningPipelines,
  name: string,
  help: string,
  type: 'counter' | 'gauge' | 'histogram',
  values: PerPipeline,
): void {
  snapshotMetric(registry, name, help, type, () => pipelines.list().flatMap((e) => values(e, e.metrics)));
}

/** A counter of the pipeline (`read` of its metrics). */
function counter(
  registry: Registry,
  pipelines: RunningPipelines,
  name: string,
  help: string,
  read: (m: PipelineMetrics) => number,
): void {
  perPipeline(registry, pipelines, name, help, 'counter', (e, m) => [
    { labels: { pipeline: e.name }, value: read(m) },
  ]);
}

function sinkLabels(e: RunningPipeline, sink: string): Labels {
  return { pipeline: e.name, sink, table: e.sinkTables.get(sink) ?? '' };
}

/** A counter per sink. */
function sinkCounter(
  registry: Registry,
  pipelines: RunningPipelines,
  name: string,
  help: string,
  read: (c: SinkCounters) => number,
): void {
  perPipeline(registry, pipelines, name, help, 'counter', (e, m) =>
    [...m.sinks].map(([sink, c]) => ({ labels: sinkLabels(e, sink), value: read(c) })),
  );
}

export function pipelineMetrics(registry: Registry, pipelines: RunningPipelines): void {
  const r = registry;
  const p = pipelines;
  perPipeline(r, p, 'tributary_pipeline_up', 'Whether the pipeline runs (1) or not (0)', 'gauge', (e) => [
    { labels: { pipeline: e.name }, value: e.state === 'running' ? 1 : 0 },
  ]);
  perPipeline(
    r,
    p,
    'tributary_pipeline_state',
    'The pipeline’s state: 1 for the one it is in',
    'gauge',
    (e) =>
      PIPELINE_STATES.map((state) => ({
        labels: { pipeline: e.name, state },
        value: e.state === state ? 1 : 0,
      })),
  );
  perPipeline(
    r,
    p,
    'tributary_pipeline_uptime_seconds',
    'Seconds since the pipeline started',
    'gauge',
    (e) => [{ labels: { pipeline: e.name }, value: e.uptimeSeconds() }],
  );
  counter(r, p, 'tributary_pipeline_batches_total', 'Micro-batches committed', (m) => m.batches);
  counter(r, p, 'tributary_records_in_total', 'Records read from the source', (m) => m.recordsIn);
  counter(
    r,
    p,
    'tributary_records_invalid_total',
    'Records the contract rejected (each also in the DLQ)',
    (m) => m.invalid,
  );
  counter(
    r,
    p,
    'tributary_records_tagged_total',
    'Records that broke a rule, kept as rows tagged FAILED (contract on_failure: tag)',
    (m) => m.tagged,
  );
  counter(r, p, 'tributary_records_late_total', 'Records behind a window’s watermark', (m) => m.late);
  counter(
    r,
    p,
    'tributary_records_late_dropped_total',
    'Late records dropped (window late policy drop)',
    (m) => m.lateDropped,
  );
  counter(
    r,
    p,
    'tributary_records_deduplicated_total',
    'Records dropped by dedup steps (key seen within the horizon)',
    (m) => m.deduplicated,
  );
  counter(
    r,
    p,
    'tributary_dlq_records_total',
    'Records written to the DLQ by this process',
    (m) => m.dlqWritten,
  );
  sinkCounter(r, p, 'tributary_records_out_total', 'Rows a sink wrote', (c) => c.rows);
  sinkCounter(
    r,
    p,
    'tributary_sink_duplicates_total',
    'Records a sink dropped as duplicates (already written)',
    (c) => c.duplicates,
  );
  sinkCounter(
    r,
    p,
    'tributary_sink_commits_total',
    'Commits of a sink (table versions; table is empty for sinks that are not tables)',
    (c) => c.commits,
  );
  sinkCounter(
    r,
    p,
    'tributary_sink_commit_conflicts_total',
    'Commit tries of a sink lost to other writers of its table (re-attempted at a later version, or re-planned on a new snapshot)',
    (c) => c.conflicts,
  );
  perPipeline(
    r,
    p,
    'tributary_pipeline_errors_total',
    'Errors of the pipeline by code: retried failures (TABLE_COMMIT_CONFLICT among them) and the one that stopped it',
    'counter',
    (e) => [...e.errorsByCode].map(([code, n]) => ({ labels: { pipeline: e.name, code }, value: n })),
  );
  perPipeline(
    r,
    p,
    'tributary_pipeline_lag_records',
    'Records of a source partition not yet committed by every sink',
    'gauge',
    (e, m) => {
      const topic = e.pipeline.describe().source;
      return [...m.lag].map(([partition, lag]) => ({
        labels: { pipeline: e.name, topic, partition },
        value: lag,
      }));
    },
  );
  perPipeline(
    r,
    p,
    'tributary_batch_duration_seconds',
    'Micro-batch duration, from its fetch to its commit',
    'histogram',
    (e, m) => histogramValues('tributary_batch_duration_seconds', { pipeline: e.name }, m.batchMs),
  );
  perPipeline(
    r,
    p,
    'tributary_pipeline_latency_seconds',
    'End-to-end latency: from the record’s log timestamp (from=ingest) or event time (from=event_time) until every sink committed it',
    'histogram',
    (e, m) => [
      ...histogramValues(
        'tributary_pipeline_latency_seconds',
        { pipeline: e.name, from: 'ingest' },
        m.ingestLatencyMs,
      ),
      ...histogramValues(
        'tributary_pipeline_latency_seconds',
        { pipeline: e.name, from: 'event_time' },
        m.eventLatencyMs,
      ),
    ],
  );
  perPipeline(
    r,
    p,
    'tributary_sink_latency_seconds',
    'Latency to a sink’s commit: from the record’s log timestamp (from=ingest) or event time (from=event_time)',
    'histogram',
    (e, m) =>
      [...m.sinks].flatMap(([sink, c]) => [
        ...histogramValues(
          'tributary_sink_latency_seconds',
          { ...sinkLabels(e, sink), from: 'ingest' },
          c.ingestLatencyMs,
        ),
        ...histogramValues(
          'tributary_sink_latency_seconds',
          { ...sinkLabels(e, sink), from: 'event_time' },
          c.eventLatencyMs,
        ),
      ]),
  );
  snapshotMetric(
    r,
    'tributary_dlq_topic_records',
    'Records a pipeline’s DLQ topic holds (what retention kept), from its offsets (on Kafka an upper bound: transaction markers take offsets too)',
    'gauge',
    async () => {
      const out: Value[] = [];
      for (const e of p.list()) {
        const dlq = e.pipeline.describe().dlq;
        if (!dlq) continue;
        try {
          const { partitions } = await dlq.log.describeTopic(dlq.topic);
          let n = 0;
          for (let i = 0; i < partitions; i++) {
            const o = await dlq.log.offsets(dlq.topic, i);
            n += Math.max(0, o.latest - o.earliest);
          }
          out.push({ labels: { pipeline: e.name, topic: dlq.topic }, value: n });
        } catch {
          // No DLQ topic yet (nothing rejected), or the log does not answer: no value.
        }
      }
      return out;
    },
  );
  snapshotMetric(r, 'tributary_job_runs_total', 'Runs of a scheduled job by final state', 'counter', () =>
    [...p.jobs.runs].flatMap(([job, byState]) =>
      [...byState].map(([state, n]) => ({ labels: { job, state }, value: n })),
    ),
  );
  snapshotMetric(r, 'tributary_job_sla_missed_total', 'Runs of a job that missed their SLA', 'counter', () =>
    [...p.jobs.slaMissed].map(([job, n]) => ({ labels: { job }, value: n })),
  );
}
