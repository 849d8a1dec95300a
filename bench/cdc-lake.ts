/**
 * What the change-capture benchmarks share (bench/cdc-polling.ts, bench/cdc-logical.ts):
 * the food-orders system as `tributary run cdc --source URL --capture MODE` runs it — the
 * built-in definition pipelines/cdc.yaml with `--set` overrides, its capture made from
 * the definition's `source.capture` (pipeline/capture.ts, capture/start.ts), the embedded
 * log between capture and pipeline, both in this process (runWithCapture) — and the two
 * measurements:
 *
 * - `lakeThroughput`: `rows` inserted orders (transactions of `txnRows`) captured alone
 *   until caught up (rows/s published into the log), then landed by the pipeline alone
 *   (rows/s into food.orders, food.orders_failed and the mirror), then both together in
 *   a fresh run (rows/s from the table to the lake). For logical replication the slot is
 *   made before the rows are written (they are streamed changes, not a snapshot), unless
 *   `snapshot` is set: then they are in the table first and arrive as the initial
 *   snapshot (together only).
 * - `lakeLatency`: a workload commits `rate` changes/s for `seconds` while capture and
 *   pipeline run. Per change that landed in food.orders: the commit time of the Delta
 *   version that added it — its `commitInfo.timestamp`, read from the table's log: the
 *   row is queryable from that commit on — minus the change's commit time in PostgreSQL
 *   (`__commit_ts`: the commit timestamp pgoutput carries; for polling, the cursor's
 *   value, here created_at, the inserting transaction's time). Split at the record's
 *   log timestamp (`ingest_time`: when the capture handed it to the log) into the
 *   capture's part and the log + pipeline's part. Changes in the first `warmupMs` are
 *   left out.
 *
 * CPU: this process's (process.cpuUsage: capture, pipeline, DuckDB, the workload's
 * client) and, for a server on this machine, its processes serving the run's database
 * (backends, the walsender, autovacuum workers), watched from /proc by a worker thread
 * (bench/backend-cpu.ts). Shared server processes (WAL writer, checkpointer) are not
 * counted: other databases use them too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCapture } from '../src/connectors/postgres/capture/start.ts';
import type { CaptureMode, ChangeCapture } from '../src/connectors/postgres/capture/types.ts';
import type { Log, ProduceRecord, ProduceResult } from '../src/log/log.ts';
import { openLog } from '../src/log/open.ts';
import { builtinDefinitionSync } from '../src/pipeline/builtin.ts';
import { resolveCapture } from '../src/pipeline/capture.ts';
import { compilePipeline } from '../src/pipeline/compile.ts';
import { fromObject } from '../src/pipeline/load.ts';
import { applySet } from '../src/pipeline/overrides.ts';
import { runWithCapture } from '../src/pipeline/with-capture.ts';
import { createStatements } from '../src/scenarios/food-orders/schema.ts';
import { FoodOrdersWorkload, type WorkloadMix } from '../src/scenarios/food-orders/workload.ts';
import { LocalStore } from '../src/storage/local.ts';
import type { Pipeline } from '../src/stream/pipeline.ts';
import { openConnection, readChanges } from '../src/table/index.ts';
import { DeltaTable } from '../src/table/table.ts';
import { BackendCpu } from './backend-cpu.ts';
import { type BenchTarget, openTarget } from './postgres-target.ts';
import { clockTicks } from './proc.ts';

const T = '"2025em1100102_orders"';

export interface LakeRunOptions {
  /** A server's URL (a fresh database is made on it), or undefined: the embedded PGlite. */
  postgres?: string;
  mode: CaptureMode;
  /** `--set` overrides of the cdc definition (e.g. 'runtime.trigger=50ms'). */
  sets: readonly string[];
}

/** The capture's produce calls into the log (each resolves once its records are durable). */
interface ProduceTime {
  calls: number;
  records: number;
  ms: number;
}

/** `log`, counting the calls, records and time of its produce into `t`. */
function timedProduce(log: Log, t: ProduceTime): Log {
  return new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'produce') {
        return async (records: ProduceRecord[]): Promise<ProduceResult[]> => {
          const t0 = performance.now();
          try {
            return await target.produce(records);
          } finally {
            t.calls++;
            t.records += records.length;
            t.ms += performance.now() - t0;
          }
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

interface LakeRun {
  target: BenchTarget;
  /** Running totals of the capture's produce calls. */
  produced: ProduceTime;
  /** The server's processes for the run's database, when the server is on this machine. */
  backends?: BackendCpu;
  dataDir: string;
  /** Pipeline and capture as `tributary run cdc --capture MODE --source URL` makes them. */
  build(): Promise<{ capture: ChangeCapture; pipeline: Pipeline }>;
  /** A capture run once over the (empty) table: for logical replication, makes the slot. */
  prime(): Promise<void>;
}

async function withLakeRun<T>(o: LakeRunOptions, fn: (run: LakeRun) => Promise<T>): Promise<T> {
  if (o.mode === 'logical' && !o.postgres) {
    throw new Error('logical replication needs a PostgreSQL server: give --postgres URL');
  }
  const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-cdc-'));
  const dataDir = join(dir, 'data');
  const target = await openTarget({ postgres: o.postgres, dataDir: dir });
  const log = await openLog({ dataDir });
  const url = new URL(target.url);
  const backends =
    target.kind === 'postgres' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
      ? new BackendCpu(decodeURIComponent(url.pathname.slice(1)), clockTicks())
      : undefined;
  const closers: Array<() => Promise<void>> = [];
  const produced: ProduceTime = { calls: 0, records: 0, ms: 0 };
  try {
    for (const sql of createStatements()) await target.query(sql);
    if (o.mode === 'logical') await target.query(`ALTER TABLE ${T} REPLICA IDENTITY FULL`);
    let def = builtinDefinitionSync('cdc').definition;
    for (const set of o.sets) def = applySet(def, set);
    const topic = 'topic' in def.source ? def.source.topic : '';
    const capture = async () => {
      const resolved = resolveCapture(def, { dataDir, topic, source: target.url, mode: o.mode });
      const c = await createCapture(resolved.mode, {
        ...resolved.options,
        url: target.url,
        log: timedProduce(log, produced),
        report: () => {},
      });
      closers.push(() => c.close());
      return c;
    };
    return await fn({
      target,
      produced,
      backends,
      dataDir,
      async build() {
        const { pipeline } = await compilePipeline(fromObject(def), { dataDir, log });
        closers.push(() => pipeline.close());
        return { capture: await capture(), pipeline };
      },
      async prime() {
        const c = await capture();
        await c.run({ untilCaughtUp: true });
        await c.close();
      },
    });
  } finally {
    for (const c of closers.reverse()) await c().catch(() => {});
    await log.close();
    await backends?.close();
    if (target.kind === 'postgres') await dropSlots(target);
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The run database's slots (a walsender may take a moment to let go of its slot after the capture closed). */
async function dropSlots(target: BenchTarget): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await target.query(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()',
      );
      return;
    } catch (err) {
      if (attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** `n` orders, `txnRows` a transaction (INSERT ... SELECT), on the benchmark's own connection. */
async function fillOrders(target: BenchTarget, n: number, txnRows: number): Promise<void> {
  for (let done = 0; done < n; done += txnRows) {
    const k = Math.min(txnRows, n - done);
    await target.query(
      `INSERT INTO ${T} (customer_name, restaurant_name, item, amount, order_status, created_at, updated_at)
       SELECT 'Customer ' || g, 'Spice Garden', 'Butter Chicken', 350.00, 'DELIVERED',
         timestamptz '2025-11-18 10:00:00+00' + (g / 7) * interval '1 millisecond', now()
       FROM generate_series(${done + 1}, ${done + k}) g`,
    );
  }
}

export interface Cost {
  ms: number;
  /** The capture's produce calls meanwhile, and the time it waited on them (ms). */
  produce: ProduceTime;
  /** This process's CPU (user + system), ms. */
  cpuMs: number;
  /** The server's backends for the run's database, ms (undefined: PGlite, in cpuMs already, or a remote server). */
  serverCpuMs?: number;
}

/** Runs `f`, measuring wall time, this process's CPU (the watching worker's left out) and the server's. */
async function costOf(run: LakeRun, f: () => Promise<void>): Promise<Cost> {
  const b = run.backends;
  // Walsenders are found in pg_stat_activity (their process title does not name the
  // database). The benchmark's own backend answering this is counted too (~1 % of a core).
  let finding = Promise.resolve();
  const find = () => {
    finding = finding
      .then(() =>
        run.target.query<{ pid: number }>(
          'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
        ),
      )
      .then((rows) => b?.watch(rows.map((r) => r.pid)));
  };
  const finder = b ? setInterval(find, 100) : undefined;
  const b0 = await b?.read();
  const p0 = { ...run.produced };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    await f();
  } finally {
    clearInterval(finder);
  }
  const ms = performance.now() - t0;
  await finding;
  const cpu = process.cpuUsage(cpu0);
  const b1 = await b?.read();
  const watching = b0 && b1 ? b1.selfMs - b0.selfMs : 0;
  const p = run.produced;
  return {
    ms: Math.round(ms),
    produce: { calls: p.calls - p0.calls, records: p.records - p0.records, ms: Math.round(p.ms - p0.ms) },
    cpuMs: Math.round((cpu.user + cpu.system) / 1000 - watching),
    ...(b0 && b1 && { serverCpuMs: Math.round(b1.serverMs - b0.serverMs) }),
  };
}

const perSecond = (n: number, ms: number) => (ms > 0 ? Math.round(n / (ms / 1000)) : 0);

/** Rows/s, and rows per CPU-second of this process and of process + server. */
export function rates(rows: number, c: Cost) {
  return {
    rowsPerSec: perSecond(rows, c.ms),
    seconds: Math.round(c.ms / 100) / 10,
    cores: Math.round((c.cpuMs / c.ms) * 100) / 100,
    rowsPerCpuSec: perSecond(rows, c.cpuMs),
    ...(c.produce.calls > 0 && { produce: c.produce }),
    ...(c.serverCpuMs !== undefined && {
      serverCores: Math.round((c.serverCpuMs / c.ms) * 100) / 100,
      rowsPerCpuSecWithServer: perSecond(rows, c.cpuMs + c.serverCpuMs),
    }),
  };
}

export interface ThroughputOptions extends LakeRunOptions {
  rows: number;
  txnRows: number;
  /** Logical only: the rows are in the table before the slot is made (the initial snapshot); together only. */
  snapshot?: boolean;
}

export async function lakeThroughput(o: ThroughputOptions) {
  const streamed = o.mode === 'logical' && !o.snapshot;
  const ready = async (run: LakeRun) => {
    if (streamed) await run.prime();
    await fillOrders(run.target, o.rows, o.txnRows);
    return run.build();
  };
  const separate = o.snapshot
    ? undefined
    : await withLakeRun(o, async (run) => {
        const { capture, pipeline } = await ready(run);
        const c = await costOf(run, () => capture.run({ untilCaughtUp: true }));
        const p = await costOf(run, () => pipeline.run({ untilCaughtUp: true }));
        return { published: capture.metrics.published, batches: capture.metrics.batches, c, p };
      });
  const together = await withLakeRun(o, async (run) => {
    const { capture, pipeline } = await ready(run);
    const cost = await costOf(run, () => runWithCapture(pipeline, capture, { untilCaughtUp: true }));
    return { landed: pipeline.metrics.recordsIn, batches: pipeline.metrics.batches, cost };
  });
  if (together.landed !== o.rows || (separate && separate.published !== o.rows)) {
    throw new Error(
      `expected ${o.rows} changes, published ${separate?.published ?? '-'} alone and landed ${together.landed} together`,
    );
  }
  return {
    mode: o.mode,
    sets: o.sets,
    rows: o.rows,
    txnRows: o.txnRows,
    ...(o.snapshot && { snapshot: true }),
    ...(separate && {
      capture: { ...rates(o.rows, separate.c), batches: separate.batches },
      land: rates(o.rows, separate.p),
    }),
    endToEnd: { ...rates(o.rows, together.cost), pipelineBatches: together.batches },
  };
}

export interface LatencyOptions extends LakeRunOptions {
  rate: number;
  seconds: number;
  mix: WorkloadMix;
  /** How long to let the last changes land before stopping (ms). */
  settleMs: number;
  warmupMs?: number;
}

const quantiles = (xs: number[]) => {
  xs.sort((a, b) => a - b);
  const q = (p: number) => Math.round(xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0);
  return { n: xs.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: Math.round(xs.at(-1) ?? 0) };
};

export async function lakeLatency(o: LatencyOptions) {
  return withLakeRun(o, async (run) => {
    if (o.mode === 'logical') await run.prime();
    const { capture, pipeline } = await run.build();
    // Where a batch's time goes: its stages (fetch, decode, each sink...), summed over the run.
    const stageMs = new Map<string, number>();
    let reported = 0;
    const runPipeline = pipeline.run.bind(pipeline);
    pipeline.run = (opts = {}) =>
      runPipeline({
        ...opts,
        onBatch: (r) => {
          reported++;
          for (const [k, v] of Object.entries(r.stages)) stageMs.set(k, (stageMs.get(k) ?? 0) + v);
        },
      });
    const stop = new AbortController();
    let stats: Awaited<ReturnType<FoodOrdersWorkload['run']>> | undefined;
    let began = 0;
    const cost = await costOf(run, async () => {
      const running = runWithCapture(pipeline, capture, { signal: stop.signal });
      began = Date.now();
      stats = await new FoodOrdersWorkload({
        db: run.target.pool,
        rate: o.rate,
        mix: o.mix,
        invalidRate: 0,
        count: o.rate * o.seconds,
        tickMs: 20,
        seed: 9,
      }).run();
      await new Promise((r) => setTimeout(r, o.settleMs));
      stop.abort();
      await running;
    });
    const landedInRun = pipeline.metrics.recordsIn;
    const perBatch = Object.fromEntries(
      [...stageMs].map(([k, v]) => [k, Math.round((v / Math.max(1, reported)) * 10) / 10]),
    );
    const batchesInRun = reported;
    await runWithCapture(pipeline, capture, { untilCaughtUp: true });
    const late = pipeline.metrics.recordsIn - landedInRun;
    const table = await DeltaTable.open(new LocalStore(join(run.dataDir, 'tables', 'food', 'orders')));
    const versions = await readChanges(table, 'orders', 0, {
      maxRows: Number.MAX_SAFE_INTEGER,
      maxVersions: 1_000_000,
    });
    const total: number[] = [];
    const byOp = new Map<string, number[]>();
    const captured: number[] = [];
    const landed: number[] = [];
    const from = began + (o.warmupMs ?? 1000);
    /** p99 per 5 s of the run (by commit time in PostgreSQL): whether the latency holds or grows. */
    const windows: number[][] = [];
    /** Times between food.orders commits that added rows during the workload. */
    const commitGaps: number[] = [];
    let lastCommit: number | undefined;
    const conn = await openConnection();
    try {
      for (const v of versions) {
        if (v.files.length === 0) continue;
        if (lastCommit !== undefined && v.timestamp >= from) commitGaps.push(v.timestamp - lastCommit);
        lastCommit = v.timestamp;
        const list = v.files.map((f) => `'${f.localPath}'`).join(', ');
        const r = await conn.runAndReadAll(
          `SELECT __op, epoch_ms(__commit_ts), epoch_ms(ingest_time) FROM read_parquet([${list}])`,
        );
        for (const [op, commitMs, ingestMs] of r.getRows()) {
          if (Number(commitMs) < from) continue;
          const ms = v.timestamp - Number(commitMs);
          total.push(ms);
          const ofOp = byOp.get(String(op)) ?? [];
          ofOp.push(ms);
          byOp.set(String(op), ofOp);
          captured.push(Number(ingestMs) - Number(commitMs));
          landed.push(v.timestamp - Number(ingestMs));
          const w = Math.floor((Number(commitMs) - began) / 5000);
          while (windows.length <= w) windows.push([]);
          windows[w].push(ms);
        }
      }
    } finally {
      conn.closeSync();
    }
    const changes = (stats?.inserted ?? 0) + (stats?.updated ?? 0) + (stats?.deleted ?? 0);
    const m = pipeline.metrics;
    return {
      mode: o.mode,
      sets: o.sets,
      rate: o.rate,
      seconds: o.seconds,
      changes,
      inserted: stats?.inserted,
      updated: stats?.updated,
      /** Changes not yet landed when the run stopped (landed by a final catch-up; in the figures, late). */
      leftAtStop: late,
      commitToQueryable: quantiles(total),
      byOp: Object.fromEntries([...byOp].map(([op, xs]) => [op, quantiles(xs)])),
      commitToLog: quantiles(captured),
      logToQueryable: quantiles(landed),
      p99By5s: windows.map((w) => quantiles(w).p99Ms),
      ordersCommits: { n: commitGaps.length + 1, gapMs: quantiles(commitGaps) },
      pipelineBatches: batchesInRun,
      batchMs: { p50: Math.round(m.batchMs.quantile(0.5)), p99: Math.round(m.batchMs.quantile(0.99)) },
      /** Mean ms per batch in each stage (wait: for the batch read ahead). */
      stageMsPerBatch: perBatch,
      cost: { ...cost, ...rates(changes, cost) },
    };
  });
}
