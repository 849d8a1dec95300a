/**
 * A workload on the food-orders table: orders inserted, updated (their status moves on,
 * sometimes the amount is corrected) and deleted at a steady rate, some of them invalid
 * by the seed's rules (an empty name or item, an amount of 0 or less), reproducible from
 * a seed. Every tick's changes are one short transaction (the embedded PGlite serves one
 * session: a long one would stall the capture).
 */
import { Rng } from '../../connectors/generators/rng.ts';
import type { PgConnector, PgSession } from '../../connectors/postgres/client.ts';
import { postgresError } from '../../connectors/postgres/errors.ts';
import { type PgTableName, qualified } from '../../connectors/postgres/tables.ts';
import { FOOD_ORDERS_TABLE } from './schema.ts';

export interface WorkloadMix {
  insert: number;
  update: number;
  delete: number;
}

export interface WorkloadOptions {
  db: PgConnector;
  table?: PgTableName;
  /** Changes per second (default 20). */
  rate?: number;
  /** Shares of inserts, updates and deletes (default 70/25/5). */
  mix?: WorkloadMix;
  /** Share of inserted orders that break a rule of the seed's validation (default 0.03). */
  invalidRate?: number;
  /** Stop after this many changes (default: until `signal` aborts). */
  count?: number;
  seed?: number;
  signal?: AbortSignal;
  /** Milliseconds between transactions (default 100). */
  tickMs?: number;
  onProgress?: (stats: WorkloadStats) => void;
}

export interface WorkloadStats {
  inserted: number;
  updated: number;
  deleted: number;
  invalid: number;
}

const FIRST = [
  'Alice',
  'Bob',
  'Carol',
  'David',
  'Emma',
  'Farah',
  'Grace',
  'Henry',
  'Isha',
  'Jon',
  'Kavya',
  'Liam',
  'Maya',
  'Nikhil',
  'Olivia',
  'Priya',
  'Ravi',
  'Sara',
  'Tom',
  'Uma',
];
const LAST = [
  'Smith',
  'Johnson',
  'Davis',
  'Lee',
  'Wilson',
  'Khan',
  'Taylor',
  'Clark',
  'Patel',
  'Moore',
  'Iyer',
  'Brown',
  'Singh',
  'Garcia',
];
const MENU: Record<string, Array<[string, number]>> = {
  'Spice Garden': [
    ['Butter Chicken', 350],
    ['Paneer Tikka', 280],
    ['Dal Makhani', 240],
    ['Garlic Naan', 60],
  ],
  'Pizza Palace': [
    ['Margherita Pizza', 299],
    ['Farmhouse Pizza', 349],
    ['Garlic Bread', 129],
  ],
  'Dragon Wok': [
    ['Hakka Noodles', 220.5],
    ['Manchurian', 199],
    ['Fried Rice', 210],
  ],
  'Burger Barn': [
    ['Cheese Burger', 180],
    ['Veggie Wrap', 150],
    ['Fries', 90],
  ],
  'Sushi Point': [
    ['Salmon Roll', 450],
    ['Miso Soup', 120],
    ['Tempura', 380],
  ],
};
const RESTAURANTS = Object.keys(MENU);
/** Where an order's status may go next. */
const NEXT: Record<string, string[]> = {
  PLACED: ['PREPARING', 'CANCELLED'],
  PREPARING: ['OUT_FOR_DELIVERY', 'CANCELLED'],
  OUT_FOR_DELIVERY: ['DELIVERED'],
  DELIVERED: ['DELIVERED'],
  CANCELLED: ['CANCELLED'],
};

interface NewOrder {
  customer_name: string | null;
  restaurant_name: string | null;
  item: string | null;
  amount: string;
  order_status: string;
}

export class FoodOrdersWorkload {
  readonly stats: WorkloadStats = { inserted: 0, updated: 0, deleted: 0, invalid: 0 };
  private readonly rng: Rng;
  private readonly opts: WorkloadOptions;
  private readonly table: PgTableName;
  /** Orders that exist, with their status (loaded at start). */
  private live: number[] = [];
  private status = new Map<number, string>();

  constructor(opts: WorkloadOptions) {
    this.opts = opts;
    this.table = opts.table ?? FOOD_ORDERS_TABLE;
    this.rng = new Rng(opts.seed ?? 3);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.rng.int(xs.length)];
  }

  private newOrder(): NewOrder {
    const restaurant = this.pick(RESTAURANTS);
    const [item, price] = this.pick(MENU[restaurant]);
    const qty = 1 + this.rng.int(3);
    const o: NewOrder = {
      customer_name: `${this.pick(FIRST)} ${this.pick(LAST)}`,
      restaurant_name: restaurant,
      item,
      amount: (price * qty).toFixed(2),
      order_status: 'PLACED',
    };
    if (this.rng.float() < (this.opts.invalidRate ?? 0.03)) {
      this.stats.invalid++;
      const broken = this.rng.int(5);
      if (broken === 0) o.customer_name = '';
      else if (broken === 1) o.amount = this.rng.int(2) === 0 ? '0.00' : '-15.00';
      else if (broken === 2) o.item = '  ';
      else if (broken === 3) o.restaurant_name = null;
      else o.order_status = '';
    }
    return o;
  }

  /** An existing order not deleted in this step (undefined if none is found quickly). */
  private pickLive(deleted: ReadonlySet<number>): number | undefined {
    if (this.live.length === 0) return undefined;
    for (let k = 0; k < 8; k++) {
      const id = this.pick(this.live);
      if (!deleted.has(id)) return id;
    }
    return undefined;
  }

  private async load(s: PgSession): Promise<void> {
    const { rows } = await s.query<{ id: number; st: string | null }>(
      `SELECT order_id AS id, order_status AS st FROM ${qualified(this.table)}`,
    );
    this.live = rows.map((r) => r.id);
    this.status = new Map(rows.map((r) => [r.id, r.st ?? 'PLACED']));
  }

  /** One transaction of `n` changes. */
  private async step(s: PgSession, n: number): Promise<void> {
    const mix = this.opts.mix ?? { insert: 0.7, update: 0.25, delete: 0.05 };
    const total = mix.insert + mix.update + mix.delete;
    const inserts: NewOrder[] = [];
    const updates = new Map<number, { status: string; amount?: string }>();
    const deletes = new Set<number>();
    for (let i = 0; i < n; i++) {
      const r = this.rng.float() * total;
      const id = r < mix.insert ? undefined : this.pickLive(deletes);
      if (id === undefined) {
        inserts.push(this.newOrder());
      } else if (r < mix.insert + mix.update) {
        const next = this.pick(NEXT[this.status.get(id) ?? 'PLACED'] ?? ['DELIVERED']);
        updates.set(id, {
          status: next,
          ...(this.rng.int(10) === 0 && { amount: `${100 + this.rng.int(400)}.00` }),
        });
        this.status.set(id, next);
      } else {
        deletes.add(id);
        updates.delete(id);
      }
    }
    const t = qualified(this.table);
    await s.query('BEGIN');
    try {
      if (inserts.length > 0) {
        const cols = ['customer_name', 'restaurant_name', 'item', 'amount', 'order_status'] as const;
        const { rows } = await s.query<{ id: number }>(
          `INSERT INTO ${t} (${cols.join(', ')}) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::text[]) RETURNING order_id AS id`,
          cols.map((c) => inserts.map((o) => o[c])),
        );
        for (const r of rows) {
          this.live.push(r.id);
          this.status.set(r.id, 'PLACED');
        }
      }
      if (updates.size > 0) {
        const ids = [...updates.keys()];
        await s.query(
          `UPDATE ${t} AS o SET order_status = v.s, amount = coalesce(v.a, o.amount)
             FROM unnest($1::int[], $2::text[], $3::numeric[]) AS v(id, s, a) WHERE o.order_id = v.id`,
          [ids, ids.map((id) => updates.get(id)!.status), ids.map((id) => updates.get(id)!.amount ?? null)],
        );
      }
      if (deletes.size > 0) {
        await s.query(`DELETE FROM ${t} WHERE order_id = ANY($1::int[])`, [[...deletes]]);
        this.live = this.live.filter((id) => !deletes.has(id));
        for (const id of deletes) this.status.delete(id);
      }
      await s.query('COMMIT');
    } catch (err) {
      await s.query('ROLLBACK').catch(() => {});
      throw err;
    }
    this.stats.inserted += inserts.length;
    this.stats.updated += updates.size;
    this.stats.deleted += deletes.size;
  }

  /** Runs until `count` changes are made or `signal` aborts. */
  async run(): Promise<WorkloadStats> {
    const { db, signal } = this.opts;
    const rate = this.opts.rate ?? 20;
    const tick = this.opts.tickMs ?? 100;
    const s = await db.connect();
    let broken = false;
    try {
      await this.load(s);
      const began = performance.now();
      let done = 0;
      while (!signal?.aborted && (this.opts.count === undefined || done < this.opts.count)) {
        const due = Math.floor(((performance.now() - began) / 1000) * rate) - done;
        const n = Math.min(due, (this.opts.count ?? Number.POSITIVE_INFINITY) - done, 5000);
        if (n > 0) {
          await this.step(s, n);
          done += n;
          this.opts.onProgress?.(this.stats);
        }
        await new Promise((r) => setTimeout(r, tick));
      }
      return this.stats;
    } catch (err) {
      broken = true;
      throw postgresError(err, db.target, `writing the food-orders workload into ${qualified(this.table)}`);
    } finally {
      s.release(broken);
    }
  }
}

export function runFoodOrdersWorkload(opts: WorkloadOptions): Promise<WorkloadStats> {
  return new FoodOrdersWorkload(opts).run();
}
