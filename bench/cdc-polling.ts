/**
 * The polling capture and the food-orders pipeline (pipelines/cdc.yaml), measured:
 *
 * - **Throughput.** `--rows` orders (default 100,000) are in the table before the start
 *   (cursor created_at). Measured separately: the capture alone until caught up (rows/s
 *   published into the embedded log), then the pipeline alone until caught up (rows/s
 *   landed into food.orders, food.orders_failed and the mirror), then both together from
 *   scratch (rows/s from the table to the lake). At the seed's batch_limit (1000) and at
 *   `--big-limit` (default 10,000).
 * - **Latency.** A workload inserts `--rate` orders/s (default 1,000) for `--duration`
 *   seconds (default 30) while capture and pipeline run. For each row: the commit time of
 *   the food.orders version that added it (queryable from then on) minus the row's
 *   created_at (the time of its transaction: the workload's are a few ms long). At the
 *   seed's settings (poll 5 s, batch 1000, delay 1 s) and tuned ones (poll 100 ms, batch
 *   10,000, delay 0: safe here, the workload's transactions never overlap).
 *
 *   node bench/cdc-polling.ts [--postgres URL] [--rows N] [--big-limit N] [--rate R] [--duration S]
 *
 * Without `--postgres`: the embedded PGlite (in this process). With it: a fresh database
 * on that server. Writes bench/results/cdc-polling-<target>.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PollingCapture } from '../src/connectors/postgres/capture/polling.ts';
import { parseCapturedTable } from '../src/connectors/postgres/capture/table-info.ts';
import { openLog } from '../src/log/open.ts';
import { builtinDefinitionSync } from '../src/pipeline/builtin.ts';
import { compilePipeline } from '../src/pipeline/compile.ts';
import { fromObject } from '../src/pipeline/load.ts';
import { applySet } from '../src/pipeline/overrides.ts';
import { runWithCapture } from '../src/pipeline/with-capture.ts';
import { createStatements, FOOD_ORDERS_TOPIC } from '../src/scenarios/food-orders/schema.ts';
import { FoodOrdersWorkload } from '../src/scenarios/food-orders/workload.ts';
import { LocalStore } from '../src/storage/local.ts';
import { openConnection, readChanges } from '../src/table/index.ts';
import { DeltaTable } from '../src/table/table.ts';
import { type BenchTarget, openTarget } from './postgres-target.ts';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'string' },
    rows: { type: 'string', default: '100000' },
    'big-limit': { type: 'string', default: '10000' },
    rate: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '30' },
  },
});
const ROWS = Number(args.rows);
const RATE = Number(args.rate);
const DURATION = Number(args.duration);

interface Settings {
  pollInterval: string;
  batchLimit: number;
  delay: string;
}

async function withRun<T>(
  settings: Settings,
  fn: (ctx: {
    target: BenchTarget;
    dir: string;
    build: () => Promise<{
      capture: PollingCapture;
      pipeline: Awaited<ReturnType<typeof compilePipeline>>['pipeline'];
    }>;
  }) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-cdc-'));
  const target = await openTarget({ postgres: args.postgres, dataDir: dir });
  const log = await openLog({ dataDir: join(dir, 'data') });
  const closers: Array<() => Promise<void>> = [];
  try {
    const s = await target.pool.connect();
    for (const sql of createStatements()) await s.query(sql);
    s.release();
    let def = builtinDefinitionSync('cdc').definition;
    for (const set of [
      'source.capture.cursor=created_at',
      `source.capture.poll_interval=${settings.pollInterval}`,
      `source.capture.batch_limit=${settings.batchLimit}`,
      `source.capture.delay=${settings.delay}`,
      'runtime.trigger=50ms',
    ])
      def = applySet(def, set);
    const cap = 'topic' in def.source ? def.source.capture! : undefined;
    const build = async () => {
      const { pipeline } = await compilePipeline(fromObject(def), { dataDir: join(dir, 'data'), log });
      const capture = new PollingCapture({
        name: 'cdc',
        url: target.url,
        table: parseCapturedTable(cap!.table),
        key: ['order_id'],
        log,
        topic: FOOD_ORDERS_TOPIC,
        partitions: 3,
        format: 'flat',
        stateDir: join(dir, 'data', 'capture', 'cdc'),
        cursor: 'created_at',
        pollIntervalMs:
          Number.parseFloat(settings.pollInterval) * (settings.pollInterval.endsWith('ms') ? 1 : 1000),
        batchLimit: settings.batchLimit,
        delayMs: Number.parseFloat(settings.delay) * (settings.delay.endsWith('ms') ? 1 : 1000),
        report: () => {},
      });
      closers.push(async () => {
        await capture.close();
        await pipeline.close();
      });
      return { capture, pipeline };
    };
    return await fn({ target, dir, build });
  } finally {
    for (const c of closers) await c();
    await log.close();
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function fill(target: BenchTarget, n: number): Promise<void> {
  for (let done = 0; done < n; done += 50_000) {
    const k = Math.min(50_000, n - done);
    await target.query(
      `INSERT INTO "2025em1100102_orders" (customer_name, restaurant_name, item, amount, order_status, created_at, updated_at)
       SELECT 'Customer ' || g, 'Spice Garden', 'Butter Chicken', 350.00, 'DELIVERED',
         timestamptz '2025-11-18 10:00:00+00' + (g / 7) * interval '1 millisecond', now()
       FROM generate_series(${done + 1}, ${done + k}) g`,
    );
  }
}

const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));

async function throughput(batchLimit: number) {
  const settings = { pollInterval: '5s', batchLimit, delay: '1s' };
  const separate = await withRun(settings, async ({ target, build }) => {
    await fill(target, ROWS);
    const { capture, pipeline } = await build();
    let t0 = performance.now();
    await capture.run({ untilCaughtUp: true });
    const captureMs = performance.now() - t0;
    t0 = performance.now();
    await pipeline.run({ untilCaughtUp: true });
    const landMs = performance.now() - t0;
    return { captured: capture.metrics.published, captureMs, landMs, polls: capture.metrics.batches };
  });
  const together = await withRun(settings, async ({ target, build }) => {
    await fill(target, ROWS);
    const { capture, pipeline } = await build();
    const t0 = performance.now();
    await runWithCapture(pipeline, capture, { untilCaughtUp: true });
    return { ms: performance.now() - t0, landed: pipeline.metrics.recordsIn };
  });
  return {
    batchLimit,
    rows: ROWS,
    captureRowsPerSec: rate(separate.captured, separate.captureMs),
    polls: separate.polls,
    landRowsPerSec: rate(separate.captured, separate.landMs),
    endToEndRowsPerSec: rate(together.landed, together.ms),
    endToEndSeconds: Math.round(together.ms / 100) / 10,
  };
}

async function latency(label: string, settings: Settings) {
  return withRun(settings, async ({ target, dir, build }) => {
    const { capture, pipeline } = await build();
    const stop = new AbortController();
    const running = runWithCapture(pipeline, capture, { signal: stop.signal });
    const stats = await new FoodOrdersWorkload({
      db: target.pool,
      rate: RATE,
      mix: { insert: 1, update: 0, delete: 0 },
      invalidRate: 0,
      count: RATE * DURATION,
      tickMs: 20,
      seed: 9,
    }).run();
    // Let the last rows land (at most a poll interval, the delay and a batch), then stop.
    await new Promise((r) =>
      setTimeout(
        r,
        Number.parseFloat(settings.pollInterval) * (settings.pollInterval.endsWith('ms') ? 1 : 1000) + 3_000,
      ),
    );
    stop.abort();
    await running;
    await runWithCapture(pipeline, capture, { untilCaughtUp: true });
    const table = await DeltaTable.open(new LocalStore(join(dir, 'data', 'tables', 'food', 'orders')));
    const versions = await readChanges(table, 'orders', 0, {
      maxRows: Number.MAX_SAFE_INTEGER,
      maxVersions: 1_000_000,
    });
    const conn = await openConnection();
    const lat: number[] = [];
    try {
      for (const v of versions) {
        if (v.files.length === 0) continue;
        const list = v.files.map((f) => `'${f.localPath}'`).join(', ');
        const r = await conn.runAndReadAll(`SELECT epoch_ms(created_at) FROM read_parquet([${list}])`);
        for (const [ms] of r.getRows()) lat.push(v.timestamp - Number(ms));
      }
    } finally {
      conn.closeSync();
    }
    lat.sort((a, b) => a - b);
    const q = (p: number) => Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]);
    return {
      label,
      ...settings,
      rate: RATE,
      seconds: DURATION,
      inserted: stats.inserted,
      landed: lat.length,
      p50Ms: q(0.5),
      p99Ms: q(0.99),
      maxMs: Math.round(lat.at(-1) ?? 0),
    };
  });
}

const started = Date.now();
const result = {
  target: args.postgres ? 'postgres' : 'pglite',
  machine: { load: loadavg().map((x) => Math.round(x * 10) / 10) },
  throughput: [await throughput(1000), await throughput(Number(args['big-limit']))],
  latency: [
    await latency('seed settings', { pollInterval: '5s', batchLimit: 1000, delay: '1s' }),
    await latency('tuned', { pollInterval: '100ms', batchLimit: 10_000, delay: '0s' }),
  ],
  seconds: Math.round((Date.now() - started) / 1000),
};
console.log(JSON.stringify(result, null, 2));
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(
  join(import.meta.dirname, 'results', `cdc-polling-${result.target}.json`),
  `${JSON.stringify(result, null, 2)}\n`,
);
