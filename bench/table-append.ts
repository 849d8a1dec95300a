/**
 * Append throughput into a Delta table: 1,000,000 orders-like rows (default), from raw
 * NDJSON bytes handed to DuckDB (the streaming fast path) and from a SQL query, into a
 * LocalStore table — with the rename fast path (staging inside the table directory) and
 * with the generic put path (a store without localPath, as remote stores work).
 *
 *   node bench/table-append.ts [rows]
 *
 * Prints figures and writes bench/results/table-append.json.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStore } from '../src/storage/local.ts';
import type { ObjectStore } from '../src/storage/object-store.ts';
import { append } from '../src/table/ops/append.ts';
import { withConnection } from '../src/table/read/connection.ts';
import type { StructType } from '../src/table/schema.ts';
import { DeltaTable } from '../src/table/table.ts';

const ROWS = Number(process.argv[2] ?? 1_000_000);
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
    f('order_id', 'string', false),
    f('customer_id', 'string'),
    f('status', 'string'),
    f('amount', 'decimal(12,2)'),
    f('currency', 'string'),
    f('items', 'integer'),
    f('event_timestamp', 'timestamp'),
    f('event_hour', 'string'),
  ],
};

const GEN = `SELECT
  'e' || i::VARCHAR AS event_id,
  'o' || lpad((i // 4)::VARCHAR, 9, '0') AS order_id,
  'c' || (hash(i // 4) % 50000)::VARCHAR AS customer_id,
  (['CREATED','PAID','SHIPPED','CANCELLED','RETURNED'])[1 + (i % 5)] AS status,
  ((hash(i) % 100000) / 100.0)::DECIMAL(12,2) AS amount,
  'EUR' AS currency,
  (1 + hash(i) % 5)::INTEGER AS items,
  TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(i * 36000) AS event_timestamp,
  strftime(TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(i * 36000), '%Y-%m-%d-%H') AS event_hour
FROM range(${ROWS}) t(i)`;

/** A store that hides localPath, so writes go through put (the remote-store path). */
function putOnly(inner: LocalStore): ObjectStore {
  return {
    url: inner.url,
    get: (p) => inner.get(p),
    getRange: (p, s, e) => inner.getRange(p, s, e),
    head: (p) => inner.head(p),
    put: (p, d) => inner.put(p, d),
    putIfAbsent: (p, d) => inner.putIfAbsent(p, d),
    list: (p) => inner.list(p),
    delete: (p) => inner.delete(p),
  };
}

const root = mkdtempSync(join(tmpdir(), 'tributary-bench-append-'));
const results: Record<string, unknown> = { rows: ROWS };
try {
  const ndjson = join(root, 'input.ndjson');
  await withConnection(async (c) => {
    await c.run(`COPY (${GEN}) TO '${ndjson}' (FORMAT json)`);
  });
  const inputBytes = statSync(ndjson).size;
  results.inputNdjsonBytes = inputBytes;
  const ndjsonSql = `SELECT * FROM read_json('${ndjson}', format='newline_delimited', columns={event_id:'VARCHAR', order_id:'VARCHAR', customer_id:'VARCHAR', status:'VARCHAR', amount:'DECIMAL(12,2)', currency:'VARCHAR', items:'INTEGER', event_timestamp:'TIMESTAMPTZ', event_hour:'VARCHAR'})`;

  const cases: Array<[string, string, boolean, string[]]> = [
    ['ndjson_unpartitioned_rename', ndjsonSql, true, []],
    ['ndjson_unpartitioned_put', ndjsonSql, false, []],
    ['ndjson_by_hour_rename', ndjsonSql, true, ['event_hour']],
    ['sql_generated_unpartitioned', GEN, true, []],
  ];
  // Warm-up: DuckDB's first COPY pays one-time costs that are not per-append.
  {
    const warm = await DeltaTable.create(new LocalStore(join(root, 'warm')), { schema: SCHEMA });
    await append(warm, { sql: `${GEN} LIMIT 1000` });
  }
  for (const [name, sql, local, parts] of cases) {
    const dir = join(root, name);
    mkdirSync(dir);
    const ls = new LocalStore(dir);
    const store = local ? ls : putOnly(ls);
    const table = await DeltaTable.create(store, { schema: SCHEMA, partitionColumns: parts });
    const t0 = performance.now();
    const res = await append(table, { sql });
    const ms = performance.now() - t0;
    const files = (await table.snapshot()).files();
    const outBytes = files.reduce((s, a) => s + a.size, 0);
    const r = {
      ms: Math.round(ms),
      rowsPerSec: Math.round((ROWS / ms) * 1000),
      inputMBPerSec: sql === ndjsonSql ? Number((inputBytes / 1e6 / (ms / 1000)).toFixed(1)) : undefined,
      parquetMB: Number((outBytes / 1e6).toFixed(1)),
      parquetMBPerSec: Number((outBytes / 1e6 / (ms / 1000)).toFixed(1)),
      files: files.length,
      version: res.version,
    };
    results[name] = r;
    console.log(name.padEnd(30), JSON.stringify(r));
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/table-append.json', `${JSON.stringify(results, null, 2)}\n`);
console.log('wrote bench/results/table-append.json');
