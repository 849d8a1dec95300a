/**
 * The truth for the food-orders CDC tests: the source table read with plain SQL, each
 * row judged by the seed's rules in SQL (order_id not null, amount > 0, the names, item
 * and status not empty), against the lake pipelines/cdc.yaml wrote:
 * - food.orders_current equals the source row for row, every column;
 * - food.orders holds no change twice (order, position), and the current image of every
 *   valid source row; with inserts only, exactly the valid rows, once each;
 * - food.orders_failed holds the current image of every invalid row, each change once.
 * The mirror is also read by delta-rs (its simple columns), a reader of its own.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import { runQuery } from '../../src/query/run.ts';
import { deltaRsColumns, pythonSkip } from '../interop/helpers.ts';

const T = '"2025em1100102_orders"';
const ts = (c: string) => `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${c}`;
const VALID = `order_id IS NOT NULL AND amount > 0 AND trim(customer_name) <> '' AND trim(restaurant_name) <> ''
  AND trim(item) <> '' AND trim(order_status) <> ''`;
const FIELDS = [
  'order_id',
  'customer_name',
  'restaurant_name',
  'item',
  'amount',
  'order_status',
  'created_at',
  'updated_at',
];

type Row = Record<string, string | null>;

async function sourceRows(url: string): Promise<Array<Row & { valid: string }>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query(
      `SELECT order_id::text, customer_name, restaurant_name, item, amount::text, order_status, ${ts('created_at')}, ${ts('updated_at')},
         coalesce(${VALID}, false)::text AS valid FROM ${T} ORDER BY ${T}.order_id`,
    );
    return rows;
  } finally {
    await c.end();
  }
}

async function lakeRows(dataDir: string, table: string, where = 'true'): Promise<Row[]> {
  const { rows } = await runQuery(
    `SELECT order_id AS k_id, __pos AS k_pos, __seq AS k_seq, order_id::VARCHAR AS order_id, customer_name, restaurant_name,
       item, amount::VARCHAR AS amount, order_status, created_at, updated_at, __pos::VARCHAR AS __pos, __seq
     FROM ${table} WHERE ${where} ORDER BY k_id, k_pos, k_seq`,
    { dataDir },
  );
  return rows.map((r) =>
    Object.fromEntries(
      Object.entries(r)
        .filter(([k]) => !k.startsWith('k_'))
        .map(([k, v]) => [k, v === null ? null : String(v)]),
    ),
  );
}

const pick = (r: Row) => Object.fromEntries(FIELDS.map((f) => [f, r[f] ?? null]));
const changeId = (r: Row) => `${r.order_id}@${r.__pos}.${r.__seq}`;

export interface CdcCheck {
  source: number;
  valid: number;
  changeLog: number;
  failed: number;
}

/** Asserts the lake in `dataDir` against the source table at `url`. */
export async function assertLakeMatchesSource(
  url: string,
  dataDir: string,
  opts: { insertsOnly?: boolean } = {},
): Promise<CdcCheck> {
  const source = await sourceRows(url);
  const mirror = await lakeRows(dataDir, 'food.orders_current');
  assert.deepEqual(mirror.map(pick), source.map(pick), 'the mirror equals the source table row for row');

  const log = await lakeRows(dataDir, 'food.orders');
  const failed = await lakeRows(dataDir, 'food.orders_failed');
  for (const [name, rows] of [
    ['food.orders', log],
    ['food.orders_failed', failed],
  ] as const) {
    const ids = rows.map(changeId);
    assert.equal(new Set(ids).size, ids.length, `${name} holds no change twice`);
  }
  const key = (r: Row) => JSON.stringify(pick(r));
  const logged = new Set(log.map(key));
  const failedSet = new Set(failed.map(key));
  const valid = source.filter((r) => r.valid === 'true');
  const invalid = source.filter((r) => r.valid !== 'true');
  for (const r of valid)
    assert.ok(logged.has(key(r)), `the current image of valid order ${r.order_id} is in food.orders`);
  for (const r of invalid) {
    assert.ok(
      failedSet.has(key(r)),
      `the current image of invalid order ${r.order_id} is in food.orders_failed`,
    );
  }
  if (opts.insertsOnly) {
    assert.deepEqual(log.map(pick), valid.map(pick), 'food.orders holds each valid inserted order once');
    assert.deepEqual(failed.map(pick), invalid.map(pick), 'food.orders_failed holds each invalid order once');
  }
  if (pythonSkip() === undefined) {
    const cols = ['order_id', 'customer_name', 'restaurant_name', 'item', 'order_status'];
    const rs = await deltaRsColumns(join(dataDir, 'tables', 'food', 'orders_current'), cols);
    const byRs = rs.columns.order_id.map((_, i) =>
      Object.fromEntries(cols.map((c) => [c, rs.columns[c][i] === null ? null : String(rs.columns[c][i])])),
    );
    byRs.sort((a, b) => Number(a.order_id) - Number(b.order_id));
    assert.deepEqual(
      byRs,
      source.map((r) => Object.fromEntries(cols.map((c) => [c, r[c]]))),
      'delta-rs reads the same mirror',
    );
  }
  return { source: source.length, valid: valid.length, changeLog: log.length, failed: failed.length };
}
