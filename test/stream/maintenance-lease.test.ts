/**
 * Table upkeep among several workers: it runs on one at a time, under the lease kept in
 * the table's storage; a worker finding it held skips the round; VACUUM keeps the
 * lease's records.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { StoreLease } from '../../src/storage/lease.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { MAINTENANCE_LEASE, maintainTable } from '../../src/stream/sinks/maintenance.ts';
import { append } from '../../src/table/ops/append.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { field, newTable, tempDir } from '../table/data-helpers.ts';

const tmp = tempDir();
after(() => tmp.cleanup());

test('upkeep runs on the worker holding the maintenance lease and is skipped by the others', async () => {
  const dir = `${tmp.dir}/t`;
  const { table } = await newTable(dir, { type: 'struct', fields: [field('id', 'long', false)] });
  for (let i = 0; i < 4; i++) await append(table, { rows: [{ id: i }] });
  // Another worker's handle on the same table holds the lease.
  const other = new StoreLease(new LocalStore(dir), MAINTENANCE_LEASE, { holder: 'worker-2' });
  assert.equal(await other.acquire(), undefined);
  const skipped = await maintainTable(await DeltaTable.open(new LocalStore(dir)), { vacuumRetentionMs: 0 });
  assert.ok('skipped' in skipped && skipped.skipped.holder === 'worker-2', JSON.stringify(skipped));
  const ops = async () => (await table.history()).map((h) => h.operation);
  assert.ok(!(await ops()).includes('OPTIMIZE'), 'nothing was compacted while another worker held the lease');

  await other.release();
  const ran = await maintainTable(await DeltaTable.open(new LocalStore(dir)), { vacuumRetentionMs: 0 });
  assert.ok(!('skipped' in ran), JSON.stringify(ran));
  assert.ok((await ops()).includes('OPTIMIZE'));
  assert.equal(ran.vacuumed, 4, 'the four compacted files were vacuumed');
  const snap = await table.snapshot();
  assert.equal(snap.files().length, 1);
  assert.deepEqual(
    (await readRows(table, snap, { orderBy: 'id' })).map((r) => Number(r.id)),
    [0, 1, 2, 3],
  );
  // The lease's records survive VACUUM (paths starting with `_` are not table files).
  const records = await new LocalStore(dir).list(`${MAINTENANCE_LEASE}/`);
  assert.ok(records.length >= 2, JSON.stringify(records));
  assert.equal((await other.current())?.released, true, 'the upkeep released the lease when done');
});
