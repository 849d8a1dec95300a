/**
 * The cost of syncing to stable storage (docs/storage.md, docs/log.md):
 *
 * - raw: one fdatasync of a freshly written 4 KiB file, one fsync of a directory;
 * - table: appends of small batches (a streaming commit: one data file + one commit)
 *   into a partitioned LocalStore table, durable (the default) and with durable: false;
 * - log: embedded-log produce calls of a few records and of a full batch under each
 *   flush policy (always, interval, never).
 *
 * Variants run interleaved round by round, so load from other jobs on a shared machine
 * hits them alike. Per-call latencies are reported as median and p99.
 *
 *   node bench/durability.ts [--rounds N] [--appends N] [--rows N] [--produces N]
 *
 * Prints figures and writes bench/results/durability.json.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { syncDirSync, syncFileSync } from '../src/core/fsync.ts';
import { EmbeddedLog } from '../src/log/embedded/embedded-log.ts';
import type { FsyncPolicy } from '../src/log/embedded/partition-writer.ts';
import { LocalStore } from '../src/storage/local.ts';
import { append } from '../src/table/ops/append.ts';
import type { StructType } from '../src/table/schema.ts';
import { DeltaTable } from '../src/table/table.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    appends: { type: 'string', default: '30' },
    rows: { type: 'string', default: '200' },
    produces: { type: 'string', default: '300' },
  },
});
const ROUNDS = Number(args.rounds);
const APPENDS = Number(args.appends);
const ROWS = Number(args.rows);
const PRODUCES = Number(args.produces);

const root = mkdtempSync(join(tmpdir(), 'tributary-bench-durability-'));

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return {
    calls: s.length,
    medianMs: +at(0.5).toFixed(2),
    p99Ms: +at(0.99).toFixed(2),
    meanMs: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(2),
  };
}

// --- raw sync costs ----------------------------------------------------------------
function raw(rounds: number) {
  const dir = join(root, 'raw');
  mkdirSync(dir, { recursive: true });
  const file: number[] = [];
  const dirSync: number[] = [];
  const page = Buffer.alloc(4096, 120);
  for (let i = 0; i < rounds; i++) {
    const path = join(dir, `f${i}`);
    const fd = openSync(path, 'w');
    writeSync(fd, page);
    closeSync(fd);
    let t0 = performance.now();
    syncFileSync(path);
    file.push(performance.now() - t0);
    t0 = performance.now();
    syncDirSync(dir);
    dirSync.push(performance.now() - t0);
  }
  return { fdatasync4KiB: stats(file), fsyncDir: stats(dirSync) };
}

// --- table appends -----------------------------------------------------------------
const f = (name: string, type: StructType['fields'][number]['type'], nullable = true) => ({
  name,
  type,
  nullable,
  metadata: {},
});
const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    f('event_id', 'string', false),
    f('order_id', 'string'),
    f('amount', 'decimal(12,2)'),
    f('event_hour', 'string'),
  ],
};
const batchSql = (n: number, from: number) =>
  `SELECT 'e' || i::VARCHAR AS event_id, 'o' || (i // 3)::VARCHAR AS order_id, ((i % 10000) / 100.0)::DECIMAL(12,2) AS amount, '2026-01-01-' || lpad(((i // 1000) % 24)::VARCHAR, 2, '0') AS event_hour FROM range(${from}, ${from + n}) t(i)`;

const tables = new Map<boolean, DeltaTable>();
const appendMs = new Map<boolean, number[]>([
  [true, []],
  [false, []],
]);
let offset = 0;
async function appendRound(durable: boolean) {
  let table = tables.get(durable);
  if (table === undefined) {
    const store = new LocalStore(join(root, `table-${durable ? 'durable' : 'not-durable'}`), { durable });
    table = await DeltaTable.create(store, {
      schema: SCHEMA,
      partitionColumns: ['event_hour'],
      // No checkpoint inside the measured appends: its cost is a separate matter.
      configuration: { 'delta.checkpointInterval': '1000000' },
    });
    tables.set(durable, table);
  }
  for (let i = 0; i < APPENDS; i++) {
    const t0 = performance.now();
    await append(table, { sql: batchSql(ROWS, offset) }, { txn: [{ appId: 'bench', version: offset }] });
    appendMs.get(durable)!.push(performance.now() - t0);
    offset += ROWS;
  }
}

// --- embedded log produce ----------------------------------------------------------
const POLICIES: FsyncPolicy[] = ['always', 'interval', 'never'];
const SIZES = [10, 5000];
const logs = new Map<FsyncPolicy, EmbeddedLog>();
const produceMs = new Map<string, number[]>();
const payload = Buffer.from(JSON.stringify({ event_id: 'x'.repeat(36), pad: 'y'.repeat(240) }));
async function produceRound(policy: FsyncPolicy) {
  let log = logs.get(policy);
  if (log === undefined) {
    log = new EmbeddedLog({ dir: join(root, `log-${policy}`), fsync: policy });
    await log.createTopic('bench', { partitions: 1 });
    logs.set(policy, log);
  }
  for (const size of SIZES) {
    const batch = Array.from({ length: size }, () => ({ topic: 'bench', partition: 0, value: payload }));
    const key = `${policy}/${size}`;
    if (!produceMs.has(key)) produceMs.set(key, []);
    const calls = size >= 1000 ? Math.max(10, Math.floor(PRODUCES / 10)) : PRODUCES;
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      await log.produce(batch);
      produceMs.get(key)!.push(performance.now() - t0);
    }
  }
}

try {
  const rawFigures = raw(200);
  // Warm-up: DuckDB's first COPY pays one-time costs.
  await appendRound(false);
  appendMs.set(false, []);
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? [true, false] : [false, true];
    for (const d of order) await appendRound(d);
    for (const p of r % 2 === 0 ? POLICIES : [...POLICIES].reverse()) await produceRound(p);
  }
  for (const l of logs.values()) await l.close();

  const table = {
    rowsPerAppend: ROWS,
    durable: stats(appendMs.get(true)!),
    notDurable: stats(appendMs.get(false)!),
  };
  const log: Record<string, unknown> = { recordBytes: payload.length };
  for (const [key, ms] of produceMs) {
    const size = Number(key.split('/')[1]);
    const st = stats(ms);
    log[key] = { ...st, recordsPerS: Math.round((size * 1000) / st.meanMs) };
  }
  const results = {
    rounds: ROUNDS,
    raw: rawFigures,
    table,
    log,
    node: process.version,
    date: new Date().toISOString(),
  };
  console.log(
    `raw: fdatasync of 4 KiB ${rawFigures.fdatasync4KiB.medianMs} ms median (p99 ${rawFigures.fdatasync4KiB.p99Ms}), directory fsync ${rawFigures.fsyncDir.medianMs} ms (p99 ${rawFigures.fsyncDir.p99Ms})`,
  );
  console.log(`table append of ${ROWS} rows + txn, ${table.durable.calls} appends per variant:`);
  for (const [label, s] of [
    ['durable (default)', table.durable],
    ['durable: false', table.notDurable],
  ] as const) {
    console.log(`  ${label.padEnd(20)} median ${s.medianMs} ms, p99 ${s.p99Ms} ms, mean ${s.meanMs} ms`);
  }
  console.log(`embedded log produce (${payload.length} B records):`);
  for (const [key, v] of Object.entries(log)) {
    if (key === 'recordBytes') continue;
    const s = v as ReturnType<typeof stats> & { recordsPerS: number };
    const [policy, size] = key.split('/');
    console.log(
      `  ${policy.padEnd(9)} ${size.padStart(5)} records/call: median ${s.medianMs} ms, p99 ${s.p99Ms} ms, ${s.recordsPerS.toLocaleString()} records/s`,
    );
  }
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/durability.json', `${JSON.stringify(results, null, 2)}\n`);
  console.log('wrote bench/results/durability.json');
} finally {
  rmSync(root, { recursive: true, force: true });
}
