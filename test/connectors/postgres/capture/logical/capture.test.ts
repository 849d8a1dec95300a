/**
 * Logical capture against the real test server: what a user of the topic relies on.
 * - Inserts, updates and deletes arrive as change events with before and after images,
 *   the commit's LSN, transaction id and time (checked against what the server itself
 *   said inside and around each transaction), one position per change, and each
 *   transaction in one publish.
 * - Values in UTC whatever time zone the database or role is set to.
 * - An UPDATE that leaves a large (TOASTed) text unchanged still carries the text.
 * - A column added arrives in later events (with its value), earlier ones lack it.
 * - Stopping and starting again loses nothing; what is replayed has the same positions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createLogicalCapture } from '../../../../../src/connectors/postgres/capture/logical/index.ts';
import type { Log, ProduceRecord, ProduceResult } from '../../../../../src/log/log.ts';
import { type FreshDatabase, freshDatabase, postgresMissing } from '../../server.ts';
import {
  assertSameRows,
  dedup,
  dropDatabase,
  harness,
  mirror,
  ORDERS_DDL,
  parseFlat,
  readChanges,
  removeDirs,
  sql,
  TOPIC,
  tableRows,
} from './helpers.ts';

const skip = postgresMissing();
const dirs: string[] = [];
const dbs: FreshDatabase[] = [];
after(async () => {
  removeDirs(dirs);
  for (const d of dbs) await dropDatabase(d);
});

async function ordersDb(prefix: string): Promise<FreshDatabase> {
  const db = await freshDatabase(prefix);
  dbs.push(db);
  await sql(db.url, ORDERS_DDL);
  return db;
}

/** A log that remembers which records each produce call carried (the real log underneath). */
function recordingLog(log: Log, calls: Buffer[][]): Log {
  return new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'produce') {
        return async (records: ProduceRecord[]): Promise<ProduceResult[]> => {
          const res = await target.produce(records);
          calls.push(records.map((r) => Buffer.from(r.value ?? [])));
          return res;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** Until a process streams from the slot. */
async function waitActive(url: string, slot: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const rows = await sql<{ active: boolean }>(
      url,
      'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    if (rows[0]?.active) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing streams from slot ${slot}`);
}

describe('logical capture', { skip }, () => {
  let db: FreshDatabase;
  before(async () => {
    db = await ordersDb('logical_capture');
  });

  it('captures inserts, updates and deletes with images, positions and whole transactions', async () => {
    await sql(
      db.url,
      `INSERT INTO orders VALUES
        (1, 'Alice Smith', 'Spice Garden', 'Butter Chicken', 350.00, 'DELIVERED', '2025-11-18 10:00:00+00'),
        (2, 'Bob Jones', 'Pizza Palace', 'Margherita', 12.50, 'PLACED', '2025-11-18 10:01:00+00')`,
    );
    const h = await harness(db.url, 'orders', dirs);
    const calls: Buffer[][] = [];
    h.options.log = recordingLog(h.log, calls);
    await h.catchUp();
    const snap = await readChanges(h.log);
    assert.equal(snap.length, 2);
    const slot = await sql<{ lsn: string }>(
      db.url,
      `SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`,
      [`tributary_${db.name}`],
    );
    assert.equal(slot.length, 1, 'the slot persists');
    for (const c of snap) {
      assert.equal(c.op, 'r');
      assert.equal(c.snapshot, true);
    }
    assert.deepEqual(snap.map((c) => c.seq).sort(), [0, 1]);
    assert.equal(snap[0].pos, snap[1].pos, 'snapshot rows share the position of the slot consistent point');

    // Three transactions; the server tells their xid and bounds their LSN and time.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const txns: { xid: number; lsnBefore: string; lsnAfter: string; t0: number; t1: number }[] = [];
    const tx = async (statements: string[]) => {
      const [{ l: lsnBefore }] = (await client.query('SELECT pg_current_wal_lsn()::text AS l')).rows;
      const t0 = Date.now();
      await client.query('BEGIN');
      const { rows } = await client.query('SELECT txid_current() AS x');
      for (const s of statements) await client.query(s);
      await client.query('COMMIT');
      const t1 = Date.now();
      const [{ l: lsnAfter }] = (await client.query('SELECT pg_current_wal_lsn()::text AS l')).rows;
      txns.push({ xid: Number(BigInt(rows[0].x) & 0xffffffffn), lsnBefore, lsnAfter, t0, t1 });
    };
    await tx([
      `INSERT INTO orders VALUES (3, 'Carol White', 'Sushi Zen', 'Dragon Roll', 18.00, 'PLACED', '2025-11-18 10:02:00+00')`,
      `INSERT INTO orders VALUES (4, 'Dan Brown', 'Taco Town', 'Burrito', 9.75, 'PLACED', '2025-11-18 10:03:00+00')`,
      `INSERT INTO orders VALUES (5, 'Eve Black', 'Spice Garden', 'Naan', 3.50, 'PLACED', '2025-11-18 10:04:00+00')`,
    ]);
    await tx([
      `UPDATE orders SET order_status = 'DELIVERED' WHERE order_id = 2`,
      `DELETE FROM orders WHERE order_id = 1`,
    ]);
    await tx([`UPDATE orders SET amount = 19.00 WHERE order_id = 3`]);
    await client.end();
    const before = calls.length;
    await h.catchUp();

    const all = await readChanges(h.log);
    const streamed = dedup(all).filter((c) => !c.snapshot);
    assert.deepEqual(
      streamed.map((c) => [c.op, c.row.order_id, c.seq]),
      [
        ['c', 3, 0],
        ['c', 4, 1],
        ['c', 5, 2],
        ['u', 2, 0],
        ['d', 1, 1],
        ['u', 3, 0],
      ],
    );
    const byTxn = [streamed.slice(0, 3), streamed.slice(3, 5), streamed.slice(5)];
    const { parseLsn } = await import('../../../../../src/connectors/postgres/capture/change.ts');
    for (let i = 0; i < 3; i++) {
      const t = txns[i];
      for (const c of byTxn[i]) {
        assert.equal(c.pos, byTxn[i][0].pos, 'one position per transaction');
        assert.equal(c.txid, t.xid, 'the transaction id the server gave');
        assert.ok(
          c.pos > parseLsn(t.lsnBefore) && c.pos < parseLsn(t.lsnAfter),
          'the commit LSN is inside the transaction',
        );
        assert.equal(parseLsn(c.lsn!), c.pos, '__lsn is __pos as PostgreSQL prints it');
        const ts = Date.parse(c.commitTs);
        assert.ok(ts >= t.t0 - 1000 && ts <= t.t1 + 1000, `commit time ${c.commitTs} within the transaction`);
      }
    }
    assert.ok(byTxn[0][0].pos > snap[0].pos, 'streamed changes come after the snapshot');
    assert.deepEqual(streamed.find((c) => c.op === 'd')!.row, {
      order_id: 1,
      customer_name: 'Alice Smith',
      restaurant_name: 'Spice Garden',
      item: 'Butter Chicken',
      amount: 350,
      order_status: 'DELIVERED',
      created_at: '2025-11-18T10:00:00Z',
    });
    // Each transaction in one publish.
    const published = calls.slice(before).map((c) => c.map((v) => parseFlat(v)));
    for (const t of byTxn) {
      const holding = published.filter((p) => p.some((c) => c.pos === t[0].pos));
      assert.equal(holding.length, 1, 'a transaction is published in one call');
      assert.equal(holding[0].filter((c) => c.pos === t[0].pos).length, t.length);
    }
    const m = mirror(all, (r) => String(r.order_id));
    assertSameRows(m, await tableRows(db.url, 'orders', 'order_id'), 'mirror');
    await h.close();
  });

  it('writes before and after images in the envelope format', async () => {
    const d = await ordersDb('logical_envelope');
    await sql(
      d.url,
      `INSERT INTO orders VALUES (7, 'Gia', 'Noodle Bar', 'Pho', 11.00, 'PLACED', '2025-11-18 11:00:00+00')`,
    );
    const h = await harness(d.url, 'orders', dirs, { format: 'envelope', snapshot: 'never' });
    await h.catchUp();
    await sql(d.url, `UPDATE orders SET order_status = 'READY', amount = 11.50 WHERE order_id = 7`);
    await sql(d.url, `DELETE FROM orders WHERE order_id = 7`);
    await h.catchUp();
    const { readTopic } = await import('./helpers.ts');
    const recs = (await readTopic(h.log, TOPIC)).map((r) => JSON.parse(r.value.toString()));
    assert.equal(recs.length, 2, 'snapshot never: only the changes after the slot');
    const [u, del] = recs.sort((a, b) => a.source.pos - b.source.pos);
    assert.equal(u.op, 'u');
    assert.equal(u.before.order_status, 'PLACED');
    assert.equal(u.before.amount, 11);
    assert.equal(u.after.order_status, 'READY');
    assert.equal(u.after.amount, 11.5);
    assert.equal(del.op, 'd');
    assert.equal(del.after, null);
    assert.equal(del.before.item, 'Pho');
    assert.equal(del.source.table, 'orders');
    assert.equal(del.source.snapshot, 'false');
    assert.match(del.source.lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    await h.close();
  });

  it('turns an UPDATE of the key into a delete of the old key and a create of the new one', async () => {
    const d = await ordersDb('logical_key_update');
    await sql(d.url, `INSERT INTO orders VALUES (1, 'A', 'R', 'I', 1, 'S', '2025-11-18 10:00:00+00')`);
    const h = await harness(d.url, 'orders', dirs);
    await h.catchUp();
    await sql(d.url, `UPDATE orders SET order_id = 100, order_status = 'MOVED' WHERE order_id = 1`);
    await h.catchUp();
    const all = await readChanges(h.log);
    const changes = dedup(all).filter((c) => !c.snapshot);
    assert.deepEqual(
      changes.map((c) => [c.op, c.row.order_id, c.seq, c.key]),
      [
        ['d', 1, 0, '{"order_id":1}'],
        ['c', 100, 1, '{"order_id":100}'],
      ],
    );
    assert.equal(changes[0].row.order_status, 'S', 'the delete carries the old row');
    assertSameRows(
      mirror(all, (r) => String(r.order_id)),
      await tableRows(d.url, 'orders', 'order_id'),
      'mirror',
    );
    await h.close();
  });

  it('writes timestamps in UTC whatever time zone the database and role use', async () => {
    const d = await ordersDb('logical_tz');
    await sql(d.url, `ALTER DATABASE ${d.name} SET timezone = 'Asia/Kolkata'`);
    await sql(
      d.url,
      `INSERT INTO orders VALUES (1, 'A', 'R', 'I', 1, 'S', '2025-11-18 10:00:00.123456+05:30')`,
    );
    const h = await harness(d.url, 'orders', dirs);
    await h.catchUp();
    await sql(d.url, `INSERT INTO orders VALUES (2, 'A', 'R', 'I', 1, 'S', '2025-11-18 23:30:00-08')`);
    await h.catchUp();
    const rows = dedup(await readChanges(h.log)).map((c) => c.row.created_at);
    assert.deepEqual(rows, ['2025-11-18T04:30:00.123456Z', '2025-11-19T07:30:00Z']);
    await h.close();
  });

  it('keeps a large unchanged (TOASTed) text in the after image of an UPDATE', async () => {
    const d = await freshDatabase('logical_toast');
    dbs.push(d);
    await sql(d.url, `CREATE TABLE docs (id integer PRIMARY KEY, status text, body text)`);
    await sql(d.url, `ALTER TABLE docs REPLICA IDENTITY FULL`);
    const h = await harness(d.url, 'docs', dirs, { snapshot: 'never' });
    await h.catchUp();
    // ~25 KB of hex digits from md5 of random values: no repeats for pglz to compress, so stored out of line.
    await sql(
      d.url,
      `INSERT INTO docs SELECT 1, 'draft', string_agg(md5(random()::text), '') FROM generate_series(1, 800)`,
    );
    const [{ stored, len }] = await sql<{ stored: number; len: number }>(
      d.url,
      `SELECT pg_column_size(body) AS stored, length(body) AS len FROM docs`,
    );
    assert.ok(len > 8192 && stored > 8192, `the body is large and stored uncompressed (${stored} bytes)`);
    const [{ toast }] = await sql<{ toast: string }>(
      d.url,
      `SELECT pg_relation_size(reltoastrelid) AS toast FROM pg_class WHERE relname = 'docs'`,
    );
    assert.ok(Number(toast) > 0, 'the body is in the TOAST table');
    await sql(d.url, `UPDATE docs SET status = 'published' WHERE id = 1`);
    await h.catchUp();
    const [body] = (await sql<{ body: string }>(d.url, 'SELECT body FROM docs')).map((r) => r.body);
    const changes = dedup(await readChanges(h.log));
    assert.deepEqual(
      changes.map((c) => c.op),
      ['c', 'u'],
    );
    assert.equal(changes[1].row.status, 'published');
    assert.equal(changes[1].row.body, body, 'the update carries the unchanged large text');

    // The identity taken away under a running capture: it stops rather than write a null.
    const lines: string[] = [];
    const capture = createLogicalCapture({ ...h.options, report: (l) => lines.push(l) });
    const running = capture.run({}).then(
      () => undefined,
      (e: unknown) => e,
    );
    await waitActive(d.url, capture.slot);
    await sql(d.url, `ALTER TABLE docs REPLICA IDENTITY DEFAULT`);
    await sql(d.url, `UPDATE docs SET status = 'archived' WHERE id = 1`);
    await assert.rejects(
      running.then((e) => Promise.reject(e ?? new Error('the capture ended without an error'))),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'CAPTURE_TABLE_INVALID');
        assert.match(err.message, /left the large value of column 'body' unchanged/);
        assert.match(err.message, /REPLICA IDENTITY FULL/);
        return true;
      },
    );
    await capture.close();
    assert.ok(
      lines.some((l) => /no longer has REPLICA IDENTITY FULL/.test(l)),
      'a warning when the identity changed',
    );
    const after = dedup(await readChanges(h.log));
    assert.equal(after.length, 2, 'nothing published with a null body');
    await h.close();
  });

  it('carries a column added while it runs in the events after it', async () => {
    const d = await ordersDb('logical_ddl');
    await sql(d.url, `INSERT INTO orders VALUES (1, 'A', 'R', 'I', 1, 'S', '2025-11-18 10:00:00+00')`);
    const h = await harness(d.url, 'orders', dirs);
    await h.catchUp();
    const stop = new AbortController();
    const capture = createLogicalCapture(h.options);
    const running = capture.run({ signal: stop.signal });
    await sql(d.url, `INSERT INTO orders VALUES (2, 'B', 'R', 'I', 2, 'S', '2025-11-18 10:01:00+00')`);
    await sql(d.url, `ALTER TABLE orders ADD COLUMN tip numeric(6,2)`);
    await sql(d.url, `INSERT INTO orders VALUES (3, 'C', 'R', 'I', 3, 'S', '2025-11-18 10:02:00+00', 1.25)`);
    await sql(d.url, `UPDATE orders SET tip = 0.50 WHERE order_id = 1`);
    await sql(d.url, `UPDATE orders SET order_status = 'T' WHERE order_id = 2`);
    // Until everything is in the topic.
    for (let i = 0; i < 200 && (await readChanges(h.log).catch(() => [])).length < 5; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    stop.abort();
    await running;
    await capture.close();
    const changes = dedup(await readChanges(h.log));
    assert.deepEqual(
      changes.map((c) => [c.op, c.row.order_id, 'tip' in c.row ? c.row.tip : 'absent']),
      [
        ['r', 1, 'absent'],
        ['c', 2, 'absent'],
        ['c', 3, 1.25],
        ['u', 1, 0.5],
        ['u', 2, null],
      ],
    );
    assertSameRows(
      mirror(changes, (r) => String(r.order_id)),
      await tableRows(d.url, 'orders', 'order_id'),
      'mirror',
    );
    await h.close();
  });

  it('loses nothing across stops, and what it repeats has the same positions', async () => {
    const d = await ordersDb('logical_restart');
    const h = await harness(d.url, 'orders', dirs);
    await h.catchUp();
    let id = 0;
    const write = async (n: number) => {
      for (let i = 0; i < n; i++) {
        id++;
        await sql(
          d.url,
          `INSERT INTO orders VALUES ($1, 'C', 'R', 'I', $1, 'PLACED', now());
           UPDATE orders SET order_status = 'DONE' WHERE order_id = $1 - 3;
           DELETE FROM orders WHERE order_id = $1 - 7`.replaceAll('$1', String(id)),
        );
      }
    };
    for (let round = 0; round < 4; round++) {
      const stop = new AbortController();
      const capture = createLogicalCapture(h.options);
      const running = capture.run({ signal: stop.signal });
      await write(15);
      await new Promise((r) => setTimeout(r, 150 * round));
      stop.abort();
      await running;
      await capture.close();
    }
    await h.catchUp();
    const all = await readChanges(h.log);
    const changes = dedup(all);
    assert.equal(changes.filter((c) => c.op === 'c').length, 60, 'every insert once');
    assertSameRows(
      mirror(all, (r) => String(r.order_id)),
      await tableRows(d.url, 'orders', 'order_id'),
      'mirror',
    );
    await h.close();
  });
});
