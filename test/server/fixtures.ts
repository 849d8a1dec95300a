/**
 * A table for the serving tests, written version by version with the table layer, and
 * the rows each version holds as plain JS (the truth the API's answers are compared
 * with): `orders`, partitioned by day, with a long beyond 2^53, decimals, timestamps,
 * and nulls in every column but the id.
 */
import { join } from 'node:path';
import { ManualClock } from '../../src/core/clock.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, DeltaTable } from '../../src/table/index.ts';
import type { StructType } from '../../src/table/schema.ts';

const f = (name: string, type: StructType['fields'][number]['type'], nullable = true) => ({
  name,
  type,
  nullable,
  metadata: {},
});

export const ORDERS_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    f('id', 'long', false),
    f('status', 'string'),
    f('amount', 'decimal(10,2)'),
    f('ts', 'timestamp'),
    f('day', 'date'),
  ],
};

export interface OrderRow {
  id: bigint;
  status: string | null;
  amount: string | null;
  ts: string | null;
  day: string | null;
}

export const T0 = Date.UTC(2026, 0, 1);
const STATUSES = ['new', 'paid', 'shipped', null];
const DAYS = ['2026-01-01', '2026-01-02', '2026-01-03'];

/** Row i of the data set (i from 1): deterministic, with nulls and a big id. */
export function orderRow(i: number): OrderRow {
  return {
    id: i === 7 ? 9007199254740993n : BigInt(i),
    status: STATUSES[i % 4],
    amount: i % 5 === 0 ? null : `${(i * 37) % 1000}.${String(i % 100).padStart(2, '0')}`,
    ts: i % 6 === 0 ? null : new Date(T0 + i * 61_000).toISOString().replace('Z', `${i % 10}00Z`),
    day: i % 11 === 0 ? null : DAYS[i % 3],
  };
}

/** Writes `versions` appends of `perVersion` rows each (version v at T0 + v minutes); returns the rows of each version. */
export async function writeOrders(
  dataDir: string,
  versions: number,
  perVersion: number,
  name = 'orders',
): Promise<{ table: DeltaTable; clock: ManualClock; rowsAt: OrderRow[][] }> {
  const clock = new ManualClock(T0);
  const table = await DeltaTable.open(new LocalStore(join(dataDir, 'tables', ...name.split('.'))), {
    clock,
    createIfMissing: { schema: ORDERS_SCHEMA, partitionColumns: ['day'] },
  });
  const rowsAt: OrderRow[][] = [];
  let all: OrderRow[] = [];
  for (let v = 0; v < versions; v++) {
    const rows = Array.from({ length: perVersion }, (_, k) => orderRow(v * perVersion + k + 1));
    await append(table, { rows: rows as unknown as Record<string, unknown>[] });
    all = [...all, ...rows];
    rowsAt.push(all);
    clock.advance(60_000);
  }
  return { table, clock, rowsAt };
}

/** Appends more rows (ids after `from`) as one new version. */
export async function appendOrders(table: DeltaTable, from: number, count: number): Promise<OrderRow[]> {
  const rows = Array.from({ length: count }, (_, k) => orderRow(from + k + 1));
  await append(table, { rows: rows as unknown as Record<string, unknown>[] });
  return rows;
}
