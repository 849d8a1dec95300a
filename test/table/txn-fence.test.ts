/**
 * Stream commits fenced by their progress (commit.ts `txnFence`): a worker that lost a
 * source partition to another (it was paused past its group session, say) and still holds
 * a batch for it must not commit it — its rows would be there twice, or a MERGE would put
 * back an older state. The table is the judge: the commit says which progress it last
 * saw; another value at its read snapshot fails it with TABLE_PROGRESS_FENCED, a winner
 * with the same appId after it is a conflict.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { append } from '../../src/table/ops/append.ts';
import { merge } from '../../src/table/ops/merge.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import type { StructType } from '../../src/table/schema.ts';
import { field, newTable, tempDir } from './data-helpers.ts';

const SCHEMA: StructType = {
  type: 'struct',
  fields: [field('id', 'string', false), field('v', 'integer')],
};
const APP = 'orders/orders_events/orders/0';
const rows = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_v, i) => ({ id: `r${from + i}`, v: from + i }));

async function ids(table: Parameters<typeof readRows>[0]): Promise<string[]> {
  return (await readRows(table, await table.snapshot(), { orderBy: 'v' })).map((r) => String(r.id));
}

describe('stream commits fenced by the progress they expect', () => {
  const tmp = tempDir('tributary-fence-');
  after(() => tmp.cleanup());

  test('a stale worker cannot append a batch for a partition taken over since', async () => {
    const { table } = await newTable(`${tmp.dir}/append`, SCHEMA);
    // Worker A commits offsets 0..10 of partition 0.
    await append(
      table,
      { rows: rows(0, 10) },
      { txn: [{ appId: APP, version: 10 }], txnFence: new Map([[APP, undefined]]) },
    );
    // A stalls; B takes the partition over, resumes from the table (10) and commits 11..20.
    await append(
      table,
      { rows: rows(11, 20) },
      { txn: [{ appId: APP, version: 20 }], txnFence: new Map([[APP, 10]]) },
    );
    // A wakes up with its batch 11..15, still believing the progress is 10.
    await assert.rejects(
      append(
        table,
        { rows: rows(11, 15) },
        { txn: [{ appId: APP, version: 15 }], txnFence: new Map([[APP, 10]]) },
      ),
      (err: unknown) =>
        isTributaryError(err, 'TABLE_PROGRESS_FENCED') && err.retryable && /last saw 10/.test(err.message),
    );
    const snap = await table.snapshot();
    assert.equal(snap.txnVersion(APP), 20);
    assert.deepEqual(
      await ids(table),
      rows(0, 20).map((r) => r.id),
      'every row once',
    );
  });

  test('of two workers committing the same partition from the same progress, one wins', async () => {
    const { table } = await newTable(`${tmp.dir}/race`, SCHEMA);
    await append(table, { rows: rows(0, 10) }, { txn: [{ appId: APP, version: 10 }] });
    const results = await Promise.allSettled([
      append(
        table,
        { rows: rows(11, 20) },
        { txn: [{ appId: APP, version: 20 }], txnFence: new Map([[APP, 10]]) },
      ),
      append(
        table,
        { rows: rows(11, 15) },
        { txn: [{ appId: APP, version: 15 }], txnFence: new Map([[APP, 10]]) },
      ),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1, 'one commit lands');
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.ok(
      isTributaryError(lost.reason, 'TABLE_COMMIT_CONFLICT') ||
        isTributaryError(lost.reason, 'TABLE_PROGRESS_FENCED'),
      String(lost.reason),
    );
    const got = await ids(table);
    assert.equal(new Set(got).size, got.length, 'no row twice');
  });

  test('a stale worker cannot MERGE an older state over the new owner’s', async () => {
    const { table } = await newTable(`${tmp.dir}/merge`, SCHEMA);
    const m = (r: { id: string; v: number }[], version: number, last: number | undefined) =>
      merge(
        table,
        { rows: r },
        { on: ['id'], txn: [{ appId: APP, version }], txnFence: new Map([[APP, last]]) },
      );
    await m([{ id: 'order-1', v: 1 }], 5, undefined);
    await m([{ id: 'order-1', v: 3 }], 9, 5); // the new owner
    await assert.rejects(m([{ id: 'order-1', v: 2 }], 7, 5), (err: unknown) =>
      isTributaryError(err, 'TABLE_PROGRESS_FENCED'),
    );
    const snap = await table.snapshot();
    assert.equal(snap.txnVersion(APP), 9);
    const r = await readRows(table, snap, {});
    assert.deepEqual(
      r.map((x) => [x.id, Number(x.v)]),
      [['order-1', 3]],
    );
  });
});
