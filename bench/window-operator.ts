/**
 * The window operator alone (src/stream/window/): 1-minute tumbling counts by page
 * (~1,000 pages) with a 2-minute watermark delay, over clickstream-like batches of
 * 100,000 rows generated in DuckDB (event times within ±30 s of an advancing clock, so
 * nothing is late). Only `process` is timed: generating a batch is not.
 *
 *   node bench/window-operator.ts [--events N] [--hours H] [--batch N] [--keys N]
 *     [--emit final|update] [--distinct] [--hop-slide-ms N] [--threads N]
 *     [--memory-every N] [--long]
 *
 * `--long` runs 10,000,000 events over 6 hours of event time and prints resident memory
 * (process RSS, V8 heap, DuckDB's own accounting from duckdb_memory()) and the state's
 * rows every `--memory-every` batches, then the peak and whether memory stayed flat after
 * the first windows closed. The default is the same event-time density over 2,000,000
 * events. Prints events/s and events per CPU-second of the process (DuckDB's threads
 * included) and writes bench/results/window-operator.json (window-operator-long.json).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalStore } from '../src/storage/local.ts';
import { parseAggregate, WindowOperator } from '../src/stream/window/index.ts';
import { openConnection } from '../src/table/index.ts';

const { values: args } = parseArgs({
  options: {
    long: { type: 'boolean', default: false },
    events: { type: 'string' },
    hours: { type: 'string' },
    batch: { type: 'string', default: '100000' },
    keys: { type: 'string', default: '1000' },
    emit: { type: 'string', default: 'final' },
    distinct: { type: 'boolean', default: false },
    'hop-slide-ms': { type: 'string' },
    threads: { type: 'string', default: '1' },
    'memory-every': { type: 'string', default: '5' },
  },
});
const events = Number(args.events ?? (args.long ? 10_000_000 : 2_000_000));
const hours = Number(args.hours ?? (args.long ? 6 : (6 * events) / 10_000_000));
const batchSize = Number(args.batch);
const keys = Number(args.keys);
const memoryEvery = Number(args['memory-every']);
const emit = args.emit === 'update' ? 'update' : 'final';
const slide = args['hop-slide-ms'] === undefined ? undefined : Number(args['hop-slide-ms']);

const T0_US = Date.UTC(2026, 0, 27, 0, 0, 0) * 1000;
const spanUs = hours * 3600 * 1e6;

const conn = await openConnection();
// The runtime runs DuckDB with one thread per statement (docs/runtime.md, "Threads").
await conn.run(`SET threads = ${Number(args.threads)}`);

const spec = (): ConstructorParameters<typeof WindowOperator>[0] => ({
  kind: slide === undefined ? 'tumble' : 'hop',
  timeColumn: 'event_time',
  sizeMs: 60_000,
  ...(slide === undefined ? {} : { slideMs: slide }),
  groupBy: ['page'],
  aggregates: [
    parseAggregate('events', 'count(*)'),
    ...(args.distinct ? [parseAggregate('users', 'count(DISTINCT user_id)')] : []),
  ],
  watermarkDelayMs: 120_000,
  emit,
});
const op = new WindowOperator(spec(), 'bench');
await op.open(conn);

/** Batch b as a temp table: clickstream-like columns, event time advancing with ±30 s jitter. */
async function generate(b: number): Promise<void> {
  const from = b * batchSize;
  const to = Math.min(events, from + batchSize);
  await conn.run(`CREATE OR REPLACE TEMP TABLE batch AS
    SELECT (i % 4)::INTEGER AS _p, (i // 4)::BIGINT AS _o, ${Math.floor(T0_US / 1000)} + (i // 1000) AS _t,
      make_timestamptz((${T0_US} + (i * ${spanUs / events})::BIGINT + (hash(i) % 60000000)::BIGINT - 30000000)::BIGINT) AS event_time,
      '/page/' || ((hash(i * 7) % ${keys})::INTEGER) AS page,
      'user-' || ((hash(i * 13) % 50000)::INTEGER) AS user_id,
      'sess-' || ((hash(i * 13) % 50000)::INTEGER) || '-' || (i // 100000) AS session_id,
      ['page_view', 'click', 'scroll', 'add_to_cart', 'purchase'][(hash(i * 3) % 5)::INTEGER + 1] AS event_type,
      ['mobile', 'desktop', 'tablet'][(hash(i * 5) % 3)::INTEGER + 1] AS device
    FROM range(${from}, ${to}) t(i)`);
}

async function duckdbBytes(): Promise<number> {
  const r = await conn.runAndReadAll('SELECT sum(memory_usage_bytes) FROM duckdb_memory()');
  return Number(r.getRows()[0][0]);
}

const MB = 1024 * 1024;
const batches = Math.ceil(events / batchSize);
let wallMs = 0;
let cpuUs = 0;
let emitted = 0;
let late = 0;
let firstClose = -1;
const samples: Array<{ batch: number; rssMb: number; heapMb: number; duckdbMb: number; stateRows: number }> =
  [];
for (let b = 0; b < batches; b++) {
  await generate(b);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await op.process(conn, 'batch');
  wallMs += performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  cpuUs += cpu.user + cpu.system;
  emitted += r.emittedRows;
  late += r.lateRows;
  if (firstClose < 0 && r.emittedRows > 0 && emit === 'final') firstClose = b;
  if (args.long && (b % memoryEvery === 0 || b === batches - 1)) {
    const s = {
      batch: b,
      rssMb: Math.round(process.memoryUsage().rss / MB),
      heapMb: Math.round(process.memoryUsage().heapUsed / MB),
      duckdbMb: Math.round((await duckdbBytes()) / MB),
      stateRows: (await op.stateRows(conn)).windows,
    };
    samples.push(s);
    console.log(
      `batch ${String(b).padStart(4)}  rss ${String(s.rssMb).padStart(5)} MB  heap ${String(s.heapMb).padStart(4)} MB  duckdb ${String(s.duckdbMb).padStart(4)} MB  state ${s.stateRows} rows  watermark ${r.watermarkMs === null ? '-' : new Date(r.watermarkMs).toISOString()}`,
    );
  }
}
const perSec = Math.round(events / (wallMs / 1000));
const perCpuSec = Math.round(events / (cpuUs / 1e6));
const out: Record<string, unknown> = {
  events,
  eventTimeHours: hours,
  batchSize,
  keys,
  emit,
  distinct: args.distinct,
  hopSlideMs: slide ?? null,
  duckdbThreads: Number(args.threads),
  operatorWallMs: Math.round(wallMs),
  operatorCpuMs: Math.round(cpuUs / 1000),
  eventsPerSec: perSec,
  eventsPerCpuSec: perCpuSec,
  msPerBatch: Math.round((wallMs / batches) * 10) / 10,
  emittedRows: emitted,
  lateRows: late,
};
console.log(
  `${events.toLocaleString('en')} events over ${hours.toFixed(2)} h of event time, batches of ${batchSize.toLocaleString('en')}, ${keys} keys, emit ${emit}${args.distinct ? ', + count distinct' : ''}${slide ? `, hop every ${slide} ms` : ''}`,
);
console.log(
  `operator: ${perSec.toLocaleString('en')} events/s, ${perCpuSec.toLocaleString('en')} events per CPU-second, ${out.msPerBatch} ms per batch; emitted ${emitted.toLocaleString('en')} rows, ${late} late`,
);
if (args.long) {
  const peak = (k: 'rssMb' | 'duckdbMb') => Math.max(...samples.map((s) => s[k]));
  // Flat: the second half's peak against the peak up to a quarter of the run (after the first windows closed).
  const quarter = samples.filter((s) => s.batch >= Math.max(firstClose, 0) && s.batch <= batches / 4);
  const secondHalf = samples.filter((s) => s.batch >= batches / 2);
  const early = Math.max(...quarter.map((s) => s.rssMb));
  const lateRss = Math.max(...secondHalf.map((s) => s.rssMb));
  out.memory = {
    peakRssMb: peak('rssMb'),
    peakDuckdbMb: peak('duckdbMb'),
    rssPeakFirstQuarterMb: early,
    rssPeakSecondHalfMb: lateRss,
    peakStateRows: Math.max(...samples.map((s) => s.stateRows)),
    samples,
  };
  console.log(
    `memory: peak rss ${peak('rssMb')} MB, peak duckdb ${peak('duckdbMb')} MB; rss peak up to 1/4 of the run ${early} MB, in the 2nd half ${lateRss} MB`,
  );
}
// Save the state as it stands and restore it on a fresh connection (a local store).
const stateDir = mkdtempSync(join(tmpdir(), 'tributary-bench-window-'));
try {
  const store = new LocalStore(stateDir);
  const rows = await op.stateRows(conn);
  const s0 = performance.now();
  const saved = await op.save(conn, store, 'state/1');
  const saveMs = performance.now() - s0;
  const bytes = (await store.list('state/1')).reduce((n, o) => n + o.size, 0);
  const conn2 = await openConnection();
  const restored = new WindowOperator(spec(), 'bench');
  const r0 = performance.now();
  await restored.open(conn2, { store, state: saved });
  const restoreMs = performance.now() - r0;
  conn2.closeSync();
  out.state = { ...rows, bytes, saveMs: Math.round(saveMs), restoreMs: Math.round(restoreMs) };
  console.log(
    `state: ${rows.windows.toLocaleString('en')} (window, group) rows + ${rows.distinctValues.toLocaleString('en')} distinct values, ${bytes.toLocaleString('en')} bytes saved in ${Math.round(saveMs)} ms, restored in ${Math.round(restoreMs)} ms`,
  );
} finally {
  rmSync(stateDir, { recursive: true, force: true });
}
const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, args.long ? 'window-operator-long.json' : 'window-operator.json');
writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
console.log(`wrote ${file}`);
conn.closeSync();
