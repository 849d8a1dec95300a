/**
 * Seed 003's source system: the food-orders table in PostgreSQL, with the seed's names
 * (table `2025em1100102_orders`, topic `2025em1100102_food_orders_raw` of 3 partitions,
 * consumer group `food_orders_consumer_group`) and its sample rows (Alice Smith, Spice
 * Garden, Butter Chicken, 350.00, DELIVERED, 2025-11-18 10:00:00).
 *
 * The seed's columns, plus `updated_at`, set to the writing transaction's time on every
 * insert and update (a trigger), so a polling capture can follow updates as well
 * (cursor `updated_at`; the seed's `created_at` sees inserts only). The text columns and
 * the amount have no constraints on purpose: the pipeline's contract, not the table,
 * decides what is valid (the seed tags invalid rows FAILED rather than refusing them).
 */

import type { PgConnector } from '../../connectors/postgres/client.ts';
import { type PgTableName, qualified } from '../../connectors/postgres/tables.ts';
import { quoteIdent, quoteString } from '../../core/sql.ts';

export const FOOD_ORDERS_TABLE: PgTableName = { schema: 'public', name: '2025em1100102_orders' };
export const FOOD_ORDERS_TOPIC = '2025em1100102_food_orders_raw';
export const FOOD_ORDERS_PARTITIONS = 3;
export const FOOD_ORDERS_GROUP = 'food_orders_consumer_group';

export const COLUMNS = [
  'order_id',
  'customer_name',
  'restaurant_name',
  'item',
  'amount',
  'order_status',
  'created_at',
  'updated_at',
] as const;

export function createStatements(table: PgTableName = FOOD_ORDERS_TABLE): string[] {
  const t = qualified(table);
  const name = (suffix: string) => quoteIdent(`${table.name}_${suffix}`);
  const fn = `${quoteIdent(table.schema)}.${name('touch')}`;
  return [
    `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(table.schema)}`,
    `CREATE TABLE IF NOT EXISTS ${t} (
      order_id serial PRIMARY KEY,
      customer_name varchar(100),
      restaurant_name varchar(100),
      item varchar(100),
      amount numeric(10,2),
      order_status varchar(20),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`,
    // The polling query's range and order, by either cursor.
    `CREATE INDEX IF NOT EXISTS ${name('created_at_idx')} ON ${t} (created_at, order_id)`,
    `CREATE INDEX IF NOT EXISTS ${name('updated_at_idx')} ON ${t} (updated_at, order_id)`,
    `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN NEW.updated_at := now(); RETURN NEW; END $$`,
    `CREATE OR REPLACE TRIGGER ${name('touch')} BEFORE UPDATE ON ${t} FOR EACH ROW EXECUTE FUNCTION ${fn}()`,
  ];
}

export interface SeedOrder {
  customer_name: string;
  restaurant_name: string;
  item: string;
  amount: string;
  order_status: string;
  created_at: string;
}

/** The seed's sample order first, then a few more of the same kind (two of them invalid). */
export const SEED_ORDERS: readonly SeedOrder[] = [
  ['Alice Smith', 'Spice Garden', 'Butter Chicken', '350.00', 'DELIVERED', '2025-11-18 10:00:00'],
  ['Bob Johnson', 'Pizza Palace', 'Margherita Pizza', '299.00', 'DELIVERED', '2025-11-18 10:05:00'],
  ['Carol Davis', 'Dragon Wok', 'Hakka Noodles', '220.50', 'OUT_FOR_DELIVERY', '2025-11-18 10:12:00'],
  ['David Lee', 'Spice Garden', 'Paneer Tikka', '280.00', 'PREPARING', '2025-11-18 10:12:00'],
  ['Emma Wilson', 'Burger Barn', 'Cheese Burger', '180.00', 'PLACED', '2025-11-18 10:20:00'],
  ['', 'Pizza Palace', 'Farmhouse Pizza', '349.00', 'PLACED', '2025-11-18 10:25:00'],
  ['Frank Moore', 'Dragon Wok', 'Manchurian', '0.00', 'PLACED', '2025-11-18 10:31:00'],
  ['Grace Taylor', 'Sushi Point', 'Salmon Roll', '450.00', 'CANCELLED', '2025-11-19 09:02:00'],
  ['Henry Clark', 'Burger Barn', 'Veggie Wrap', '150.00', 'DELIVERED', '2025-11-19 09:15:00'],
  ['Isha Patel', 'Spice Garden', 'Dal Makhani', '240.00', 'DELIVERED', '2025-11-19 09:40:00'],
].map(([customer_name, restaurant_name, item, amount, order_status, created_at]) => ({
  customer_name,
  restaurant_name,
  item,
  amount,
  order_status,
  created_at,
}));

/**
 * Creates the table (if missing) and, when it is empty and `seed` is set, inserts the
 * seed's orders (their times in UTC). Returns how many were inserted.
 */
export async function setupFoodOrders(
  db: PgConnector,
  opts: { table?: PgTableName; seed?: boolean } = {},
): Promise<number> {
  const table = opts.table ?? FOOD_ORDERS_TABLE;
  const s = await db.connect();
  let broken = false;
  try {
    for (const sql of createStatements(table)) await s.query(sql);
    if (opts.seed === false) return 0;
    const { rows } = await s.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${qualified(table)}`);
    if (rows[0].n !== '0') return 0;
    const values = SEED_ORDERS.map(
      (o) =>
        `(${[o.customer_name, o.restaurant_name, o.item].map(quoteString).join(', ')}, ${o.amount}, ${quoteString(o.order_status)}, ` +
        `${quoteString(`${o.created_at}+00`)}::timestamptz, ${quoteString(`${o.created_at}+00`)}::timestamptz)`,
    );
    await s.query(
      `INSERT INTO ${qualified(table)} (customer_name, restaurant_name, item, amount, order_status, created_at, updated_at) VALUES ${values.join(', ')}`,
    );
    return SEED_ORDERS.length;
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    s.release(broken);
  }
}
