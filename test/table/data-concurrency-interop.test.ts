import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { MemoryStore } from '../../src/storage/memory.ts';
import { append } from '../../src/table/ops/append.ts';
import { merge } from '../../src/table/ops/merge.ts';
import { optimize } from '../../src/table/ops/optimize.ts';
import { deleteWhere, update } from '../../src/table/ops/rewrite-where.ts';
import { fromAddPath } from '../../src/table/partition-path.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import { clearCache } from '../../src/table/read/scan.ts';
import type { StructType } from '../../src/table/schema.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { field, interfering, newTable, tempDir } from './data-helpers.ts';

const run = promisify(execFile);
const python = process.env.TRIBUTARY_TEST_PYTHON ?? join(import.meta.dirname, '../../.venv/bin/python');

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('id', 'long', false),
    field('status', 'string'),
    field('amount', 'decimal(12,2)'),
    field('ts', 'timestamp'),
    field('day', 'date'),
    field('region', 'string'),
  ],
};

const rowsFor = (ids: number[], status: string) =>
  ids.map((id) => ({
    id,
    status,
    amount: `${id}.25`,
    ts: `2026-01-0${1 + (id % 3)}T10:00:00.123456Z`,
    day: `2026-01-0${1 + (id % 3)}`,
    region: id % 2 ? 'eu:west' : 'us east',
  }));

describe('data plane: conflicts, remote stores, delta-rs', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  test('MERGE re-runs on a fresh snapshot after a conflicting concurrent UPDATE', async () => {
    const { table } = await newTable(`${tmp.dir}/conflict`, SCHEMA);
    await append(table, { rows: rowsFor([1, 2, 3], 'CREATED') });
    // Between MERGE's plan and its commit, another writer rewrites the same file.
    const handle = interfering(table, () =>
      update(table, { where: 'id = 3', set: { status: "'CANCELLED'" } }),
    );
    const res = await merge(handle, { rows: rowsFor([1, 4], 'PAID') }, { on: ['id'] });
    assert.equal(handle.interfered, 1);
    assert.equal(res.attempts, 2, 'the first attempt conflicted and was re-planned');
    const rows = await readRows(table, await table.snapshot(), { orderBy: 'id' });
    assert.deepEqual(
      rows.map((r) => `${r.id}:${r.status}`),
      ['1:PAID', '2:CREATED', '3:CANCELLED', '4:PAID'],
    );
  });

  test('OPTIMIZE does not conflict with a concurrent append', async () => {
    const { table } = await newTable(`${tmp.dir}/opt-append`, SCHEMA);
    await append(table, { rows: rowsFor([1], 'A') });
    await append(table, { rows: rowsFor([2], 'A') });
    const handle = interfering(table, () => append(table, { rows: rowsFor([3], 'B') }));
    const res = await optimize(handle);
    assert.equal(res.filesRemoved, 2);
    const rows = await readRows(table, await table.snapshot(), { orderBy: 'id' });
    assert.deepEqual(
      rows.map((r) => r.id),
      ['1', '2', '3'],
    );
  });

  test('a store without local paths: files are uploaded with put and read through a cache', async () => {
    process.env.TRIBUTARY_CACHE_DIR = `${tmp.dir}/cache`;
    const store = new MemoryStore();
    const table = await DeltaTable.create(store, { schema: SCHEMA, partitionColumns: ['region'] });
    await append(table, { rows: rowsFor([1, 2, 3, 4], 'A') });
    await merge(table, { rows: rowsFor([2, 5], 'B') }, { on: ['id'] });
    const listed = new Set((await store.list('region=')).map((m) => m.path));
    const snap = await table.snapshot();
    for (const f of snap.files()) assert.ok(listed.has(fromAddPath(f.path)), f.path);
    const rows = await readRows(table, snap, { orderBy: 'id' });
    assert.deepEqual(
      rows.map((r) => `${r.id}:${r.status}:${r.region}`),
      ['1:A:eu:west', '2:B:us east', '3:A:eu:west', '4:A:us east', '5:B:eu:west'],
    );
    await clearCache(store);
  });

  test('delta-rs reads what append, merge, update, delete and optimize wrote', {
    skip: existsSync(python) ? false : `no Python with deltalake at ${python}`,
  }, async () => {
    const dir = `${tmp.dir}/interop`;
    const { table } = await newTable(dir, SCHEMA, ['region']);
    await append(table, { rows: rowsFor([1, 2, 3, 4, 5, 6], 'CREATED') });
    await append(table, { rows: rowsFor([7, 8], 'CREATED') });
    await merge(table, { rows: rowsFor([2, 9], 'PAID') }, { on: ['id'] });
    await update(table, { where: 'id = 3', set: { status: "'SHIPPED'" } });
    await deleteWhere(table, 'id = 4');
    await optimize(table);
    const ours = await readRows(table, await table.snapshot(), { orderBy: 'id' });
    const script = `
import json, os
from deltalake import DeltaTable
t = DeltaTable(${JSON.stringify(dir)})
rows = t.to_pyarrow_table().to_pydict()
out = sorted(zip(rows['id'], rows['status'], [str(a) for a in rows['amount']], [x.isoformat() for x in rows['ts']], [str(d) for d in rows['day']], rows['region']))
eu = t.to_pyarrow_table(partitions=[('region', '=', 'eu:west')]).num_rows
print(json.dumps({'rows': out, 'eu': eu, 'version': t.version()}))
`;
    const { stdout } = await run(python, ['-c', `${script}\nimport sys\nsys.stdout.flush()\nos._exit(0)`]);
    const theirs = JSON.parse(stdout);
    assert.equal(theirs.version, (await table.snapshot()).version);
    assert.deepEqual(
      theirs.rows.map((r: unknown[]) => `${r[0]}:${r[1]}:${r[2]}:${r[3]}:${r[4]}:${r[5]}`),
      ours.map(
        (r) =>
          `${r.id}:${r.status}:${r.amount}:${String(r.ts).replace(' ', 'T').replace('+00', '+00:00')}:${r.day}:${r.region}`,
      ),
    );
    assert.equal(theirs.eu, ours.filter((r) => r.region === 'eu:west').length);
  });
});
