/**
 * `tributary demo <scenario>`: generator + log + pipeline + maintenance in one process on
 * the embedded defaults, with live progress every second.
 */
import type { Project } from '../../jobs/scheduler/index.ts';
import type { Log } from '../../log/log.ts';
import { generateOrders } from '../../scenarios/orders/generate.ts';
import { ordersPipeline } from '../../scenarios/orders/pipeline.ts';
import { RunningPipelines } from '../../server/pipelines/registry.ts';
import type { PipelineMetrics } from '../../stream/metrics.ts';
import { isLive, PLAIN_OPTION, PLAIN_USAGE, printFolded } from '../terminal.ts';
import { CAPTURE_OPTIONS, CAPTURE_OPTIONS_USAGE } from './capture-args.ts';
import { cdcDemo } from './demo-cdc.ts';
import { clickstreamDemo } from './demo-clickstream.ts';
import { ordersExamples, ordersSummary } from './demo-orders-report.ts';
import { type DemoPanel, generateAndDrain } from './demo-run.ts';
import { saasDemo } from './demo-saas.ts';
import { printExamples } from './demo-try.ts';
import { intOption, LOG_OPTIONS, LOG_OPTIONS_USAGE, openLogFromArgs } from './log-args.ts';
import { DEFAULT_DATA_DIR, parseCommand, scenarioArg } from './options.ts';
import { POSTGRES_OPTIONS, POSTGRES_OPTIONS_USAGE } from './postgres-args.ts';
import {
  optionalPortArg,
  portOption,
  SERVE_BESIDE_OPTIONS,
  SERVE_BESIDE_USAGE,
  type ServingBeside,
  serveBeside,
} from './serve-beside.ts';
import { onStopSignals } from './stop-signals.ts';

const USAGE = `usage: tributary demo <orders | clickstream | cdc | saas> [options]

orders       Generates order events (seed 001), runs the orders pipeline into
             DATA_DIR/tables/orders_events and orders_current.
clickstream  Generates user events (seed 002), runs the clickstream pipeline into the
             bronze table DATA_DIR/tables/bronze_user_events and the realtime.* tables
             of the embedded PostgreSQL (DATA_DIR/postgres), served on 127.0.0.1 for psql
             or any BI tool while the demo runs (the command to connect is printed).
cdc          Seed 003's food orders: the table 2025em1100102_orders in the embedded
             PostgreSQL (with the seed's rows) changed by a workload (inserts, updates,
             deletes), captured by polling into topic 2025em1100102_food_orders_raw, validated
             and landed as food.orders (valid changes, by date), food.orders_failed and
             food.orders_current (the table's mirror); at the end the lake is compared with
             the source table. --source URL uses a server of yours instead.
saas         Seed 004's SaaS sales events in Avro: the schema registry served on
             127.0.0.1:8081 (or a free port), the generator registering sales_event v1,
             then v2 midway (accepted) and the breaking v3 (refused with 409), the
             pipeline saas into DATA_DIR/tables/sales_bronze, sales_silver,
             sales_revenue_5m (5-minute revenue) and sales_late_events, invalid records to
             topic sales.events.dlq.v1 (docs/saas-sales.md).

Each prints progress every second or two (events/s, lag, latency, DLQ count; on a
terminal, a status panel redrawn in place), and serves
the HTTP API beside it (the URL is printed): the tables, the pipeline's status at
/api/v1/pipelines, /metrics, ingest. Ctrl-C stops cleanly; query the tables afterwards
with 'tributary query' (and psql for PostgreSQL); saas prints queries to try at the end.

options:
  --events N   stop after N generated events (cdc: changes) once the pipeline has caught up
  --rate R     generated events per second (orders: default 50000, the seed's target;
               clickstream and saas: default 1000 — the seed's producer sends 5; cdc: 20 changes/s)
  --seed S     generator seed (default: from the clock)
  --batch-every D  clickstream: run the batch layer's daily job (silver, gold, PostgreSQL
               gold.*) for today this often (default 2 minutes), and once more at the end
  --poll-interval D  cdc: poll the table this often (default 5s, the seed's)
  --switch-at N  saas: register schema v2 (and try v3) after N events (default: half of
               --events, or 30 seconds' worth of --rate without --events)
  --registry-port N  saas: serve the schema registry on this port (default 8081, or a
               free one when 8081 is taken; 0: a free one)
  --serve PORT the HTTP API's port (default 8080, or a free one when 8080 is taken; 0: a
               free one)
  --no-serve   no HTTP API
${PLAIN_USAGE}

${SERVE_BESIDE_USAGE}

${CAPTURE_OPTIONS_USAGE}

${POSTGRES_OPTIONS_USAGE}

${LOG_OPTIONS_USAGE}`;

const OPTIONS = {
  ...LOG_OPTIONS,
  ...POSTGRES_OPTIONS,
  events: { type: 'string' },
  rate: { type: 'string' },
  seed: { type: 'string' },
  'batch-every': { type: 'string' },
  'poll-interval': { type: 'string' },
  'switch-at': { type: 'string' },
  'registry-port': { type: 'string' },
  serve: { type: 'string' },
  'no-serve': { type: 'boolean' },
  ...SERVE_BESIDE_OPTIONS,
  ...CAPTURE_OPTIONS,
  ...PLAIN_OPTION,
} as const;

/** The HTTP API's port in a demo (a free one when it is taken). */
const DEMO_PORT = 8080;

function latency(m: PipelineMetrics, sink: string): string {
  const h = m.sinks.get(sink)?.ingestLatencyMs;
  return h ? `${Math.round(h.quantile(0.5))}/${Math.round(h.quantile(0.99))} ms` : '-';
}

function progressLine(m: PipelineMetrics, produced: number, prevRows: number, secs: number): string {
  const rows = m.sinks.get('orders_events')?.rows ?? 0;
  const rate = Math.round((rows - prevRows) / secs);
  return (
    `generated ${produced}  committed ${rows}  ${rate} events/s  lag ${m.totalLag()}  ` +
    `latency p50/p99 orders_events ${latency(m, 'orders_events')}, orders_current ${latency(m, 'orders_current')}  ` +
    `DLQ ${m.dlqWritten}  duplicates ${m.sinks.get('orders_events')?.duplicates ?? 0}`
  );
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(USAGE, OPTIONS, optionalPortArg(args, '--serve', DEMO_PORT));
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const scenario = scenarioArg('demo', positionals, USAGE, ['orders', 'clickstream', 'cdc', 'saas']);
  if (typeof scenario === 'number') return scenario;
  const dataDir = values['data-dir'] ?? process.env.TRIBUTARY_DATA_DIR ?? DEFAULT_DATA_DIR;
  const port = portOption('serve', values.serve) ?? DEMO_PORT;
  // The demo's pipelines, as its server shows them.
  const pipelines = new RunningPipelines();
  // The jobs of the demo's project (clickstream's batch layer), once it has loaded them.
  const jobs: { project?: Project } = {};
  const serve = (log: Log): Promise<ServingBeside | undefined> =>
    values['no-serve']
      ? Promise.resolve(undefined)
      : serveBeside({
          dataDir,
          log,
          pipelines,
          values,
          port,
          orFreePort: values.serve === undefined,
          // On a terminal, long lines folded at their commas rather than wrapped mid-word.
          say: (line) => printFolded(line, live),
          jobs: { project: () => jobs.project, log: () => {} },
        });
  // On a terminal, a live panel in place of the progress lines (docs/cli.md).
  const live = isLive(process.stdout, values.plain);
  const panelOf = (serving: ServingBeside | undefined): DemoPanel | undefined =>
    live ? { title: `demo ${scenario}`, dataDir, ...(serving && { url: serving.url }) } : undefined;
  if (scenario === 'clickstream' || scenario === 'cdc' || scenario === 'saas') {
    const log = await openLogFromArgs(values);
    const stop = new AbortController();
    const removeSignals = onStopSignals(() => {
      console.log('\nstopping after the batch in flight...');
      stop.abort();
    });
    let serving: ServingBeside | undefined;
    try {
      serving = await serve(log);
      const signal = stop.signal;
      const panel = panelOf(serving);
      if (scenario === 'cdc') return await cdcDemo({ dataDir, log, values, signal, pipelines, panel });
      if (scenario === 'saas') {
        const kafka = values.kafka ?? (process.env.TRIBUTARY_KAFKA || undefined);
        return await saasDemo({ dataDir, log, kafka, values, signal, pipelines, panel });
      }
      return await clickstreamDemo({ dataDir, log, values, signal, pipelines, jobs, panel });
    } finally {
      removeSignals();
      await serving?.stop();
      pipelines.close();
      await log.close();
    }
  }
  const events = intOption('events', values.events, 1);
  const rate = intOption('rate', values.rate, 1) ?? 50_000;
  const seed = intOption('seed', values.seed) ?? Date.now() % 2 ** 31;
  const log = await openLogFromArgs(values);
  const stop = new AbortController();
  const removeSignals = onStopSignals(() => {
    console.log('\nstopping after the batch in flight...');
    stop.abort();
  });
  let serving: ServingBeside | undefined;
  let pipeline: Awaited<ReturnType<typeof ordersPipeline>>['pipeline'];
  let tables: Awaited<ReturnType<typeof ordersPipeline>>['tables'];
  try {
    ({ pipeline, tables } = await ordersPipeline({ dataDir, log }));
    serving = await serve(log);
  } catch (err) {
    removeSignals();
    await log.close();
    throw err;
  }
  const entry = pipelines.register({
    pipeline,
    sinkTables: new Map([
      ['orders_events', 'orders_events'],
      ['orders_current', 'orders_current'],
    ]),
  });
  printFolded(`demo orders: log ${log.description}, tables in ${dataDir}/tables, ${rate} events/s`, live);
  let prevRows = 0;
  try {
    const produced = await generateAndDrain({
      pipeline,
      entry,
      signal: stop.signal,
      panel: panelOf(serving),
      generate: (onProgress) =>
        generateOrders({ log, count: events, rate, seed, signal: stop.signal, onProgress }),
      progress: (produced, secs) => {
        const line = progressLine(pipeline.metrics, produced, prevRows, secs);
        prevRows = pipeline.metrics.sinks.get('orders_events')?.rows ?? 0;
        return line;
      },
    });
    for (const line of await ordersSummary(pipeline.metrics, produced, dataDir, tables))
      printFolded(line, live);
    const kafka = values.kafka ?? (process.env.TRIBUTARY_KAFKA || undefined);
    printExamples(ordersExamples(dataDir, kafka), live);
    return 0;
  } finally {
    removeSignals();
    await serving?.stop();
    pipelines.close();
    await pipeline.close();
    await log.close();
  }
}
