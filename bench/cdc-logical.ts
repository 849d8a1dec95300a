/**
 * Change capture by logical replication, on a real PostgreSQL server sharing this
 * machine, into the embedded log:
 *
 * - `throughput`: the orders table gets `--rows` inserted rows (transactions of
 *   `--txn-rows` rows each) while no capture runs; then a capture starts from its slot and
 *   catches up. rows/s = rows / (time until everything is published and acknowledged):
 *   the walsender decoding with pgoutput, our decoding, encoding (flat) and the log's
 *   appends, all on the same cores.
 * - `latency`: a capture runs while a workload commits `--rate` changes per second (5
 *   rows per transaction: inserts and updates) for `--seconds`; for each change, the time
 *   from its commit in PostgreSQL (the commit timestamp pgoutput carries, the server's
 *   clock, same machine) to the moment the log acknowledged its publish (the produce
 *   promise resolved). p50 / p99 / max over the changes after a 1 s warm-up.
 *
 *   node bench/cdc-logical.ts [--postgres URL] [--rows 200000] [--txn-rows 1000]
 *     [--rate 1000] [--seconds 20]
 *
 * URL defaults to $TRIBUTARY_TEST_POSTGRES (a superuser: the bench creates a database).
 * Writes bench/results/cdc-logical.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  createLogicalCapture,
  type LogicalCaptureOptions,
} from '../src/connectors/postgres/capture/logical/index.ts';
import { parseTableName } from '../src/connectors/postgres/tables.ts';
import type { Log, ProduceRecord, ProduceResult } from '../src/log/log.ts';
import { openLog } from '../src/log/open.ts';
import { freshDatabase } from '../test/connectors/postgres/server.ts';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'string' },
    rows: { type: 'string', default: '200000' },
    'txn-rows': { type: 'string', default: '1000' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
  },
});
const serverUrl = args.postgres ?? process.env.TRIBUTARY_TEST_POSTGRES;
if (!serverUrl) {
  console.error(
    'give --postgres URL or set TRIBUTARY_TEST_POSTGRES (a PostgreSQL server with wal_level = logical)',
  );
  process.exit(2);
}
const ROWS = Number(args.rows);
const TXN_ROWS = Number(args['txn-rows']);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);

const DDL = `CREATE TABLE orders (
  order_id integer PRIMARY KEY, customer_name text, restaurant_name text, item text,
  amount numeric(10,2), order_status text, created_at timestamptz);
ALTER TABLE orders REPLICA IDENTITY FULL`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

async function withDatabase<T>(prefix: string, f: (url: string, name: string) => Promise<T>): Promise<T> {
  const db = await freshDatabase(prefix, { url: serverUrl! });
  const dirs: string[] = [];
  try {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(DDL);
    await client.end();
    return await f(db.url, db.name);
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1',
      [db.name],
    );
    await admin.end();
    await db.drop();
  }
}

function options(url: string, name: string, log: Log, dir: string): LogicalCaptureOptions {
  return {
    name,
    url,
    table: parseTableName('orders'),
    log,
    topic: 'orders.changes',
    partitions: 3,
    format: 'flat',
    stateDir: join(dir, 'capture'),
    snapshot: 'never',
  };
}

async function throughput(): Promise<Record<string, number>> {
  return withDatabase('bench_cdc_tput', async (url, name) => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-cdc-'));
    try {
      const log = await openLog({ dataDir: dir });
      // Creates the slot (nothing to capture yet).
      const first = createLogicalCapture(options(url, name, log, dir));
      await first.run({ untilCaughtUp: true });
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const w0 = performance.now();
      for (let start = 1; start <= ROWS; start += TXN_ROWS) {
        await client.query(
          `INSERT INTO orders SELECT i, 'Customer ' || i, 'Spice Garden', 'Butter Chicken', (i % 500) + 0.5,
             'PLACED', timestamptz '2025-11-18 10:00:00+00' + i * interval '1 second'
           FROM generate_series($1::int, $2::int) AS i`,
          [start, Math.min(ROWS, start + TXN_ROWS - 1)],
        );
      }
      const writeMs = performance.now() - w0;
      const [{ wal }] = (
        await client.query(
          `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS wal FROM pg_replication_slots WHERE database = $1`,
          [name],
        )
      ).rows;
      await client.end();
      const capture = createLogicalCapture(options(url, name, log, dir));
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await capture.run({ untilCaughtUp: true });
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      await log.close();
      if (capture.metrics.published !== ROWS) {
        throw new Error(`published ${capture.metrics.published} changes, expected ${ROWS}`);
      }
      return {
        rows: ROWS,
        txnRows: TXN_ROWS,
        walBytes: Number(wal),
        writeMs: Math.round(writeMs),
        captureMs: Math.round(ms),
        rowsPerSecond: Math.round(ROWS / (ms / 1000)),
        captureCpuMsPer10k: Math.round(((cpu.user + cpu.system) / 1000 / ROWS) * 10_000),
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** A log that notes, per published change, its commit time and when its produce resolved. */
function timingLog(log: Log, samples: number[], after: () => boolean): Log {
  return new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'produce') {
        return async (records: ProduceRecord[]): Promise<ProduceResult[]> => {
          const res = await target.produce(records);
          const now = Date.now();
          if (after()) {
            for (const r of records) {
              const m = /"__commit_ts":"([^"]+)"/.exec(Buffer.from(r.value ?? []).toString());
              if (m) samples.push(now - Date.parse(m[1]));
            }
          }
          return res;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

async function latency(): Promise<Record<string, number>> {
  return withDatabase('bench_cdc_lat', async (url, name) => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-cdc-'));
    try {
      const base = await openLog({ dataDir: dir });
      const samples: number[] = [];
      let warm = false;
      const log = timingLog(base, samples, () => warm);
      const stop = new AbortController();
      const capture = createLogicalCapture(options(url, name, log, dir));
      const first = createLogicalCapture(options(url, name, base, dir));
      await first.run({ untilCaughtUp: true });
      const running = capture.run({ signal: stop.signal });
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const perTxn = 5;
      const txPerSecond = RATE / perTxn;
      const t0 = Date.now();
      let txns = 0;
      let id = 0;
      while (Date.now() - t0 < SECONDS * 1000) {
        if (!warm && Date.now() - t0 > 1000) warm = true;
        const statements: string[] = [];
        for (let i = 0; i < perTxn; i++) {
          if (id > 10 && i % 2 === 1) {
            statements.push(`UPDATE orders SET order_status = 'DELIVERED' WHERE order_id = ${id - 7}`);
          } else {
            id++;
            statements.push(
              `INSERT INTO orders VALUES (${id}, 'Alice Smith', 'Spice Garden', 'Butter Chicken', 350.00, 'PLACED', now())`,
            );
          }
        }
        await client.query(`BEGIN; ${statements.join('; ')}; COMMIT`);
        txns++;
        const wait = t0 + (txns * 1000) / txPerSecond - Date.now();
        if (wait > 0) await sleep(wait);
      }
      const elapsed = (Date.now() - t0) / 1000;
      await sleep(1000);
      await client.end();
      stop.abort();
      await running;
      await base.close();
      samples.sort((a, b) => a - b);
      return {
        targetChangesPerSecond: RATE,
        achievedChangesPerSecond: Math.round((txns * perTxn) / elapsed),
        seconds: SECONDS,
        samples: samples.length,
        p50Ms: pct(samples, 0.5),
        p99Ms: pct(samples, 0.99),
        maxMs: samples[samples.length - 1],
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

const t = await throughput();
console.log(
  `throughput: ${t.rows} rows in transactions of ${t.txnRows} (${(t.walBytes / 1e6).toFixed(1)} MB of WAL) captured in ${t.captureMs} ms: ${t.rowsPerSecond} rows/s; capture process CPU ${t.captureCpuMsPer10k} ms per 10,000 rows`,
);
const l = await latency();
console.log(
  `latency at ${l.achievedChangesPerSecond} changes/s (${l.samples} changes): commit -> published p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms, max ${l.maxMs} ms`,
);
const result = {
  benchmark: 'cdc-logical',
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  loadavg: loadavg(),
  throughput: t,
  latency: l,
};
const outDir = join(import.meta.dirname, 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'cdc-logical.json'), `${JSON.stringify(result, null, 2)}\n`);
