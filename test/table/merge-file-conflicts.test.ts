/**
 * MERGE's file-level conflict detection: two writers MERGE-ing disjoint keys into one
 * unpartitioned table commit side by side (no re-plan) even when their keys interleave,
 * as workers owning different Kafka partitions write; a writer whose keys another
 * inserted or whose files another rewrote re-plans, and no key ends up twice.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { append } from '../../src/table/ops/append.ts';
import { merge } from '../../src/table/ops/merge.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import type { StructType } from '../../src/table/schema.ts';
import { field, interfering, newTable, tempDir } from './data-helpers.ts';

const SCHEMA: StructType = {
  type: 'struct',
  fields: [field('id', 'long', false), field('status', 'string')],
};
const rows = (ids: number[], status: string) => ids.map((id) => ({ id, status }));
const evens = [2, 4, 6, 8, 10, 12, 14, 16];
const odds = [1, 3, 5, 7, 9, 11, 13, 15];

describe('MERGE conflicts are decided per file and per key', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  /** A table whose even ids and odd ids lie in separate files with overlapping key ranges. */
  async function twoWriterTable(name: string) {
    const { table } = await newTable(`${tmp.dir}/${name}`, SCHEMA);
    await append(table, { rows: rows(evens, 'NEW') });
    await append(table, { rows: rows(odds, 'NEW') });
    return table;
  }

  const contents = async (table: Awaited<ReturnType<typeof twoWriterTable>>) =>
    (await readRows(table, await table.snapshot(), { orderBy: 'id' })).map((r) => `${r.id}:${r.status}`);

  test('disjoint interleaved keys: both MERGEs commit without re-planning', async () => {
    const table = await twoWriterTable('disjoint');
    // Between the first writer's plan and its commit, the second rewrites the odd file
    // and inserts a key inside the first writer's key range.
    const handle = interfering(table, () => merge(table, { rows: rows([3, 9, 101], 'B') }, { on: ['id'] }));
    const res = await merge(handle, { rows: rows([4, 10, 100], 'A') }, { on: ['id'] });
    assert.equal(handle.interfered, 1);
    assert.equal(res.attempts, 1, 'the MERGE was not re-planned');
    const got = await contents(table);
    const want = [...evens, ...odds, 100, 101]
      .sort((a, b) => a - b)
      .map((id) => `${id}:${[4, 10, 100].includes(id) ? 'A' : [3, 9, 101].includes(id) ? 'B' : 'NEW'}`);
    assert.deepEqual(got, want);
    const history = await table.history();
    assert.equal(history.filter((h) => h.operation === 'MERGE').length, 2);
  });

  test('both insert the same new key: the later MERGE re-plans and the key is there once', async () => {
    const table = await twoWriterTable('same-insert');
    const handle = interfering(table, () => merge(table, { rows: rows([3, 200], 'B') }, { on: ['id'] }));
    const res = await merge(handle, { rows: rows([4, 200], 'A') }, { on: ['id'] });
    assert.equal(res.attempts, 2, 'the first plan did not see key 200 and was re-planned');
    const got = await contents(table);
    assert.equal(got.filter((r) => r.startsWith('200:')).length, 1, got.join(' '));
    assert.ok(got.includes('200:A') && got.includes('3:B') && got.includes('4:A'), got.join(' '));
  });

  test('a file the MERGE matched rows in was rewritten by another: it re-plans on the new rows', async () => {
    const table = await twoWriterTable('same-file');
    // Key 6 and key 8 share the even file: the other writer's rewrite removes the file
    // the first writer read key 6 from.
    const handle = interfering(table, () => merge(table, { rows: rows([8], 'B') }, { on: ['id'] }));
    const res = await merge(handle, { rows: rows([6], 'A') }, { on: ['id'] });
    assert.equal(res.attempts, 2);
    const got = await contents(table);
    assert.ok(got.includes('6:A') && got.includes('8:B'), got.join(' '));
    assert.equal(got.length, evens.length + odds.length);
  });
});
