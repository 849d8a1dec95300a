import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { append, overwrite } from '../../src/table/ops/append.ts';
import { merge } from '../../src/table/ops/merge.ts';
import { optimize } from '../../src/table/ops/optimize.ts';
import { deleteWhere, update } from '../../src/table/ops/rewrite-where.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import type { StructType } from '../../src/table/schema.ts';
import { field, newTable, tempDir } from './data-helpers.ts';

const ORDERS: StructType = {
  type: 'struct',
  fields: [
    field('order_id', 'string', false),
    field('status', 'string'),
    field('amount', 'decimal(10,2)'),
    field('event_time', 'timestamp'),
    field('bucket', 'integer'),
  ],
};

function order(id: number, status: string, minute: number, bucket = id % 2) {
  return {
    order_id: `o${String(id).padStart(4, '0')}`,
    status,
    amount: `${id}.50`,
    event_time: new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString(),
    bucket,
  };
}

async function state(table: Parameters<typeof readRows>[0]) {
  const rows = await readRows(table, await table.snapshot(), { orderBy: 'order_id' });
  return rows.map((r) => `${r.order_id}:${r.status}:${r.bucket}`);
}

describe('data plane: merge, update, delete, optimize', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  test('merge updates matched rows, inserts new ones and rewrites only touched files', async () => {
    const { table } = await newTable(`${tmp.dir}/merge`, ORDERS);
    // Three files with disjoint key ranges (sorted by key, so stats separate them).
    await append(table, { rows: [order(1, 'CREATED', 0), order(2, 'CREATED', 0)] });
    await append(table, { rows: [order(10, 'CREATED', 0), order(11, 'CREATED', 0)] });
    await append(table, { rows: [order(20, 'CREATED', 0), order(21, 'CREATED', 0)] });
    const before = (await table.snapshot()).files().map((f) => f.path);
    const res = await merge(
      table,
      { rows: [order(10, 'PAID', 5), order(30, 'CREATED', 5)] },
      { on: ['order_id'] },
    );
    assert.equal(res.metrics.numTargetRowsUpdated, 1);
    assert.equal(res.metrics.numTargetRowsInserted, 1);
    assert.equal(res.metrics.numTargetFilesRemoved, 1);
    assert.equal(res.metrics.numTargetRowsCopied, 1);
    const after = await table.snapshot();
    assert.equal(after.version, 4);
    const kept = after
      .files()
      .map((f) => f.path)
      .filter((p) => before.includes(p));
    assert.equal(kept.length, 2, 'files without matching keys are not rewritten');
    assert.deepEqual(await state(table), [
      'o0001:CREATED:1',
      'o0002:CREATED:0',
      'o0010:PAID:0',
      'o0011:CREATED:1',
      'o0020:CREATED:0',
      'o0021:CREATED:1',
      'o0030:CREATED:0',
    ]);
    const [h] = await table.history({ limit: 1 });
    assert.equal(h.operation, 'MERGE');
    assert.equal(h.operationMetrics?.numTargetRowsUpdated, '1');
  });

  test('merge rewrites each changed file on its own, leaves unchanged matches alone, inserts into new files', async () => {
    const { table } = await newTable(`${tmp.dir}/merge-per-file`, ORDERS);
    await append(table, { rows: [order(1, 'CREATED', 0), order(2, 'CREATED', 0)] });
    await append(table, { rows: [order(10, 'CREATED', 0), order(11, 'CREATED', 0)] });
    await append(table, { rows: [order(20, 'SHIPPED', 30), order(21, 'CREATED', 0)] });
    const before = (await table.snapshot()).files();
    const res = await merge(
      table,
      {
        // o0001 and o0011 change; o0020's event is older than the stored one (no change);
        // o0040 and o0041 are new.
        rows: [
          order(1, 'PAID', 5),
          order(11, 'PAID', 5),
          order(20, 'PAID', 5),
          order(40, 'CREATED', 5),
          order(41, 'CREATED', 5),
        ],
      },
      { on: ['order_id'], whenMatched: { update: 'source.event_time > target.event_time' } },
    );
    assert.equal(res.metrics.numTargetRowsUpdated, 2);
    assert.equal(res.metrics.numTargetRowsInserted, 2);
    assert.equal(res.metrics.numTargetRowsCopied, 2);
    assert.equal(res.metrics.numTargetFilesRemoved, 2, 'the file whose match stays unchanged is kept');
    assert.equal(res.metrics.numTargetFilesAdded, 3, 'two rewritten files and one of new rows');
    const after = (await table.snapshot()).files();
    const unchanged = before.find((f) => JSON.parse(f.stats!).minValues.order_id === 'o0020')!;
    assert.ok(after.some((f) => f.path === unchanged.path));
    // Each rewritten file keeps its own key range; the new rows are a file of their own.
    const ranges = after
      .map((f) => {
        const s = JSON.parse(f.stats!);
        return `${s.minValues.order_id}..${s.maxValues.order_id}:${s.numRecords}`;
      })
      .sort();
    assert.deepEqual(ranges, ['o0001..o0002:2', 'o0010..o0011:2', 'o0020..o0021:2', 'o0040..o0041:2']);
    assert.deepEqual(await state(table), [
      'o0001:PAID:1',
      'o0002:CREATED:0',
      'o0010:CREATED:0',
      'o0011:PAID:1',
      'o0020:SHIPPED:0',
      'o0021:CREATED:1',
      'o0040:CREATED:0',
      'o0041:CREATED:1',
    ]);
  });

  test('merge rewrites many changed files together with the new rows, in one pass', async () => {
    const { table } = await newTable(`${tmp.dir}/merge-many`, ORDERS);
    for (let i = 0; i < 10; i++)
      await append(table, { rows: [order(i * 2, 'CREATED', 0), order(i * 2 + 1, 'CREATED', 0)] });
    const res = await merge(
      table,
      { rows: [...Array.from({ length: 10 }, (_, i) => order(i * 2, 'PAID', 5)), order(50, 'CREATED', 5)] },
      { on: ['order_id'] },
    );
    assert.equal(res.metrics.numTargetRowsUpdated, 10);
    assert.equal(res.metrics.numTargetRowsInserted, 1);
    assert.equal(res.metrics.numTargetRowsCopied, 10);
    assert.equal(res.metrics.numTargetFilesRemoved, 10);
    assert.equal(res.metrics.numTargetFilesAdded, 1, 'one file for the 10 rewritten and the new row');
    const rows = await state(table);
    assert.equal(rows.length, 21);
    assert.equal(rows.filter((r) => r.includes(':PAID:')).length, 10);
    assert.ok(rows.includes('o0050:CREATED:0'));
  });

  test('merge with a condition keeps the newer target row (out-of-order events)', async () => {
    const { table } = await newTable(`${tmp.dir}/merge-cond`, ORDERS);
    await append(table, { rows: [order(1, 'SHIPPED', 30), order(2, 'CREATED', 0)] });
    const res = await merge(
      table,
      { rows: [order(1, 'PAID', 10), order(2, 'PAID', 10)] },
      { on: ['order_id'], whenMatched: { update: 'source.event_time > target.event_time' } },
    );
    assert.equal(res.metrics.numTargetRowsUpdated, 1);
    assert.deepEqual(await state(table), ['o0001:SHIPPED:1', 'o0002:PAID:0']);
  });

  test('merge delete clause and whenNotMatched ignore', async () => {
    const { table } = await newTable(`${tmp.dir}/merge-del`, ORDERS);
    await append(table, { rows: [order(1, 'CREATED', 0), order(2, 'CREATED', 0), order(3, 'CREATED', 0)] });
    const res = await merge(
      table,
      { rows: [order(1, 'CANCELLED', 5), order(2, 'PAID', 5), order(9, 'CREATED', 5)] },
      {
        on: ['order_id'],
        whenMatched: { delete: "source.status = 'CANCELLED'", update: '' },
        whenNotMatched: 'ignore',
      },
    );
    assert.equal(res.metrics.numTargetRowsDeleted, 1);
    assert.equal(res.metrics.numTargetRowsUpdated, 1);
    assert.equal(res.metrics.numTargetRowsInserted, 0);
    assert.deepEqual(await state(table), ['o0002:PAID:0', 'o0003:CREATED:1']);
  });

  test('merge refuses a source with several rows per key and leaves the table unchanged', async () => {
    const { table } = await newTable(`${tmp.dir}/merge-dup`, ORDERS);
    await append(table, { rows: [order(1, 'CREATED', 0)] });
    await assert.rejects(
      merge(table, { rows: [order(1, 'PAID', 1), order(1, 'SHIPPED', 2)] }, { on: ['order_id'] }),
      (err) => isTributaryError(err, 'TABLE_INVALID_ARGUMENT') && /2 rows for key/.test(err.message),
    );
    assert.equal((await table.snapshot()).version, 1);
  });

  test('merge into a partitioned table prunes by partition and records txn', async () => {
    const { table } = await newTable(`${tmp.dir}/merge-part`, ORDERS, ['bucket']);
    await append(table, { rows: [order(1, 'CREATED', 0), order(2, 'CREATED', 0), order(3, 'CREATED', 0)] });
    assert.equal((await table.snapshot()).files().length, 2);
    const res = await merge(
      table,
      { rows: [order(3, 'PAID', 1)] },
      { on: ['order_id', 'bucket'], txn: [{ appId: 'orders-0', version: 7 }] },
    );
    assert.equal(res.metrics.numTargetFilesRemoved, 1);
    assert.deepEqual(await state(table), ['o0001:CREATED:1', 'o0002:CREATED:0', 'o0003:PAID:1']);
    assert.equal(await table.appTransactionVersion('orders-0'), 7);
  });

  test('update and delete by predicate', async () => {
    const { table } = await newTable(`${tmp.dir}/upd`, ORDERS, ['bucket']);
    await append(table, {
      rows: [order(1, 'CREATED', 0), order(2, 'CREATED', 0), order(3, 'CREATED', 0), order(4, 'PAID', 0)],
    });
    const u = await update(table, {
      where: "status = 'CREATED' AND bucket = 1",
      set: { status: "'EXPIRED'" },
    });
    assert.equal(u.metrics.numUpdatedRows, 2);
    assert.equal(u.metrics.numRemovedFiles, 1);
    assert.deepEqual(await state(table), [
      'o0001:EXPIRED:1',
      'o0002:CREATED:0',
      'o0003:EXPIRED:1',
      'o0004:PAID:0',
    ]);
    const d = await deleteWhere(table, "status = 'EXPIRED'");
    assert.equal(d.metrics.numDeletedRows, 2);
    assert.equal(d.metrics.numAddedFiles, 0, 'a file whose rows are all deleted is only removed');
    assert.deepEqual(await state(table), ['o0002:CREATED:0', 'o0004:PAID:0']);
    const none = await deleteWhere(table, "status = 'NOPE'");
    assert.equal(none.version, undefined);
  });

  test('optimize bin-packs small files per partition and keeps rows identical', async () => {
    const { table } = await newTable(`${tmp.dir}/opt`, ORDERS, ['bucket']);
    for (let i = 0; i < 6; i++)
      await append(table, { rows: [order(i * 2, 'A', i), order(i * 2 + 1, 'B', i)] });
    const before = await state(table);
    assert.equal((await table.snapshot()).files().length, 12);
    const res = await optimize(table);
    assert.equal(res.filesRemoved, 12);
    assert.equal(res.filesAdded, 2);
    const snap = await table.snapshot();
    assert.equal(snap.files().length, 2);
    assert.ok(snap.files().every((f) => f.dataChange === false));
    assert.deepEqual(await state(table), before);
    const [h] = await table.history({ limit: 1 });
    assert.equal(h.operation, 'OPTIMIZE');
    const again = await optimize(table);
    assert.equal(again.version, undefined, 'nothing left to compact');
  });

  test('overwrite replaces all rows in one commit', async () => {
    const { table } = await newTable(`${tmp.dir}/ow`, ORDERS);
    await append(table, { rows: [order(1, 'A', 0), order(2, 'A', 0)] });
    await overwrite(table, { rows: [order(5, 'Z', 0)] });
    assert.deepEqual(await state(table), ['o0005:Z:1']);
    const old = await readRows(table, await table.snapshot({ version: 1 }));
    assert.equal(old.length, 2, 'time travel still sees the old files');
  });

  test('update of a partition column moves the row to its new partition', async () => {
    const { table } = await newTable(`${tmp.dir}/move`, ORDERS, ['bucket']);
    await append(table, { rows: [order(1, 'A', 0), order(2, 'A', 0)] });
    await update(table, { where: "order_id = 'o0001'", set: { bucket: '7' } });
    assert.deepEqual(await state(table), ['o0001:A:7', 'o0002:A:0']);
    const parts = (await table.snapshot())
      .files()
      .map((f) => f.partitionValues.bucket)
      .sort();
    assert.deepEqual(parts, ['0', '7']);
  });

  test('optimize honours the target size and the partitions option', async () => {
    const { table } = await newTable(`${tmp.dir}/opt-target`, ORDERS, ['bucket']);
    for (let i = 0; i < 8; i++)
      await append(table, { rows: [order(i * 2, 'A', i), order(i * 2 + 1, 'B', i)] });
    const sizes = (await table.snapshot()).files().map((f) => f.size);
    const onlyEven = await optimize(table, {
      partitions: [{ bucket: '0' }],
      targetFileSize: Math.max(...sizes) * 2 + 1,
    });
    assert.equal(onlyEven.filesRemoved, 8);
    assert.ok(
      onlyEven.filesAdded >= 3 && onlyEven.filesAdded <= 4,
      `bins of ~2 files, got ${onlyEven.filesAdded}`,
    );
    const snap = await table.snapshot();
    assert.equal(
      snap.files().filter((f) => f.partitionValues.bucket === '1').length,
      8,
      'other partitions untouched',
    );
    assert.equal((await state(table)).length, 16);
  });

  test('optimize with orderBy packs key-adjacent files and leaves recent files alone', async () => {
    const { table, clock } = await newTable(`${tmp.dir}/opt-keys`, ORDERS);
    // Small files written out of key order, then one large file in the middle of the key
    // range, then (a minute later) two recent files.
    for (const i of [3, 0, 5, 1, 4])
      await append(table, { rows: [order(i * 2, 'A', 0), order(i * 2 + 1, 'A', 0)] });
    await append(table, {
      rows: Array.from({ length: 20_000 }, (_, k) => ({ ...order(4, 'A', 0), order_id: `o0004-${k}` })),
    });
    const large = Math.max(...(await table.snapshot()).files().map((f) => f.size));
    clock.advance(60_000);
    for (const i of [6, 7]) await append(table, { rows: [order(i * 2, 'A', 0), order(i * 2 + 1, 'A', 0)] });
    const before = await state(table);
    const res = await optimize(table, { targetFileSize: large, orderBy: ['order_id'], olderThanMs: 30_000 });
    // Keys o0000..o0003 (2 files) and o0006..o0011 (3 files) are packed on each side of the
    // large o0004-* file; the recent o0012..o0015 files are left alone.
    assert.equal(res.filesRemoved, 5);
    assert.equal(res.filesAdded, 2);
    const ranges = (await table.snapshot())
      .files()
      .map((f) => {
        const s = JSON.parse(f.stats!);
        return `${s.minValues.order_id}..${s.maxValues.order_id}`;
      })
      .sort();
    assert.deepEqual(ranges, [
      'o0000..o0003',
      'o0004-0..o0004-9999',
      'o0006..o0011',
      'o0012..o0013',
      'o0014..o0015',
    ]);
    assert.deepEqual(await state(table), before);
  });
});
