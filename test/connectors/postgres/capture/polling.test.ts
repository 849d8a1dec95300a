/**
 * The polling capture against a real PostgreSQL server and the embedded PGlite: what it
 * publishes is compared with the source table read with plain SQL.
 * - every row once, in (cursor, key) order per key, with the seed's message for Alice's
 *   order, and the state `timestamp|order_id` after the publish;
 * - 2,500 rows sharing one timestamp across batch_limit boundaries, captured one poll
 *   per process (a new capture each time, from the state file): none skipped, none twice;
 * - an updated_at cursor brings updates (op c, the newest image), not deletes;
 * - a transaction that began earlier and commits later: lost without a delay (the
 *   trade-off documented in docs/cdc.md), captured with one (server only: PGlite runs one
 *   session, so its transactions cannot overlap);
 * - a publish that fails is retried and the state does not move before it succeeds;
 *   one that fails after writing repeats rows (removed downstream), never loses one.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PollingCapture, type PollingOptions } from '../../../../src/connectors/postgres/capture/polling.ts';
import { TributaryError } from '../../../../src/core/errors.ts';
import type { Log, ProduceRecord, ProduceResult } from '../../../../src/log/log.ts';
import { openLog } from '../../../../src/log/open.ts';
import {
  createStatements,
  FOOD_ORDERS_TABLE,
  SEED_ORDERS,
} from '../../../../src/scenarios/food-orders/schema.ts';
import { openTarget, readChanges, TARGETS, type Target } from './targets.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tributary-polling-'));
  dirs.push(d);
  return d;
};

const T = '"2025em1100102_orders"';

/** `inner` with its produce replaced by `produce` (which may call the real one). */
function withProduce(
  inner: Log,
  produce: (
    records: ProduceRecord[],
    real: (r: ProduceRecord[]) => Promise<ProduceResult[]>,
  ) => Promise<ProduceResult[]>,
): Log {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'produce') return (r: ProduceRecord[]) => produce(r, (x) => target.produce(x));
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

async function setup(t: Target): Promise<void> {
  for (const s of createStatements()) await t.sql(s);
}

function capture(t: Target, log: Log, dir: string, more: Partial<PollingOptions> = {}): PollingCapture {
  return new PollingCapture({
    name: 'test',
    url: t.url,
    table: FOOD_ORDERS_TABLE,
    log,
    topic: 'raw',
    partitions: 3,
    format: 'flat',
    stateDir: join(dir, 'state'),
    pollIntervalMs: 50,
    delayMs: 0,
    report: () => {},
    ...more,
  });
}

/** The source's order ids with their cursor, in (cursor, key) order. */
async function sourceOrder(t: Target, cursor = 'created_at'): Promise<number[]> {
  const rows = await t.sql<{ id: number }>(`SELECT order_id AS id FROM ${T} ORDER BY ${cursor}, order_id`);
  return rows.map((r) => r.id);
}

for (const target of TARGETS) {
  describe(`polling capture (${target.name})`, { skip: target.skip, timeout: 300_000 }, () => {
    it('publishes every row once, keyed, in order, with the seed message and state', async () => {
      const t = await openTarget(target.name, 'poll_basic');
      const dir = tempDir();
      const log = await openLog({ dataDir: join(dir, 'log') });
      try {
        await setup(t);
        for (const o of SEED_ORDERS) {
          await t.sql(
            `INSERT INTO ${T} (customer_name, restaurant_name, item, amount, order_status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $6::timestamptz)`,
            [o.customer_name, o.restaurant_name, o.item, o.amount, o.order_status, `${o.created_at}+00`],
          );
        }
        const c = capture(t, log, dir, { batchLimit: 4 });
        await c.run({ untilCaughtUp: true });
        await c.close();
        const changes = await readChanges(log, 'raw');
        assert.deepEqual(
          changes.map((x) => x.value.order_id).sort((a, b) => Number(a) - Number(b)),
          (await sourceOrder(t)).sort((a, b) => a - b),
        );
        const alice = changes.find((x) => x.value.order_id === 1)!;
        assert.equal(alice.key, '{"order_id":1}');
        assert.equal(
          alice.text,
          '{"order_id":1,"customer_name":"Alice Smith","restaurant_name":"Spice Garden","item":"Butter Chicken","amount":350.00,' +
            '"order_status":"DELIVERED","created_at":"2025-11-18T10:00:00Z","updated_at":"2025-11-18T10:00:00Z",' +
            '"__op":"c","__pos":1763460000000000,"__seq":0,"__lsn":null,"__txid":null,"__commit_ts":"2025-11-18T10:00:00.000Z",' +
            '"__snapshot":false,"__deleted":false}',
        );
        // Within a partition, positions never go back (a key's changes are in one partition).
        for (let p = 0; p < 3; p++) {
          const pos = changes.filter((x) => x.partition === p).map((x) => BigInt(x.value.__pos as number));
          assert.deepEqual(
            pos,
            [...pos].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
          );
        }
        const last = SEED_ORDERS.length;
        assert.equal(
          readFileSync(join(dir, 'state', 'last_processed_timestamp.txt'), 'utf8'),
          `2025-11-19 09:40:00.000000|${last}\n`,
        );
        assert.equal(c.metrics.published, SEED_ORDERS.length);
      } finally {
        await log.close();
        await t.close();
      }
    });

    it('2,500 rows sharing a timestamp across batch_limit cuts, one poll per process: none skipped or repeated', async () => {
      const t = await openTarget(target.name, 'poll_ties');
      const dir = tempDir();
      const log = await openLog({ dataDir: join(dir, 'log') });
      try {
        await setup(t);
        const ins = (n: number, at: string) =>
          t.sql(
            `INSERT INTO ${T} (customer_name, restaurant_name, item, amount, order_status, created_at)
             SELECT 'c' || g, 'r', 'i', 10.00, 'PLACED', $1::timestamptz FROM generate_series(1, ${n}) g`,
            [at],
          );
        await ins(3, '2025-11-20 11:59:59.999999+00');
        await ins(2500, '2025-11-20 12:00:00+00');
        await ins(5, '2025-11-20 12:00:00.000001+00');
        // Each run is a fresh capture that stops right after its first publish.
        let runs = 0;
        for (;;) {
          const stop = new AbortController();
          let published = 0;
          const once = withProduce(log, async (r, real) => {
            const res = await real(r);
            published += r.length;
            stop.abort();
            return res;
          });
          const c = capture(t, once, dir, { batchLimit: 333 });
          const running = c.run({ signal: stop.signal });
          // A poll that finds nothing publishes nothing: then the run is stopped from here.
          const idle = setTimeout(() => stop.abort(), 2_000);
          await running;
          clearTimeout(idle);
          await c.close();
          runs++;
          if (published === 0) break;
          assert.ok(published <= 333);
        }
        assert.equal(runs, 9, '8 publishes of at most 333 rows, then one poll finding nothing');
        const changes = await readChanges(log, 'raw');
        const ids = changes.map((x) => Number(x.value.order_id));
        assert.equal(new Set(ids).size, ids.length, 'no order published twice');
        assert.deepEqual(
          [...ids].sort((a, b) => a - b),
          (await sourceOrder(t)).sort((a, b) => a - b),
        );
        assert.equal(ids.length, 2508);
      } finally {
        await log.close();
        await t.close();
      }
    });

    it('an updated_at cursor brings updates with the newest image; deletes are not seen', async () => {
      const t = await openTarget(target.name, 'poll_updates');
      const dir = tempDir();
      const log = await openLog({ dataDir: join(dir, 'log') });
      try {
        await setup(t);
        await t.sql(
          `INSERT INTO ${T} (customer_name, restaurant_name, item, amount, order_status) VALUES ('A', 'R', 'I', 1.00, 'PLACED'), ('B', 'R', 'I', 2.00, 'PLACED'), ('C', 'R', 'I', 3.00, 'PLACED')`,
        );
        const c = capture(t, log, dir, { cursor: 'updated_at' });
        await c.run({ untilCaughtUp: true });
        await sleep(5); // the next transaction's now() is later
        await t.sql(`UPDATE ${T} SET order_status = 'PREPARING' WHERE order_id = 2`);
        await t.sql(`UPDATE ${T} SET order_status = 'DELIVERED' WHERE order_id = 2`);
        await t.sql(`DELETE FROM ${T} WHERE order_id = 3`);
        await c.run({ untilCaughtUp: true });
        await c.close();
        const changes = await readChanges(log, 'raw');
        const two = changes.filter((x) => x.value.order_id === 2);
        assert.deepEqual(
          two.map((x) => [x.value.__op, x.value.order_status]),
          [
            ['c', 'PLACED'],
            ['c', 'DELIVERED'],
          ],
        );
        assert.ok(BigInt(two[1].value.__pos as number) > BigInt(two[0].value.__pos as number));
        assert.equal(changes.length, 4, 'the delete left nothing to read');
        const [row] = await t.sql<{ u: string }>(
          `SELECT floor(extract(epoch FROM updated_at) * 1000000)::bigint::text AS u FROM ${T} WHERE order_id = 2`,
        );
        assert.equal(String(two[1].value.__pos), row.u);
      } finally {
        await log.close();
        await t.close();
      }
    });

    it('a publish that fails is retried; the state moves only after a durable publish; a repeat is never a loss', async () => {
      const t = await openTarget(target.name, 'poll_publish');
      const dir = tempDir();
      const log = await openLog({ dataDir: join(dir, 'log') });
      try {
        await setup(t);
        await t.sql(
          `INSERT INTO ${T} (customer_name, restaurant_name, item, amount, order_status, created_at)
           SELECT 'c' || g, 'r', 'i', 10.00, 'PLACED', '2025-11-20 12:00:00+00'::timestamptz + g * interval '1 second' FROM generate_series(1, 50) g`,
        );
        const state = join(dir, 'state', 'last_processed_timestamp.txt');
        let calls = 0;
        const flaky = withProduce(log, async (r, real) => {
          calls++;
          // 1st: refused before writing; 2nd: written, then the answer is lost.
          if (calls === 1) throw new TributaryError('LOG_BROKER', 'broker unreachable (test)');
          if (calls === 2) {
            await real(r);
            assert.equal(existsSync(state), false, 'no state before an acknowledged publish');
            throw new TributaryError('LOG_BROKER', 'connection lost after the write (test)');
          }
          return real(r);
        });
        const lines: string[] = [];
        const c = capture(t, flaky, dir, { batchLimit: 20, maxBackoffMs: 20, report: (l) => lines.push(l) });
        await c.run({ untilCaughtUp: true });
        await c.close();
        assert.equal(lines.filter((l) => l.includes('waiting for the log')).length, 2, lines.join('\n'));
        const ids = (await readChanges(log, 'raw')).map((x) => Number(x.value.order_id));
        assert.deepEqual(
          [...new Set(ids)].sort((a, b) => a - b),
          await sourceOrder(t),
        );
        assert.equal(ids.length, 70, 'the first 20 were written twice');
        assert.equal(readFileSync(state, 'utf8'), '2025-11-20 12:00:50.000000|50\n');
      } finally {
        await log.close();
        await t.close();
      }
    });
  });
}

describe('polling capture: transactions committed out of cursor order (server)', {
  skip: TARGETS[0].skip,
  timeout: 120_000,
}, () => {
  /** T1 begins (its rows get the older now()), T2 commits, a poll runs, then T1 commits. */
  async function outOfOrder(delayMs: number): Promise<{ captured: number[]; source: number[] }> {
    const t = await openTarget('server', 'poll_delay');
    const dir = tempDir();
    const log = await openLog({ dataDir: join(dir, 'log') });
    try {
      await setup(t);
      const t1 = await t.client();
      await t1.query('BEGIN');
      await t1.query(
        `INSERT INTO ${T} (customer_name, restaurant_name, item, amount, order_status) VALUES ('early', 'R', 'I', 1.00, 'PLACED')`,
      );
      await sleep(20);
      await t.sql(
        `INSERT INTO ${T} (customer_name, restaurant_name, item, amount, order_status) VALUES ('late', 'R', 'I', 2.00, 'PLACED')`,
      );
      const c = capture(t, log, dir, { delayMs, pollIntervalMs: 100 });
      const running = c.run({ untilCaughtUp: true });
      await sleep(300);
      await t1.query('COMMIT');
      await running;
      await c.run({ untilCaughtUp: true });
      await c.close();
      const captured = (await readChanges(log, 'raw')).map((x) => Number(x.value.order_id)).sort();
      return { captured, source: (await sourceOrder(t)).sort() };
    } finally {
      await log.close();
      await t.close();
    }
  }

  it('without a delay, the earlier transaction committed later is never read', async () => {
    const { captured, source } = await outOfOrder(0);
    assert.deepEqual(source, [1, 2]);
    assert.deepEqual(captured, [2]);
  });

  it('with a delay longer than that transaction, it is read', async () => {
    const { captured, source } = await outOfOrder(1_500);
    assert.deepEqual(captured, source);
  });
});
