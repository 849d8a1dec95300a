/**
 * A workload on the orders table for capture tests: transactions of 1 to 4 statements
 * that insert new orders, update live ones and delete some, on one connection, with a
 * seeded generator. It keeps the list of what it committed (its own truth of every
 * change, in commit order), and `replayStrict` checks a topic's changes against the
 * chain of images: an insert only for a key not present, an update's or delete's before
 * image equal to what the mirror holds — so a change missed, doubled or out of order at
 * any point (the snapshot hand-over, a crash) fails there.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { dedup, type FlatChange, normalize, sql } from './helpers.ts';

const NAMES = ['Alice Smith', 'Bob Jones', 'Carol White', 'Dan Brown', 'Eve Black', 'Frank Green'];
const PLACES = ['Spice Garden', 'Pizza Palace', 'Sushi Zen', 'Taco Town', 'Noodle Bar'];
const ITEMS = ['Butter Chicken', 'Margherita', 'Dragon Roll', 'Burrito', 'Pho', 'Naan'];
const STATUS = ['PLACED', 'PREPARING', 'OUT_FOR_DELIVERY', 'DELIVERED', 'CANCELLED'];

/** mulberry32: a small seeded generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class OrdersWorkload {
  committed = 0;
  changes = 0;
  /** The transactions committed, in commit order: the server's xid and the changes (order, op). */
  readonly txns: { xid: number; ops: [number, string][] }[] = [];
  private readonly url: string;
  private readonly random: () => number;
  private readonly live: number[] = [];
  private nextId: number;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(url: string, seed: number, firstId = 1, live: number[] = []) {
    this.url = url;
    this.random = rng(seed);
    this.nextId = firstId;
    this.live = [...live];
  }

  /** The orders seeded (before any transaction of the workload). */
  readonly seeded: number[] = [];

  /** Inserts `n` orders in one statement (rows that exist before a capture starts). */
  async seed(n: number): Promise<void> {
    const first = this.nextId;
    this.nextId += n;
    const client = new pg.Client({ connectionString: this.url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO orders SELECT i, 'Customer ' || i, 'Spice Garden', 'Butter Chicken', (i % 500) + 0.5,
           'PLACED', timestamptz '2025-11-18 10:00:00+00' + i * interval '1 second'
         FROM generate_series($1::int, $2::int) AS i`,
        [first, first + n - 1],
      );
    } finally {
      await client.end();
    }
    for (let i = first; i < first + n; i++) {
      this.live.push(i);
      this.seeded.push(i);
    }
  }

  /**
   * Runs transactions until `stop`, at most `rate` per second (0: as fast as it can).
   * With `retry`, a server that goes away is waited for; a transaction whose COMMIT got
   * no answer is recorded if the server says it committed (txid_status).
   */
  start(rate = 0, retry = false): void {
    this.running = this.loop(rate, retry);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.random() * xs.length)];
  }

  private statement(done: [number, string][]): string {
    const r = this.random();
    if (r < 0.4 || this.live.length < 10) {
      const id = this.nextId++;
      this.live.push(id);
      done.push([id, 'c']);
      const amount = (1 + Math.floor(this.random() * 50000) / 100).toFixed(2);
      return `INSERT INTO orders VALUES (${id}, '${this.pick(NAMES)}', '${this.pick(PLACES)}', '${this.pick(ITEMS)}', ${amount}, 'PLACED', clock_timestamp())`;
    }
    const at = Math.floor(this.random() * this.live.length);
    const id = this.live[at];
    if (r < 0.8) {
      done.push([id, 'u']);
      return this.random() < 0.5
        ? `UPDATE orders SET order_status = '${this.pick(STATUS)}' WHERE order_id = ${id}`
        : `UPDATE orders SET amount = amount + 1, customer_name = '${this.pick(NAMES)}' WHERE order_id = ${id}`;
    }
    this.live[at] = this.live[this.live.length - 1];
    this.live.pop();
    done.push([id, 'd']);
    return `DELETE FROM orders WHERE order_id = ${id}`;
  }

  private async loop(rate: number, retry: boolean): Promise<void> {
    let client: pg.Client | undefined;
    const t0 = Date.now();
    try {
      while (!this.stopped) {
        const live = retry ? [...this.live] : this.live;
        const nextId = this.nextId;
        const n = 1 + Math.floor(this.random() * 4);
        const statements: string[] = [];
        const done: [number, string][] = [];
        for (let i = 0; i < n; i++) statements.push(this.statement(done));
        let xid: bigint | undefined;
        try {
          if (client === undefined) {
            client = new pg.Client({ connectionString: this.url });
            client.on('error', () => {});
            await client.connect();
          }
          const began = (await client.query(
            'BEGIN; SELECT txid_current()::text AS x',
          )) as unknown as pg.QueryResult[];
          xid = BigInt(began[1].rows[0].x);
          await client.query(`${statements.join('; ')}; COMMIT`);
        } catch (err) {
          if (!retry) throw err;
          client?.end().catch(() => {});
          client = undefined;
          // Did it commit? Ask the server once it answers again.
          let committed = false;
          for (;;) {
            if (xid === undefined) break;
            try {
              const [{ s }] = await sql<{ s: string | null }>(this.url, 'SELECT txid_status($1) AS s', [
                String(xid),
              ]);
              committed = s === 'committed';
              break;
            } catch (e) {
              // After a crash, an xid nothing durable was written under is "in the future": not committed.
              if (/in the future/.test((e as Error).message)) break;
              await new Promise((r) => setTimeout(r, 200));
            }
          }
          if (!committed) {
            this.live.length = 0;
            this.live.push(...live);
            this.nextId = nextId;
            await new Promise((r) => setTimeout(r, 200));
            continue;
          }
        }
        this.txns.push({ xid: Number(xid! & 0xffffffffn), ops: done });
        this.committed++;
        this.changes += n;
        if (rate > 0) {
          const due = t0 + (this.committed * 1000) / rate;
          const wait = due - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
      }
    } finally {
      await client?.end().catch(() => {});
    }
  }
}

/**
 * Replays the topic's changes (replays removed by position) into a mirror, checking
 * the chain of images on the way; returns the mirror by order_id.
 */
export function replayStrict(changes: readonly FlatChange[]): Map<string, Record<string, unknown>> {
  const m = new Map<string, Record<string, unknown>>();
  for (const c of dedup(changes)) {
    const key = String(c.row.order_id);
    const at = `${c.op} of order ${key} at (${c.pos}, ${c.seq})`;
    const row = normalize(c.row);
    if (c.op === 'r' || c.op === 'c') {
      assert.ok(!m.has(key), `${at}: the order is already there (a change doubled or out of order)`);
      m.set(key, row);
    } else {
      assert.ok(m.has(key), `${at}: the order is not there (its insert was lost)`);
      if (c.op === 'd') {
        assert.deepEqual(row, m.get(key), `${at}: the delete's before image is the row the mirror holds`);
        m.delete(key);
      } else {
        m.set(key, row);
      }
    }
  }
  return m;
}

/**
 * Checks the topic against the workload's own record of what it committed: the snapshot
 * rows are exactly the orders live after the transactions before the slot's consistent
 * point, and the streamed changes are exactly the transactions after it — every one, in
 * commit order, each once, each with its changes in statement order.
 */
export function assertExactlyOnce(changes: readonly FlatChange[], workload: OrdersWorkload): void {
  const unique = dedup(changes);
  const streamed = unique.filter((c) => !c.snapshot);
  const byTxn: FlatChange[][] = [];
  for (const c of streamed) {
    const last = byTxn[byTxn.length - 1];
    if (last !== undefined && last[0].pos === c.pos) last.push(c);
    else byTxn.push([c]);
  }
  const xids = byTxn.map((t) => t[0].txid);
  const k = xids.length === 0 ? workload.txns.length : workload.txns.findIndex((t) => t.xid === xids[0]);
  assert.ok(k >= 0, `the first streamed transaction (xid ${xids[0]}) is one of the workload's`);
  assert.deepEqual(
    xids,
    workload.txns.slice(k).map((t) => t.xid),
    'the streamed transactions are every transaction after the snapshot, in commit order, once',
  );
  for (let i = 0; i < byTxn.length; i++) {
    assert.deepEqual(
      byTxn[i].map((c) => [Number(c.row.order_id), c.op]),
      workload.txns[k + i].ops,
      `transaction ${xids[i]}: its changes in order`,
    );
  }
  const live = new Set(workload.seeded);
  for (const t of workload.txns.slice(0, k)) {
    for (const [id, op] of t.ops) {
      if (op === 'c') live.add(id);
      else if (op === 'd') live.delete(id);
    }
  }
  const snapshot = unique.filter((c) => c.snapshot).map((c) => Number(c.row.order_id));
  assert.equal(snapshot.length, new Set(snapshot).size, 'each order once in the snapshot');
  assert.deepEqual(
    [...snapshot].sort((a, b) => a - b),
    [...live].sort((a, b) => a - b),
    'the snapshot holds the orders live at its consistent point',
  );
}
