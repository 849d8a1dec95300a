/**
 * Change capture by logical replication and the food-orders pipeline (pipelines/cdc.yaml,
 * as `tributary run cdc --capture logical --source URL` runs it), on a real PostgreSQL
 * server sharing this machine, measured with the harness of bench/cdc-lake.ts (which
 * says exactly what each figure is):
 *
 * - **Throughput.** The slot is made, then `--rows` orders are inserted (transactions of
 *   `--txn-rows`) while nothing captures; then the capture alone catches up (rows/s
 *   published into the embedded log, durable, slot acknowledged), the pipeline alone
 *   lands them (food.orders, food.orders_failed, the mirror), and, in a fresh run, both
 *   together (rows/s from the table to the lake). Then the same rows taken by the initial
 *   snapshot instead (in the table before the slot is made), together only.
 * - **Latency.** A workload commits `--rate` changes/s (`--update-share` of them updates
 *   of earlier orders, the rest inserts; ~20 per transaction) for `--seconds` while
 *   capture and pipeline run; per change, the commit of the food.orders Delta version
 *   that added it minus its commit in PostgreSQL (pgoutput's commit timestamp), split at
 *   the moment the capture handed it to the log. With the pipeline's trigger at the
 *   runtime's default (200 ms) and at `--low-trigger` (default 50ms).
 *
 * CPU beside each rate: this process's, and the server's backends for the run's database
 * (the walsender decoding the WAL, the workload's backend in the latency runs).
 *
 *   node bench/cdc-logical.ts [--postgres URL] [--rows 200000] [--txn-rows 1000]
 *     [--rate 1000] [--seconds 30] [--update-share 0.4] [--low-trigger 50ms] [--skip ...]
 *
 * `--skip throughput|snapshot|latency` (repeatable) leaves a part out. URL defaults to
 * $TRIBUTARY_TEST_POSTGRES (a superuser: the bench creates a database; wal_level =
 * logical). Writes bench/results/cdc-logical.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { lakeLatency, lakeThroughput } from './cdc-lake.ts';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'string' },
    rows: { type: 'string', default: '200000' },
    'txn-rows': { type: 'string', default: '1000' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '30' },
    'update-share': { type: 'string', default: '0.4' },
    'low-trigger': { type: 'string', default: '50ms' },
    skip: { type: 'string', multiple: true, default: [] },
  },
});
const postgres = args.postgres ?? process.env.TRIBUTARY_TEST_POSTGRES;
if (!postgres) {
  console.error(
    'give --postgres URL or set TRIBUTARY_TEST_POSTGRES (a PostgreSQL server with wal_level = logical)',
  );
  process.exit(2);
}
const skip = new Set(args.skip);
const load = () => loadavg().map((x) => Math.round(x * 10) / 10);
const base = { postgres, mode: 'logical' as const };
const rows = { rows: Number(args.rows), txnRows: Number(args['txn-rows']) };

const started = Date.now();
const loadAtStart = load();
const throughput = [];
if (!skip.has('throughput')) {
  const t = await lakeThroughput({ ...base, sets: [], ...rows });
  console.log(
    `streamed ${t.rows} inserts (transactions of ${t.txnRows}): capture ${t.capture?.rowsPerSec} rows/s, ` +
      `pipeline ${t.land?.rowsPerSec} rows/s, together ${t.endToEnd.rowsPerSec} rows/s (${t.endToEnd.seconds} s)`,
  );
  throughput.push(t);
}
if (!skip.has('snapshot')) {
  const t = await lakeThroughput({ ...base, sets: [], ...rows, snapshot: true });
  console.log(
    `initial snapshot of ${t.rows} rows to the lake: ${t.endToEnd.rowsPerSec} rows/s (${t.endToEnd.seconds} s)`,
  );
  throughput.push(t);
}
const latency = [];
if (!skip.has('latency')) {
  const share = Number(args['update-share']);
  for (const sets of [[], [`runtime.trigger=${args['low-trigger']}`]]) {
    const l = await lakeLatency({
      ...base,
      sets,
      rate: Number(args.rate),
      seconds: Number(args.seconds),
      mix: { insert: 1 - share, update: share, delete: 0 },
      settleMs: 3_000,
    });
    const q = l.commitToQueryable;
    console.log(
      `latency ${sets.join(' ') || 'default trigger'} at ${l.rate} changes/s (${q.n} landed): commit -> queryable p50 ${q.p50Ms} ms, p99 ${q.p99Ms} ms, max ${q.maxMs} ms`,
    );
    latency.push(l);
  }
}
const result = {
  benchmark: 'cdc-logical',
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  throughput,
  latency,
  machine: { loadAtStart, loadAtEnd: load() },
  seconds: Math.round((Date.now() - started) / 1000),
};
console.log(JSON.stringify(result, null, 2));
const outDir = join(import.meta.dirname, 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'cdc-logical.json'), `${JSON.stringify(result, null, 2)}\n`);
