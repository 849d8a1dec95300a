/**
 * The orders dashboard over a 10,000,000-row lake, through real HTTP, and the status
 * endpoints' requests per second.
 *
 *   node bench/dashboard-latency.ts [--dir DIR] [--events N] [--sim-rate R] [--batch N]
 *     [--samples 20] [--status-seconds 5] [--concurrency 16] [--label NAME] [--skip status]
 *
 * 1. The lake (bench/dashboard-build.ts): built once into `--dir` (default
 *    .cache/bench/dashboard-<events>) by the orders pipeline from generated events at
 *    `--sim-rate` events per second of event time, in batches of `--batch`; later runs
 *    reuse it. Each run serves a copy (data files hard-linked: they are never changed).
 * 2. The server as `tributary run orders --serve` builds it (createServer with the
 *    dashboard, the SQL sandbox, ingest into the log, the running pipeline registered),
 *    HS256 tokens checked on every request.
 * 3. Cold: `--samples` times, the orders pipeline commits one more batch (2,000 events,
 *    8 s of event time, into both tables), then GET /api/v1/dashboards/orders: the page's
 *    full refresh, its SQL panels run at the new versions (their times from the answer's
 *    Server-Timing header), then each SQL panel's query (the answer's `sql`, pinned to
 *    the versions) through POST /api/v1/sql, as the panel's SQL link runs it.
 *    Warm: GET /api/v1/dashboards/orders again with no new commit (≥ 0.6 s apart, so the
 *    server looks for new versions each time).
 * 4. Status: GET /api/v1/pipelines, /health, /ready, /metrics, /api/v1/tables from a child
 *    process (`--concurrency` requests at a time over keep-alive connections), requests/s
 *    and per server CPU-second.
 *
 * `--maintained`: first the pipeline's hourly maintenance on the copy (OPTIMIZE into large
 * files, checkpoint, VACUUM, as pipelines/orders.yaml sets it for each table): the lake as
 * a pipeline running for hours leaves it, instead of every small file of every batch.
 *
 * Prints the figures and writes bench/results/dashboard-latency[-LABEL].json.
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    client: { type: 'boolean' },
    dir: { type: 'string' },
    events: { type: 'string', default: '10075000' },
    'sim-rate': { type: 'string', default: '250' },
    batch: { type: 'string', default: '20000' },
    samples: { type: 'string', default: '20' },
    'status-seconds': { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '16' },
    label: { type: 'string' },
    skip: { type: 'string', default: '' },
    'build-only': { type: 'boolean' },
    maintained: { type: 'boolean' },
  },
});

interface ClientJob {
  url: string;
  token: string;
  seconds: number;
  concurrency: number;
  path: string;
}
interface ClientReport {
  requests: number;
  failures: number;
  seconds: number;
}

async function client(job: ClientJob): Promise<ClientReport> {
  const deadline = performance.now() + job.seconds * 1000;
  let requests = 0;
  let failures = 0;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() < deadline) {
      const res = await fetch(`${job.url}${job.path}`, { headers: { authorization: `Bearer ${job.token}` } });
      await res.arrayBuffer();
      requests++;
      if (res.status !== 200) failures++;
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  return { requests, failures, seconds: (performance.now() - started) / 1000 };
}

async function runClient(job: ClientJob) {
  const child = fork(import.meta.filename, ['--client'], { stdio: 'inherit' });
  const cpu0 = process.cpuUsage();
  const load0 = loadavg()[0];
  const report = await new Promise<ClientReport>((resolve, reject) => {
    child.once('message', (m) => resolve(m as ClientReport));
    child.once('exit', (code) => reject(new Error(`client exited ${code}`)));
    child.send(job);
  });
  const cpu = process.cpuUsage(cpu0);
  return { ...report, serverCpuSeconds: (cpu.user + cpu.system) / 1e6, load: [load0, loadavg()[0]] };
}

/** p-th percentile (nearest rank) of `xs`. */
function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const summary = (xs: number[]) => ({
  n: xs.length,
  p50: Number(pct(xs, 50).toFixed(1)),
  p99: Number(pct(xs, 99).toFixed(1)),
  max: Number(Math.max(...xs).toFixed(1)),
});

function parseServerTiming(header: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (header ?? '').split(',')) {
    const m = /^\s*([\w.-]+);dur=([\d.]+)/.exec(part);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

function push(to: Record<string, number[]>, key: string, value: number): void {
  to[key] = [...(to[key] ?? []), value];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const { buildLake } = await import('./dashboard-build.ts');
  const events = Number(args.events);
  const root = join(import.meta.dirname, '..');
  const cacheDir = args.dir ?? join(root, '.cache', 'bench', `dashboard-${Math.round(events / 1e6)}m`);
  const build = await buildLake(
    {
      dir: cacheDir,
      events,
      simRate: Number(args['sim-rate']),
      batch: Number(args.batch),
      startMs: Date.parse('2026-11-02T00:00:00Z'),
    },
    (s) => console.log(s),
  );
  console.log(
    `lake: ${build.rowsEvents} rows in orders_events, ${build.rowsCurrent} row writes to orders_current, ` +
      `${((build.endMs - build.startMs) / 3_600_000).toFixed(1)} h of event time (built in ${build.buildSeconds} s, ${cacheDir})`,
  );
  if (args['build-only']) return;

  const { OrdersGenerator } = await import('../src/connectors/generators/orders.ts');
  const { ManualClock } = await import('../src/core/clock.ts');
  const { openLog } = await import('../src/log/open.ts');
  const { closeSandbox, configureSandbox, runSandboxedQuery } = await import('../src/query/sandbox.ts');
  const { ordersPipeline } = await import('../src/scenarios/orders/pipeline.ts');
  const { createServer } = await import('../src/server/app.ts');
  const { createToken } = await import('../src/server/auth/token.ts');
  const { createVerifier } = await import('../src/server/auth/verify.ts');
  const { RunningPipelines } = await import('../src/server/pipelines/registry.ts');
  const { dashboardPlugin } = await import('../src/server/plugins/dashboard.ts');
  const { DeltaTable } = await import('../src/table/index.ts');
  const { LocalStore } = await import('../src/storage/local.ts');
  const { produceSimulated } = await import('./dashboard-build.ts');

  const work = mkdtempSync(join(tmpdir(), 'tributary-bench-dashboard-'));
  // Data files and commits are never rewritten in place (a new file, or a rename over):
  // hard links share the cached lake's bytes. The log is copied (segments are appended to).
  execFileSync('cp', ['-al', join(cacheDir, 'tables'), join(work, 'tables')]);
  execFileSync('cp', ['-r', join(cacheDir, 'log'), join(work, 'log')]);
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    label: args.label ?? null,
    maintained: args.maintained ?? false,
    build,
    load_average_start: loadavg().map((x) => Number(x.toFixed(2))),
  };
  if (args.maintained) {
    const { maintainTable } = await import('../src/stream/sinks/maintenance.ts');
    const m0 = performance.now();
    const open = async (name: string) => DeltaTable.open(new LocalStore(join(work, 'tables', name)));
    await maintainTable(await open('orders_events'));
    await maintainTable(await open('orders_current'), {
      targetFileSize: 16 * 1024 * 1024,
      orderBy: ['order_id'],
      olderThanMs: 60_000,
    });
    results.maintenance_s = Math.round((performance.now() - m0) / 1000);
    console.log(`maintenance (OPTIMIZE, checkpoint, VACUUM) of both tables: ${results.maintenance_s} s`);
  }
  const log = await openLog({ dataDir: work });
  // New events go to a topic of their own: the pipeline's progress is per topic.
  const topic = 'orders_live';
  await log.ensureTopic(topic, { partitions: 4 });
  const { pipeline } = await ordersPipeline({
    dataDir: work,
    log,
    topic,
    maxRecordsPerBatch: Number(args.batch),
    maintenanceIntervalMs: 30 * 86_400_000,
  });
  const pipelines = new RunningPipelines();
  const entry = pipelines.register({ pipeline, name: 'orders' });
  entry.running();
  const key = new TextEncoder().encode('a benchmark secret of at least thirty-two bytes');
  configureSandbox({ workers: 2, warm: false });
  const server = createServer({
    dataDir: work,
    port: 0,
    auth: { mode: 'jwt', verifier: createVerifier({ secret: key, secretSource: 'the benchmark' }) },
    pipelines,
    ingest: { log },
    sql: (req) => runSandboxedQuery(req),
    log: () => {},
    plugins: [
      dashboardPlugin({
        dataDir: work,
        log,
        pipelines: () => [{ name: 'orders', metrics: pipeline.metrics }],
        sqlIntervalMs: 0,
      }),
    ],
  });
  const url = await server.start();
  const token = (await createToken({ key, role: 'reader', ttlSeconds: 3600 })).token;
  const auth = { authorization: `Bearer ${token}` };
  const clock = new ManualClock(build.endMs);
  const gen = new OrdersGenerator({ seed: 2, clock, startSequence: 900_000_000 });
  const versionOf = async (name: string) =>
    (await (await DeltaTable.open(new LocalStore(join(work, 'tables', name)))).snapshot()).version;

  const cpu0 = process.cpuUsage();
  try {
    if (!args.skip.includes('dashboard')) {
      const cold: number[] = [];
      const coldCpu: number[] = [];
      const warm: number[] = [];
      const panelCold: Record<string, number[]> = {};
      const sqlRoute: Record<string, number[]> = {};
      let stale = 0;
      const samples = Number(args.samples);
      // One refresh before the samples: the server's first answer also opens the tables.
      const first = performance.now();
      await (await fetch(`${url}/api/v1/dashboards/orders`, { headers: auth })).arrayBuffer();
      results.first_refresh_ms = Number((performance.now() - first).toFixed(1));
      console.log(`first refresh after start: ${results.first_refresh_ms} ms`);
      for (let i = 0; i < samples; i++) {
        await produceSimulated(log, topic, gen, clock, build.simRate, 2000);
        await pipeline.run({ untilCaughtUp: true });
        const want = {
          orders_events: await versionOf('orders_events'),
          orders_current: await versionOf('orders_current'),
        };
        await sleep(600);
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const res = await fetch(`${url}/api/v1/dashboards/orders`, { headers: auth });
        const body = (await res.json()) as {
          versions: Record<string, number>;
          panels: Array<{ id: string; source: string; sql?: string; error?: unknown }>;
        };
        const ms = performance.now() - t0;
        const c = process.cpuUsage(c0);
        if (res.status !== 200) throw new Error(`dashboard answered ${res.status}: ${JSON.stringify(body)}`);
        if (
          body.versions.orders_events !== want.orders_events ||
          body.versions.orders_current !== want.orders_current
        ) {
          stale++;
          continue;
        }
        for (const p of body.panels)
          if (p.error) throw new Error(`panel ${p.id} failed: ${JSON.stringify(p.error)}`);
        cold.push(ms);
        coldCpu.push((c.user + c.system) / 1000);
        for (const [id, dur] of Object.entries(parseServerTiming(res.headers.get('server-timing')))) {
          push(panelCold, id, dur);
        }
        for (const p of body.panels) {
          if (p.source !== 'sql' || p.sql === undefined) continue;
          const s0 = performance.now();
          const r = await fetch(`${url}/api/v1/sql`, {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify({ sql: p.sql, maxRows: 10000 }),
          });
          await r.arrayBuffer();
          if (r.status !== 200) throw new Error(`POST /api/v1/sql for ${p.id} answered ${r.status}`);
          push(sqlRoute, p.id, performance.now() - s0);
        }
        for (let w = 0; w < 3; w++) {
          await sleep(600);
          const w0 = performance.now();
          const r = await fetch(`${url}/api/v1/dashboards/orders`, { headers: auth });
          await r.arrayBuffer();
          warm.push(performance.now() - w0);
        }
        process.stdout.write(`sample ${i + 1}/${samples}: refresh ${ms.toFixed(0)} ms\r`);
      }
      process.stdout.write('\n');
      const dashboard = {
        cold_refresh_ms: summary(cold),
        // CPU of this process (the server, DuckDB's threads; the client's fetch is small) per cold refresh.
        cold_refresh_cpu_ms: summary(coldCpu),
        warm_refresh_ms: summary(warm),
        panel_cold_ms: Object.fromEntries(Object.entries(panelCold).map(([k, v]) => [k, summary(v)])),
        panel_sql_route_ms: Object.fromEntries(Object.entries(sqlRoute).map(([k, v]) => [k, summary(v)])),
        stale_answers: stale,
        versions_end: {
          orders_events: await versionOf('orders_events'),
          orders_current: await versionOf('orders_current'),
        },
      };
      results.dashboard = dashboard;
      console.log(`full refresh, cold (after a commit): ${JSON.stringify(dashboard.cold_refresh_ms)}`);
      console.log(`full refresh, cold, CPU-ms: ${JSON.stringify(dashboard.cold_refresh_cpu_ms)}`);
      console.log(`full refresh, warm (no new commit): ${JSON.stringify(dashboard.warm_refresh_ms)}`);
      for (const [id, s] of Object.entries(dashboard.panel_cold_ms)) {
        console.log(`panel ${id}, in the refresh (Server-Timing): ${JSON.stringify(s)}`);
      }
      for (const [id, s] of Object.entries(dashboard.panel_sql_route_ms)) {
        console.log(`panel ${id}, its SQL through POST /api/v1/sql: ${JSON.stringify(s)}`);
      }
      if (stale > 0) console.log(`${stale} refreshes answered older versions (not counted)`);
    }
    if (!args.skip.includes('status')) {
      const status: Record<string, unknown> = {};
      for (const path of ['/api/v1/pipelines', '/health', '/ready', '/metrics', '/api/v1/tables']) {
        const rep = await runClient({
          url,
          token,
          seconds: Number(args['status-seconds']),
          concurrency: Number(args.concurrency),
          path,
        });
        const perSecond = Math.round(rep.requests / rep.seconds);
        const perCpu = Math.round(rep.requests / rep.serverCpuSeconds);
        status[path] = {
          requests_per_s: perSecond,
          requests_per_server_cpu_s: perCpu,
          failures: rep.failures,
          load_average: rep.load.map((x) => Number(x.toFixed(2))),
        };
        console.log(
          `GET ${path}: ${perSecond} requests/s, ${perCpu} per server CPU-second, ${rep.failures} failed`,
        );
      }
      results.status = status;
    }
  } finally {
    const cpu = process.cpuUsage(cpu0);
    results.server_process_cpu_s = Number(((cpu.user + cpu.system) / 1e6).toFixed(1));
    results.load_average_end = loadavg().map((x) => Number(x.toFixed(2)));
    await server.stop();
    closeSandbox();
    pipelines.close();
    await pipeline.close();
    await log.close();
    rmSync(work, { recursive: true, force: true });
  }
  console.log(
    `load average ${JSON.stringify(results.load_average_start)} → ${JSON.stringify(results.load_average_end)}`,
  );
  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  const name = args.label ? `dashboard-latency-${args.label}` : 'dashboard-latency';
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
}

if (args.client) {
  process.once('message', async (job: ClientJob) => {
    const report = await client(job);
    process.send!(report, () => process.exit(0));
  });
} else {
  await main();
}
