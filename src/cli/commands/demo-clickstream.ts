/**
 * `tributary demo clickstream`: seed 002's speed layer in one process — the clickstream
 * generator, the embedded log, the pipeline of pipelines/clickstream.yaml (bronze Delta
 * table, realtime.* in PostgreSQL), and the embedded PostgreSQL served on a loopback port
 * for psql or any BI tool — with live progress every second.
 */
import { findJob, type Project, runJob } from '../../jobs/scheduler/index.ts';
import { builtinDefinitionSync } from '../../pipeline/builtin.ts';
import { compilePipeline } from '../../pipeline/compile.ts';
import { parseDuration } from '../../pipeline/durations.ts';
import { generateClickstream } from '../../scenarios/clickstream/generate.ts';
import { type RunningPipelines, sinkTables } from '../../server/pipelines/registry.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import type { PipelineMetrics } from '../../stream/metrics.ts';
import type { Pipeline } from '../../stream/pipeline.ts';
import { type DemoPanel, generateAndDrain } from './demo-run.ts';
import { intOption, type openLogFromArgs } from './log-args.ts';
import { openPostgresFromArgs } from './postgres-args.ts';
import { startProjectScheduler } from './project-jobs.ts';

const REALTIME = ['events_per_minute', 'logins_per_source', 'purchases_per_minute'] as const;

function progressLine(m: PipelineMetrics, produced: number, prevIn: number, secs: number): string {
  const bronze = m.sinks.get('bronze');
  const h = bronze?.ingestLatencyMs;
  const latency = h ? `${Math.round(h.quantile(0.5))}/${Math.round(h.quantile(0.99))} ms` : '-';
  const upserts = REALTIME.map((s) => m.sinks.get(s)?.rows ?? 0).reduce((a, b) => a + b, 0);
  return (
    `generated ${produced}  read ${m.recordsIn}  ${Math.round((m.recordsIn - prevIn) / secs)} events/s  lag ${m.totalLag()}  ` +
    `bronze ${bronze?.rows ?? 0} rows  realtime upserts ${upserts}  latency p50/p99 ${latency}  ` +
    `DLQ ${m.dlqWritten} (late ${m.late})  duplicates dropped ${m.deduplicated}`
  );
}

export interface ClickstreamDemoArgs {
  dataDir: string;
  log: Awaited<ReturnType<typeof openLogFromArgs>>;
  values: {
    events?: string;
    rate?: string;
    seed?: string;
    postgres?: string;
    'postgres-port'?: string;
    'batch-every'?: string;
  };
  signal: AbortSignal;
  /** On a terminal: the live panel's title, data directory and URL. */
  panel?: DemoPanel;
  /** Where the demo's server sees its pipeline (and its jobs' runs). */
  pipelines?: RunningPipelines;
  /** Given the project once loaded: the demo's server shows its jobs. */
  jobs?: { project?: Project };
}

export async function clickstreamDemo({
  dataDir,
  log,
  values,
  signal,
  pipelines,
  jobs,
  panel,
}: ClickstreamDemoArgs): Promise<number> {
  const events = intOption('events', values.events, 1);
  const rate = intOption('rate', values.rate, 1) ?? 1_000;
  const seed = intOption('seed', values.seed) ?? Date.now() % 2 ** 31;
  const loaded = builtinDefinitionSync('clickstream');
  const pg = await openPostgresFromArgs(loaded.definition, values, dataDir, (l) =>
    console.log(l.replace(/^tributary: /, '')),
  );
  let pipeline: Pipeline;
  let tables: Map<string, string>;
  let deltaTables: ReadonlyMap<string, { store: ObjectStore }>;
  try {
    const compiled = await compilePipeline(loaded, { dataDir, log, postgres: pg!.pool });
    pipeline = compiled.pipeline;
    tables = sinkTables(compiled);
    deltaTables = compiled.tables;
  } catch (err) {
    await pg?.close();
    throw err;
  }
  const entry = pipelines?.register({ pipeline, sinkTables: tables });
  console.log(
    `demo clickstream: log ${log.description}, bronze table in ${dataDir}/tables/bronze_user_events, ${rate} events/s`,
  );
  if (pg?.embedded) {
    console.log(
      `realtime tables in the embedded PostgreSQL; while the demo runs, try:\n` +
        `  ${pg.embedded.psql} -c "SELECT * FROM realtime.events_per_minute ORDER BY window_start DESC, event_type LIMIT 12"`,
    );
  } else {
    console.log(`realtime tables in ${pg!.describe} (schema realtime)`);
  }
  // The batch layer: the clickstream project's daily job (bronze → silver → gold →
  // PostgreSQL gold.*) on its schedule, and for today every --batch-every.
  const { project, scheduler, jobOptions } = await startProjectScheduler(
    'clickstream',
    dataDir,
    async () => pg!.pool,
    (line) => console.log(`batch layer: ${line}`),
    pipelines?.jobs.onEvent,
  );
  if (jobs) jobs.project = project;
  const job = findJob(project, 'lakehouse_bronze_to_gold');
  const jobOpts = { ...jobOptions, log: () => {} };
  const every = values['batch-every'] ?? '2 minutes';
  const everyMs = parseDuration(every);
  const today = () => new Date().toISOString().slice(0, 10);
  let batchRun: Promise<unknown> = Promise.resolve();
  const runBatchLayer = () => {
    batchRun = batchRun.then(() =>
      runJob(job, { ...jobOpts, date: today() }).catch((err) => {
        console.log(`batch layer: ${err instanceof Error ? err.message : String(err)}`);
      }),
    );
    return batchRun;
  };
  const batchTicker = setInterval(() => void runBatchLayer(), everyMs);
  console.log(
    `batch layer: ${job.name} (silver, 4 gold tables, PostgreSQL gold.*) for today every ${every}, and daily at 00:15 UTC for the day before`,
  );
  let prevIn = 0;
  try {
    await generateAndDrain({
      pipeline,
      entry,
      signal,
      ...(panel && {
        panel: {
          ...panel,
          tables: deltaTables,
          extra: () => {
            const m = pipeline.metrics;
            const upserts = REALTIME.map((s) => m.sinks.get(s)?.rows ?? 0).reduce((a, b) => a + b, 0);
            return [`realtime upserts ${upserts} · batch layer every ${every}`];
          },
        },
      }),
      generate: (onProgress) => generateClickstream({ log, count: events, rate, seed, signal, onProgress }),
      progress: (produced, secs) => {
        const line = progressLine(pipeline.metrics, produced, prevIn, secs);
        prevIn = pipeline.metrics.recordsIn;
        return line;
      },
    });
    clearInterval(batchTicker);
    // Every event generated and counted: the batch layer once more, over all of it.
    if (!signal.aborted) await runBatchLayer();
    return 0;
  } finally {
    clearInterval(batchTicker);
    await batchRun;
    await scheduler.stop();
    await pipeline.close();
    await pg?.close();
  }
}
