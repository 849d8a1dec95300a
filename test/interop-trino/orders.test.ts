/**
 * The orders demo's tables, as `tributary demo orders` leaves them (appends partitioned by
 * event hour, MERGEs into orders_current), answer the same per-status counts and money sums
 * in Trino as in `tributary query` and as computed in plain code from delta-rs's read.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  cleanup,
  deltaRsColumns,
  parseJsonExact,
  pythonSkip,
  sortRows,
  tempDir,
  tributary,
} from '../interop/helpers.ts';
import { TrinoSchema, trino, trinoSkip } from './trino.ts';

const skip = trinoSkip() ?? pythonSkip();

type Row = Record<string, unknown>;

/** Per `key`: rows and the exact sum of `total_amount` (cents), as text like `1234.50`. */
function totals(keys: unknown[], amounts: unknown[]): Row[] {
  const by = new Map<string, { n: number; cents: bigint }>();
  keys.forEach((k, i) => {
    const t = by.get(String(k)) ?? { n: 0, cents: 0n };
    t.n += 1;
    if (amounts[i] !== null) t.cents += BigInt(String(amounts[i]).replace('.', ''));
    by.set(String(k), t);
  });
  return sortRows(
    [...by].map(([key, t]) => ({
      key,
      n: String(t.n),
      total: `${t.cents / 100n}.${String(t.cents % 100n).padStart(2, '0')}`,
    })),
  );
}

/** The per-key rows of an answer with columns key, n, total, all as text. */
const asText = (rows: Row[]) =>
  sortRows(rows.map((r) => ({ key: String(r.key), n: String(r.n), total: String(r.total) })));

describe('the orders demo tables read by Trino', { skip, timeout: 600_000 }, () => {
  let dir: string;
  let schema: TrinoSchema;
  before(async () => {
    dir = await tempDir('orders-trino');
    schema = await TrinoSchema.create('orders');
  });
  after(async () => {
    await schema?.drop();
    await cleanup(dir);
  });

  test('counts and money sums per status equal tributary query and delta-rs', async () => {
    const dataDir = join(dir, 'data');
    // 4 s of events at 5,000/s: several batches, so orders_current is built by MERGEs.
    const demo = await tributary([
      'demo',
      'orders',
      ...['--events', '20000', '--rate', '5000', '--seed', '11', '--no-serve', '--data-dir', dataDir],
    ]);
    assert.equal(demo.code, 0, demo.stdout + demo.stderr);

    for (const [table, key] of [
      ['orders_current', 'status'],
      ['orders_events', 'event_type'],
    ]) {
      const path = join(dataDir, 'tables', table);
      const sql = (from: string) =>
        `SELECT ${key} AS key, CAST(count(*) AS VARCHAR) AS n, CAST(sum(total_amount) AS VARCHAR) AS total FROM ${from} GROUP BY ${key}`;

      const cols = await deltaRsColumns(path, [key, 'total_amount']);
      const truth = totals(cols.columns[key], cols.columns.total_amount);
      assert.ok(truth.length >= 3, `${table}: several ${key} values`);

      const ours = await tributary(['query', sql(table), '--format', 'json', '--data-dir', dataDir]);
      assert.equal(ours.code, 0, ours.stderr);
      assert.deepEqual(asText(parseJsonExact(ours.stdout) as Row[]), truth, `${table}: tributary query`);

      const t = await schema.register(path, table);
      assert.deepEqual(asText((await trino(sql(t))).rows), truth, `${table}: Trino`);
    }
  });
});
