/**
 * SQL over a table: how long `runQuery` takes end to end (resolve the snapshot, list its
 * files, build the view with typed partition values, run DuckDB), on an orders-like
 * table of 1,000,000 rows partitioned by hour.
 *
 *   node bench/query.ts [--rows N] [--hours N] [--batches N] [--runs N]
 *
 * Prints the figures and writes bench/results/query.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runQuery } from '../src/query/run.ts';
import { LocalStore } from '../src/storage/local.ts';
import { append, DeltaTable } from '../src/table/index.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    hours: { type: 'string', default: '24' },
    batches: { type: 'string', default: '4' },
    runs: { type: 'string', default: '5' },
  },
});
const rows = Number(args.rows);
const hours = Number(args.hours);
const batches = Number(args.batches);
const runs = Number(args.runs);

const dataDir = mkdtempSync(join(tmpdir(), 'tributary-bench-query-'));
try {
  const table = await DeltaTable.create(new LocalStore(join(dataDir, 'tables', 'orders_events')), {
    schema: {
      type: 'struct',
      fields: [
        { name: 'order_id', type: 'string', nullable: true, metadata: {} },
        { name: 'status', type: 'string', nullable: true, metadata: {} },
        { name: 'amount', type: 'decimal(10,2)', nullable: true, metadata: {} },
        { name: 'event_timestamp', type: 'timestamp', nullable: true, metadata: {} },
        { name: 'event_hour', type: 'timestamp', nullable: true, metadata: {} },
      ],
    },
    partitionColumns: ['event_hour'],
  });
  const perBatch = Math.ceil(rows / batches);
  const load0 = performance.now();
  for (let b = 0; b < batches; b++) {
    const sql = `SELECT 'ord-' || lpad(CAST(i % 50000 AS VARCHAR), 8, '0') AS order_id,
        ['CREATED','PAID','SHIPPED','CANCELLED'][(i % 4) + 1] AS status,
        CAST((i % 10000) * 1.37 AS DECIMAL(10,2)) AS amount,
        TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(CAST((i * 3600 * ${hours}) // ${rows} AS BIGINT)) AS event_timestamp,
        date_trunc('hour', TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(CAST((i * 3600 * ${hours}) // ${rows} AS BIGINT))) AS event_hour
      FROM range(${b * perBatch}, ${Math.min(rows, (b + 1) * perBatch)}) t(i)`;
    await append(table, { sql });
  }
  const loadMs = performance.now() - load0;
  const snap = await table.snapshot();
  const files = snap.files().length;

  const queries: Record<string, string> = {
    count: 'SELECT count(*) FROM orders_events',
    groupBy: 'SELECT status, count(*), sum(amount) FROM orders_events GROUP BY status',
    partitionFilter:
      "SELECT count(*) FROM orders_events WHERE event_hour = TIMESTAMPTZ '2026-01-01 05:00:00+00'",
    timeTravel: 'SELECT count(*) FROM orders_events VERSION AS OF 1',
  };
  const results: Record<string, { medianMs: number; minMs: number }> = {};
  for (const [name, sql] of Object.entries(queries)) {
    const times: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      await runQuery(sql, { dataDir });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    results[name] = {
      medianMs: Math.round(times[Math.floor(times.length / 2)]),
      minMs: Math.round(times[0]),
    };
  }
  const out = { rows, files, loadMs: Math.round(loadMs), queries: results };
  console.log(
    `table: ${rows} rows in ${files} files (${hours} hourly partitions), loaded in ${out.loadMs} ms`,
  );
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `${name.padEnd(16)} median ${String(r.medianMs).padStart(6)} ms   min ${String(r.minMs).padStart(6)} ms   (${queries[name]})`,
    );
  }
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/query.json', `${JSON.stringify(out, null, 2)}\n`);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
