/**
 * The orders pipeline end to end on the embedded log (both sinks committed):
 *
 * 1. throughput: `--events` order events (default 2,000,000) are generated first, then the
 *    pipeline drains them; events/s = events / drain time, with the time per stage.
 * 2. latency at a fixed rate: the generator runs as a separate process at `--rate`
 *    events/s (default 50,000, the seed's figure) for `--duration` seconds (default 20)
 *    while the pipeline runs; latency = commit of the last sink − the record's log
 *    timestamp (event to queryable in both tables), p50/p99, and per table.
 *    `--current-commit-ms` sets how often orders_current is merged (default 0: as soon
 *    as the previous MERGE finished); `--current-file-mb` the size of the files MERGEs
 *    write (default 1).
 *
 *   node bench/orders-pipeline.ts [--events N] [--rate R] [--duration S] [--max-records N]
 *     [--current-commit-ms MS] [--current-file-mb MB] [--no-read-ahead] [--duckdb-threads N]
 *     [--no-table-fsync] [--kafka BROKERS] [--malformed-rate F]
 *
 * `--no-table-fsync` opens the tables' stores with `durable: false` (docs/storage.md), to
 * measure what syncing the tables' files costs.
 *
 * With `--kafka`, the events go through a Kafka broker (a fresh topic per run) instead
 * of the embedded log; the tables stay on the local disk. `--malformed-rate` sets the
 * share of malformed events of the throughput run (the generator's default 0.002; the
 * DLQ gets them and the invalid ones, about 0.2 % of events by default).
 *
 * Prints the figures and writes bench/results/orders-pipeline.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Log } from '../src/log/log.ts';
import { openLog } from '../src/log/open.ts';
import { generateOrders } from '../src/scenarios/orders/generate.ts';
import { ordersPipeline } from '../src/scenarios/orders/pipeline.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '2000000' },
    rate: { type: 'string', default: '50000' },
    duration: { type: 'string', default: '20' },
    'max-records': { type: 'string', default: '200000' },
    skip: { type: 'string', default: '' },
    'current-commit-ms': { type: 'string', default: '0' },
    'current-file-mb': { type: 'string', default: '1' },
    'no-read-ahead': { type: 'boolean', default: false },
    'duckdb-threads': { type: 'string', default: '1' },
    'no-table-fsync': { type: 'boolean', default: false },
    kafka: { type: 'string' },
    'malformed-rate': { type: 'string' },
  },
});
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const maxRecords = Number(args['max-records']);

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}
const currentCommitMs = Number(args['current-commit-ms']);
/** A topic of its own per run on Kafka (topics outlive the run there); `orders` on the embedded log. */
const topicFor = (what: string) =>
  args.kafka ? `orders-bench-${what}-${process.pid}-${Date.now()}` : 'orders';
const currentFileSize = Number(args['current-file-mb']) * 1024 * 1024;

/** The orders pipeline with the options given on the command line. */
function openPipeline(dir: string, log: Log, topic: string) {
  return ordersPipeline({
    dataDir: dir,
    log,
    topic,
    maxRecordsPerBatch: maxRecords,
    currentCommitMs,
    currentFileSize,
    readAhead: !args['no-read-ahead'],
    duckdbThreads: Number(args['duckdb-threads']),
    durableTables: !args['no-table-fsync'],
  });
}

async function throughput(events: number) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-orders-tp-'));
  try {
    const log = await openLog({ dataDir: dir, kafka: args.kafka });
    const topic = topicFor('tp');
    const g0 = performance.now();
    await generateOrders({
      log,
      count: events,
      seed: 1,
      topic,
      ...(args['malformed-rate'] !== undefined && { malformedRate: Number(args['malformed-rate']) }),
    });
    const genMs = performance.now() - g0;
    const { pipeline } = await openPipeline(dir, log, topic);
    const stages: Record<string, number> = {};
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await pipeline.run({
      untilCaughtUp: true,
      onBatch: (r) => {
        for (const [k, v] of Object.entries(r.stages)) stages[k] = (stages[k] ?? 0) + v;
      },
    });
    const ms = performance.now() - t0;
    const cpuMs = cpuMsSince(c0);
    const m = pipeline.metrics;
    await pipeline.close();
    await log.close();
    return {
      events,
      // User + system CPU of this process (all DuckDB threads): steadier than wall time on a shared machine.
      cpuMs: Math.round(cpuMs),
      eventsPerCpuSec: Math.round(events / (cpuMs / 1000)),
      generateEventsPerSec: Math.round(events / (genMs / 1000)),
      drainMs: Math.round(ms),
      eventsPerSec: Math.round(events / (ms / 1000)),
      batches: m.batches,
      stageMs: stages,
      rowsEvents: m.sinks.get('orders_events')?.rows,
      rowsCurrent: m.sinks.get('orders_current')?.rows,
      dlq: m.dlqWritten,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function latency(rate: number, seconds: number) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-orders-lat-'));
  try {
    const log = await openLog({ dataDir: dir, kafka: args.kafka });
    const topic = topicFor('lat');
    const { pipeline } = await openPipeline(dir, log, topic);
    const events = rate * seconds;
    const gen = spawn(
      process.execPath,
      [
        join(root, 'bin', 'tributary.js'),
        'generate',
        'orders',
        '--events',
        String(events),
        '--rate',
        String(rate),
        '--data-dir',
        dir,
        '--topic',
        topic,
        ...(args.kafka ? ['--kafka', args.kafka] : []),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const genDone = new Promise<number | null>((r) => gen.on('exit', (code) => r(code)));
    const stop = new AbortController();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const running = pipeline.run({ signal: stop.signal });
    const code = await genDone;
    stop.abort();
    await running;
    await pipeline.run({ untilCaughtUp: true });
    const ms = performance.now() - t0;
    const cpuMs = cpuMsSince(c0);
    const m = pipeline.metrics;
    await pipeline.close();
    await log.close();
    if (code !== 0) throw new Error(`generator exited with ${code}`);
    return {
      rate,
      seconds,
      events,
      wallMs: Math.round(ms),
      eventsPerSec: Math.round(events / (ms / 1000)),
      pipelineCpuMs: Math.round(cpuMs),
      batches: m.batches,
      // Log timestamp → committed by both sinks.
      latencyMs: {
        p50: Math.round(m.ingestLatencyMs.quantile(0.5)),
        p99: Math.round(m.ingestLatencyMs.quantile(0.99)),
      },
      latencyBySinkMs: Object.fromEntries(
        [...m.sinks].map(([name, c]) => [
          name,
          {
            p50: Math.round(c.ingestLatencyMs.quantile(0.5)),
            p99: Math.round(c.ingestLatencyMs.quantile(0.99)),
          },
        ]),
      ),
      batchMs: { p50: Math.round(m.batchMs.quantile(0.5)), p99: Math.round(m.batchMs.quantile(0.99)) },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const result: Record<string, unknown> = {
  date: new Date().toISOString(),
  maxRecordsPerBatch: maxRecords,
  currentCommitMs,
  currentFileSize,
  readAhead: !args['no-read-ahead'],
  duckdbThreads: Number(args['duckdb-threads']),
  tableFsync: !args['no-table-fsync'],
  log: args.kafka ? `kafka ${args.kafka}` : 'embedded',
};
if (!args.skip.includes('throughput')) {
  result.throughput = await throughput(Number(args.events));
  console.log('throughput', JSON.stringify(result.throughput));
}
if (!args.skip.includes('latency')) {
  result.latency = await latency(Number(args.rate), Number(args.duration));
  console.log('latency', JSON.stringify(result.latency));
}
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'orders-pipeline.json'), `${JSON.stringify(result, null, 2)}\n`);
