/**
 * The snapshot-to-stream hand-over, and WAL held by the slot.
 * - A table with 40,000 rows before the start and a workload writing all through the
 *   snapshot: replaying the topic (image chain checked: no insert of a present key, no
 *   update or delete of an absent one, a delete's before image equal to the mirror's
 *   row) gives the table row for row. Some changes the stream delivered were committed
 *   while the snapshot was being read, so the hand-over is exercised, not avoided.
 * - An idle captured table while another table takes writes: the slot's
 *   confirmed_flush_lsn follows the server's WAL, so the server can recycle it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createLogicalCapture } from '../../../../../src/connectors/postgres/capture/logical/index.ts';
import { type FreshDatabase, freshDatabase, postgresMissing } from '../../server.ts';
import {
  assertSameRows,
  dropDatabase,
  harness,
  ORDERS_DDL,
  readChanges,
  removeDirs,
  sql,
  tableRows,
} from './helpers.ts';
import { assertExactlyOnce, OrdersWorkload, replayStrict } from './workload.ts';

const skip = postgresMissing();
const dirs: string[] = [];
const dbs: FreshDatabase[] = [];
after(async () => {
  removeDirs(dirs);
  for (const d of dbs) await dropDatabase(d);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('logical capture hand-over', { skip }, () => {
  it('loses and doubles nothing between the snapshot and the stream while a workload writes', async () => {
    const db = await freshDatabase('logical_handover');
    dbs.push(db);
    await sql(db.url, ORDERS_DDL);
    const workload = new OrdersWorkload(db.url, 7);
    await workload.seed(40_000);
    const h = await harness(db.url, 'orders', dirs);
    let stagedAt = 0;
    let publishedAt = 0;
    h.options.report = (line) => {
      if (line.startsWith('snapshot of') && line.includes('staged')) stagedAt = Date.now();
      if (line.startsWith('snapshot of') && line.includes('published')) publishedAt = Date.now();
    };
    workload.start();
    await sleep(300);
    const stop = new AbortController();
    const capture = createLogicalCapture(h.options);
    const running = capture.run({ signal: stop.signal });
    for (let i = 0; i < 600 && publishedAt === 0; i++) await sleep(100);
    assert.ok(publishedAt > 0, 'the snapshot was published');
    await sleep(500);
    await workload.stop();
    stop.abort();
    await running;
    await capture.close();
    await h.catchUp();

    const changes = await readChanges(h.log);
    const snapshotRows = changes.filter((c) => c.snapshot);
    assert.ok(
      snapshotRows.length >= 40_000 - 2_000,
      `the snapshot holds the table (${snapshotRows.length} rows)`,
    );
    const streamed = changes.filter((c) => !c.snapshot);
    const duringSnapshot = streamed.filter((c) => Date.parse(c.commitTs) < stagedAt);
    assert.ok(workload.committed > 50, `the workload committed ${workload.committed} transactions`);
    assert.ok(
      duringSnapshot.length > 0,
      `some streamed changes were committed while the snapshot was read (${duringSnapshot.length})`,
    );
    assertExactlyOnce(changes, workload);
    const m = replayStrict(changes);
    assertSameRows(m, await tableRows(db.url, 'orders', 'order_id'), 'the mirror equals the table');
    await h.close();
  });

  for (const heartbeatMs of [undefined, 200]) {
    it(`acknowledges the server WAL while the captured table is idle (heartbeat ${heartbeatMs ?? 'off'})`, async () => {
      const db = await freshDatabase('logical_idle');
      dbs.push(db);
      await sql(db.url, ORDERS_DDL);
      await sql(db.url, 'CREATE TABLE busy (id serial PRIMARY KEY, payload text)');
      const h = await harness(db.url, 'orders', dirs, { snapshot: 'never', heartbeatMs });
      const stop = new AbortController();
      const capture = createLogicalCapture(h.options);
      const running = capture.run({ signal: stop.signal });
      const slotName = capture.slot;
      const slot = async () =>
        (
          await sql<{ lag: string; confirmed: string | null }>(
            db.url,
            `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag, confirmed_flush_lsn::text AS confirmed
           FROM pg_replication_slots WHERE slot_name = $1`,
            [slotName],
          )
        )[0];
      for (let i = 0; i < 100 && (await slot()) === undefined; i++) await sleep(100);
      const [{ start }] = await sql<{ start: string }>(db.url, 'SELECT pg_current_wal_lsn()::text AS start');
      // About 8 MB of WAL from another table.
      for (let i = 0; i < 8; i++) {
        await sql(
          db.url,
          `INSERT INTO busy (payload) SELECT repeat('x', 200) FROM generate_series(1, 20000)`,
        );
      }
      const [{ written }] = await sql<{ written: string }>(
        db.url,
        `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS written`,
        [start],
      );
      assert.ok(Number(written) > 4_000_000, `the other table wrote ${written} bytes of WAL`);
      let lag = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 100; i++) {
        lag = Number((await slot()).lag);
        if (lag < 100_000) break;
        await sleep(100);
      }
      assert.ok(lag < 100_000, `the slot follows the WAL (${lag} bytes behind after ${written} written)`);
      stop.abort();
      await running;
      await capture.close();
      assert.equal(
        (await readChanges(h.log).catch(() => [])).length,
        0,
        'nothing of the other table is published',
      );
      await h.close();
    });
  }
});
