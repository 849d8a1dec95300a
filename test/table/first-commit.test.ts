/**
 * A table created by its first write (DeltaTable.open with createIfMissing): version 0
 * holds protocol, metaData, the rows and the txn, as Spark and delta-rs number it, and
 * delta-rs reads the rows at version 0. Two writers creating one table at once resolve
 * by the commit rules (first-commit.ts): same definition → the loser's blind append
 * lands at version 1; MERGE re-reads and runs again; another schema, or an application
 * whose progress the winner recorded → refused, with nothing of the loser left behind.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, merge, readRows, writeFiles } from '../../src/table/index.ts';
import type { StructType } from '../../src/table/schema.ts';
import type { Snapshot } from '../../src/table/snapshot.ts';
import { DeltaTable } from '../../src/table/table.ts';
import type { TableHandle } from '../../src/table/write/table-handle.ts';
import { deltaRsRead, pythonSkip } from '../interop/helpers.ts';
import { field, sortBy, tempDir } from './data-helpers.ts';

const tmp = tempDir('tributary-first-commit-');
after(() => tmp.cleanup());

const SCHEMA: StructType = {
  type: 'struct',
  fields: [field('id', 'long', false), field('day', 'string'), field('v', 'string')],
};
const def = { schema: SCHEMA, partitionColumns: ['day'] };
const code = (c: string) => (err: unknown) => isTributaryError(err) && err.code === c;

async function commitActions(store: LocalStore, v: number): Promise<string[]> {
  const text = new TextDecoder().decode(await store.get(`_delta_log/${String(v).padStart(20, '0')}.json`));
  return text
    .trim()
    .split('\n')
    .map((l) => Object.keys(JSON.parse(l))[0]);
}

async function rowsAt(table: DeltaTable, version?: number): Promise<Array<{ id: number; v: string }>> {
  const snap = await table.snapshot(version === undefined ? {} : { version });
  return sortBy(await readRows(table, snap), 'id').map((r) => ({ id: Number(r.id), v: String(r.v) }));
}

/** A handle whose first `stale` snapshots are the one given: a writer that read before a race. */
function readBefore(table: DeltaTable, snap: Snapshot, stale: number): TableHandle & { clock: unknown } {
  let calls = 0;
  return {
    store: table.store,
    clock: table.clock,
    snapshot: async (at) => (at === undefined && calls++ < stale ? snap : table.snapshot(at)),
    commit: (actions, opts) => table.commit(actions, opts),
  };
}

const parquetFiles = async (store: LocalStore) =>
  (await store.list('')).filter((m) => m.path.endsWith('.parquet')).map((m) => m.path);

test('the first append to a table defined with createIfMissing is version 0 with its rows and txn', async () => {
  const dir = join(tmp.dir, 'one');
  const store = new LocalStore(dir);
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const table = await DeltaTable.open(store, { clock, createIfMissing: def });
  const empty = await table.snapshot();
  assert.equal(empty.version, -1);
  assert.equal(await table.exists(), false);
  assert.deepEqual(empty.schema, SCHEMA);
  // Not created yet: no log, no history, housekeeping does nothing.
  await table.checkpoint();
  assert.deepEqual(await table.vacuum({ retentionMs: 0 }), { deleted: [] });
  assert.deepEqual(await table.cleanupLog(), { deleted: [] });
  assert.equal(existsSync(join(dir, '_delta_log')), false);

  const res = await append(
    table,
    {
      rows: [
        { id: 1, day: 'mon', v: 'a' },
        { id: 2, day: 'tue', v: 'b' },
      ],
    },
    { txn: [{ appId: 'stream/0', version: 41 }] },
  );
  assert.equal(res.version, 0);
  assert.deepEqual(await commitActions(store, 0), [
    'commitInfo',
    'protocol',
    'metaData',
    'add',
    'add',
    'txn',
  ]);
  const info = JSON.parse(
    new TextDecoder().decode(await store.get('_delta_log/00000000000000000000.json')).split('\n')[0],
  ).commitInfo;
  assert.equal(info.operation, 'STREAMING UPDATE');
  assert.equal(info.readVersion, undefined, 'the first commit read no version');
  assert.equal(await table.exists(), true);

  const reopened = await DeltaTable.open(new LocalStore(dir));
  assert.equal((await reopened.snapshot()).txnVersion('stream/0'), 41);
  assert.deepEqual(await rowsAt(reopened, 0), [
    { id: 1, v: 'a' },
    { id: 2, v: 'b' },
  ]);
  assert.equal((await append(table, { rows: [{ id: 3, day: 'mon', v: 'c' }] })).version, 1);
  if (pythonSkip() === undefined) {
    const v0 = await deltaRsRead(dir, { version: 0 });
    assert.equal(v0.version, 0);
    assert.deepEqual(v0.partitionColumns, ['day']);
    assert.deepEqual(
      sortBy(v0.rows, 'id').map((r) => [Number(r.id), r.day, r.v]),
      [
        [1, 'mon', 'a'],
        [2, 'tue', 'b'],
      ],
    );
    assert.equal((await deltaRsRead(dir)).rows.length, 3);
  }
});

test('DeltaTable.create still commits an empty version 0; an existing table opens as it is', async () => {
  const dir = join(tmp.dir, 'explicit');
  const store = new LocalStore(dir);
  await DeltaTable.create(store, def);
  assert.deepEqual(await commitActions(store, 0), ['commitInfo', 'protocol', 'metaData']);
  const other: StructType = { type: 'struct', fields: [field('x', 'string')] };
  const table = await DeltaTable.open(store, { createIfMissing: { schema: other } });
  assert.deepEqual((await table.snapshot()).schema, SCHEMA, 'the definition is only for a missing table');
  assert.equal((await append(table, { rows: [{ id: 1, day: 'mon', v: 'a' }] })).version, 1);
});

test('two writers create one table: the loser of version 0 appends at version 1 when the definitions match', async () => {
  const dir = join(tmp.dir, 'race-append');
  const a = await DeltaTable.open(new LocalStore(dir), { createIfMissing: def });
  const b = await DeltaTable.open(new LocalStore(dir), { createIfMissing: def });
  const bRead = await b.snapshot();
  // b wrote its files against the empty table; a creates the table meanwhile.
  const adds = await writeFiles(b, bRead, { rows: [{ id: 2, day: 'tue', v: 'from b' }] });
  assert.equal((await append(a, { rows: [{ id: 1, day: 'mon', v: 'from a' }] })).version, 0);
  const res = await b.commit(
    adds.map((add) => ({ add })),
    { readSnapshot: bRead, operation: 'WRITE', readScope: 'none' },
  );
  assert.equal(res.version, 1);
  assert.equal(res.attempts, 1);
  assert.deepEqual(await commitActions(a.store as LocalStore, 1), ['commitInfo', 'add']);
  assert.deepEqual(await rowsAt(a), [
    { id: 1, v: 'from a' },
    { id: 2, v: 'from b' },
  ]);
  if (pythonSkip() === undefined) {
    assert.deepEqual(
      (await deltaRsRead(dir, { version: 0 })).rows.map((r) => r.v),
      ['from a'],
    );
    assert.equal((await deltaRsRead(dir)).rows.length, 2);
  }
});

test('creation races that cannot be appended: another schema, or progress recorded by the winner, are refused and leave nothing', async () => {
  const dir = join(tmp.dir, 'race-refused');
  const store = new LocalStore(dir);
  const a = await DeltaTable.open(store, { createIfMissing: def });
  const wider: StructType = { type: 'struct', fields: [...SCHEMA.fields, field('extra', 'string')] };
  const b = await DeltaTable.open(new LocalStore(dir), { createIfMissing: { ...def, schema: wider } });
  const c = await DeltaTable.open(new LocalStore(dir), { createIfMissing: def });
  const bRead = await b.snapshot();
  const cRead = await c.snapshot();
  await append(a, { rows: [{ id: 1, day: 'mon', v: 'a' }] }, { txn: [{ appId: 'p/0', version: 10 }] });
  const aFiles = await parquetFiles(store);

  await assert.rejects(
    append(readBefore(b, bRead, 1), { rows: [{ id: 2, day: 'mon', v: 'b', extra: 'x' }] }),
    (err: unknown) =>
      code('TABLE_ALREADY_EXISTS')(err) &&
      /created by another writer.*nothing of this write/.test(String(err)),
  );
  // The same stream's offsets from another process: its rows may be in the winner's.
  await assert.rejects(
    append(
      readBefore(c, cRead, 1),
      { rows: [{ id: 1, day: 'mon', v: 'a' }] },
      {
        txn: [{ appId: 'p/0', version: 10 }],
      },
    ),
    code('TABLE_COMMIT_CONFLICT'),
  );
  assert.deepEqual(await parquetFiles(store), aFiles, "the losers' data files were deleted");
  assert.equal((await a.snapshot()).version, 0);
  assert.deepEqual(await rowsAt(a), [{ id: 1, v: 'a' }]);
});

test('a MERGE that loses the creation race re-reads the new table and merges into it', async () => {
  const dir = join(tmp.dir, 'race-merge');
  const a = await DeltaTable.open(new LocalStore(dir), { createIfMissing: def });
  const b = await DeltaTable.open(new LocalStore(dir), { createIfMissing: def });
  const bRead = await b.snapshot();
  await append(a, {
    rows: [
      { id: 1, day: 'mon', v: 'a1' },
      { id: 2, day: 'mon', v: 'a2' },
    ],
  });
  // merge reads the snapshot twice before its first commit: for the schema, and to plan.
  const res = await merge(
    readBefore(b, bRead, 2),
    {
      rows: [
        { id: 2, day: 'mon', v: 'b2' },
        { id: 3, day: 'tue', v: 'b3' },
      ],
    },
    { on: ['id'] },
  );
  assert.equal(res.version, 1);
  assert.equal(res.attempts, 2, 'planned again on the created table');
  assert.equal(res.metrics.numTargetRowsUpdated, 1);
  assert.deepEqual(await rowsAt(a), [
    { id: 1, v: 'a1' },
    { id: 2, v: 'b2' },
    { id: 3, v: 'b3' },
  ]);
});
