/**
 * The polling capture and the food-orders pipeline (pipelines/cdc.yaml), measured with
 * the harness of bench/cdc-lake.ts (which says exactly what each figure is):
 *
 * - **Throughput.** `--rows` orders (default 100,000) are in the table before the start
 *   (cursor created_at, the seed's): the capture alone until caught up, the pipeline
 *   alone, then both together from scratch. At the seed's batch_limit (1000) and at
 *   `--big-limit` (default 10,000).
 * - **Latency.** A workload inserts `--rate` orders/s (default 1,000) for `--duration`
 *   seconds (default 30) while capture and pipeline run; per row, the commit time of the
 *   food.orders version that added it minus its commit time in PostgreSQL (for polling
 *   by created_at: its created_at, the time of its transaction, a few ms long). At the
 *   seed's settings (poll 5 s, batch 1000, delay 1 s) and tuned ones (poll 100 ms,
 *   batch 10,000, delay 0: safe here, the workload's transactions never overlap).
 *
 * The pipeline's trigger is `--trigger` (default 50ms; the runtime's own default is 200ms).
 *
 *   node bench/cdc-polling.ts [--postgres URL] [--rows N] [--big-limit N] [--rate R] [--duration S] [--trigger D]
 *
 * Without `--postgres`: the embedded PGlite (in this process). With it: a fresh database
 * on that server. Writes bench/results/cdc-polling-<target>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { lakeLatency, lakeThroughput } from './cdc-lake.ts';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'string' },
    rows: { type: 'string', default: '100000' },
    'big-limit': { type: 'string', default: '10000' },
    rate: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '30' },
    trigger: { type: 'string', default: '50ms' },
  },
});
const ROWS = Number(args.rows);

interface Settings {
  pollInterval: string;
  batchLimit: number;
  delay: string;
}

const sets = (s: Settings) => [
  'source.capture.cursor=created_at',
  `source.capture.poll_interval=${s.pollInterval}`,
  `source.capture.batch_limit=${s.batchLimit}`,
  `source.capture.delay=${s.delay}`,
  `runtime.trigger=${args.trigger}`,
];
const ms = (d: string) => Number.parseFloat(d) * (d.endsWith('ms') ? 1 : 1000);
const load = () => loadavg().map((x) => Math.round(x * 10) / 10);

async function throughput(batchLimit: number) {
  return lakeThroughput({
    postgres: args.postgres,
    mode: 'polling',
    sets: sets({ pollInterval: '5s', batchLimit, delay: '1s' }),
    rows: ROWS,
    txnRows: 50_000,
  });
}

async function latency(label: string, settings: Settings) {
  const r = await lakeLatency({
    postgres: args.postgres,
    mode: 'polling',
    sets: sets(settings),
    rate: Number(args.rate),
    seconds: Number(args.duration),
    mix: { insert: 1, update: 0, delete: 0 },
    // Let the last rows land: at most a poll interval, the delay and a batch.
    settleMs: ms(settings.pollInterval) + 3_000,
  });
  return { label, ...settings, ...r };
}

const started = Date.now();
const loadAtStart = load();
const result = {
  target: args.postgres ? 'postgres' : 'pglite',
  date: new Date().toISOString(),
  trigger: args.trigger,
  throughput: [await throughput(1000), await throughput(Number(args['big-limit']))],
  latency: [
    await latency('seed settings', { pollInterval: '5s', batchLimit: 1000, delay: '1s' }),
    await latency('tuned', { pollInterval: '100ms', batchLimit: 10_000, delay: '0s' }),
  ],
  machine: { loadAtStart, loadAtEnd: load() },
  seconds: Math.round((Date.now() - started) / 1000),
};
console.log(JSON.stringify(result, null, 2));
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(
  join(import.meta.dirname, 'results', `cdc-polling-${result.target}.json`),
  `${JSON.stringify(result, null, 2)}\n`,
);
