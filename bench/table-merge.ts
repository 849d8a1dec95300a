/**
 * MERGE of 50,000 changes into a 1,000,000-row orders_current-like table (defaults),
 * copy-on-write, in three layouts:
 *
 * - one_file: the whole table in one Parquet file; changes hit random keys
 *   (every MERGE rewrites the table: the architecture study's ~1.4 s case);
 * - buckets16_random: partitioned by bucket = hash(order_id) % 16; changes hit random
 *   keys, so every bucket is touched (bucketing alone does not bound the rewrite);
 * - clustered_recent: 100 files sorted by order_id (ids increase with time); changes
 *   hit the most recent orders plus new ones — the orders lifecycle pattern — so key
 *   min/max stats let MERGE skip all but the newest files.
 *
 *   node bench/table-merge.ts [tableRows] [changes]
 *   MERGE_ORDER=key node bench/table-merge.ts   (rewrites sorted by order_id: measures the sort's cost)
 *
 * Prints figures and writes bench/results/table-merge.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStore } from '../src/storage/local.ts';
import { append } from '../src/table/ops/append.ts';
import { merge } from '../src/table/ops/merge.ts';
import type { StructType } from '../src/table/schema.ts';
import { DeltaTable } from '../src/table/table.ts';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const CHANGES = Number(process.argv[3] ?? 50_000);
const f = (name: string, type: StructType['fields'][number]['type'], nullable = true) => ({
  name,
  type,
  nullable,
  metadata: {},
});
const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    f('order_id', 'string', false),
    f('customer_id', 'string'),
    f('status', 'string'),
    f('amount', 'decimal(12,2)'),
    f('items', 'integer'),
    f('updated_at', 'timestamp'),
    f('bucket', 'integer'),
  ],
};

const row = (i: string, status: string, minute: string) => `SELECT
  'o' || lpad((${i})::VARCHAR, 9, '0') AS order_id,
  'c' || (hash(${i}) % 50000)::VARCHAR AS customer_id,
  '${status}' AS status,
  ((hash(${i}) % 100000) / 100.0)::DECIMAL(12,2) AS amount,
  (1 + hash(${i}) % 5)::INTEGER AS items,
  TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds((${minute})::BIGINT * 60000000) AS updated_at,
  (hash('o' || lpad((${i})::VARCHAR, 9, '0')) % 16)::INTEGER AS bucket`;

const base = `${row('i', 'CREATED', 'i // 1000')} FROM range(${ROWS}) t(i)`;
// 80% updates of existing orders, 20% new orders.
const updates = Math.floor(CHANGES * 0.8);
const inserts = CHANGES - updates;
const randomChanges = `${row('k', 'PAID', '100000')} FROM (SELECT DISTINCT (hash(i * 7919) % ${ROWS})::BIGINT AS k FROM range(${updates * 2}) t(i) LIMIT ${updates}) UNION ALL ${row(`${ROWS} + i`, 'CREATED', '100000')} FROM range(${inserts}) t(i)`;
const recentChanges = `${row(`${ROWS - updates} + i`, 'PAID', '100000')} FROM range(${updates}) t(i) UNION ALL ${row(`${ROWS} + i`, 'CREATED', '100000')} FROM range(${inserts}) t(i)`;

const root = mkdtempSync(join(tmpdir(), 'tributary-bench-merge-'));
const results: Record<string, unknown> = { tableRows: ROWS, changes: CHANGES };
try {
  const layouts: Array<{
    name: string;
    parts: string[];
    load: () => string[];
    changes: string;
    target?: number;
  }> = [
    { name: 'one_file', parts: [], load: () => [base], changes: randomChanges },
    { name: 'buckets16_random', parts: ['bucket'], load: () => [base], changes: randomChanges },
    {
      name: 'clustered_recent',
      parts: [],
      load: () =>
        Array.from(
          { length: 100 },
          (_, j) =>
            `${base.replace(`FROM range(${ROWS})`, `FROM range(${(j * ROWS) / 100}, ${((j + 1) * ROWS) / 100})`)}`,
        ),
      changes: recentChanges,
    },
  ];
  for (const l of layouts) {
    const table = await DeltaTable.create(new LocalStore(join(root, l.name)), {
      schema: SCHEMA,
      partitionColumns: l.parts,
    });
    for (const sql of l.load()) await append(table, { sql }, { orderBy: ['order_id'] });
    const before = (await table.snapshot()).files().length;
    const t0 = performance.now();
    const res = await merge(
      table,
      { sql: l.changes },
      { on: ['order_id'], orderBy: process.env.MERGE_ORDER === 'key' ? ['order_id'] : undefined },
    );
    const ms = performance.now() - t0;
    const r = { ms: Math.round(ms), filesBefore: before, ...res.metrics };
    results[l.name] = r;
    console.log(l.name.padEnd(20), JSON.stringify(r));
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/table-merge.json', `${JSON.stringify(results, null, 2)}\n`);
console.log('wrote bench/results/table-merge.json');
