import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import type { Action } from '../../src/table/actions.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { add, checkpointFile, commitFile, putCommit, remove, SCHEMA } from './core-helpers.ts';

const code = (c: string, re?: RegExp) => (err: unknown) =>
  isTributaryError(err) && err.code === c && (re === undefined || re.test(err.message));

async function tableWith(commits: Action[][], configuration: Record<string, string> = {}) {
  const store = new MemoryStore();
  const table = await DeltaTable.create(store, { schema: SCHEMA, partitionColumns: ['day'], configuration });
  for (const actions of commits) {
    await table.commit(actions, {
      readSnapshot: await table.snapshot(),
      operation: 'WRITE',
      readScope: 'none',
    });
  }
  return { store, table };
}

const paths = (files: { path: string }[]) => files.map((f) => f.path);

describe('log replay', () => {
  test('newest add/remove per path wins, newest txn per appId, metaData replaced', async () => {
    const { store, table } = await tableWith([
      [{ add: add('day=1/a.parquet', { day: '1' }) }, { txn: { appId: 'app', version: 1 } }],
      [{ add: add('day=1/b.parquet', { day: '1' }) }, { txn: { appId: 'app', version: 2 } }],
      [{ remove: remove('day=1/a.parquet', 10) }],
      [{ add: add('day=2/c.parquet', { day: '2' }) }, { txn: { appId: 'other', version: 7 } }],
    ]);
    let snap = await table.snapshot();
    assert.equal(snap.version, 4);
    assert.deepEqual(paths(snap.files()), ['day=1/b.parquet', 'day=2/c.parquet']);
    assert.deepEqual(paths(snap.tombstones()), ['day=1/a.parquet']);
    assert.equal(snap.txnVersion('app'), 2);
    assert.equal(snap.txnVersion('other'), 7);
    assert.equal(snap.txnVersion('nobody'), undefined);
    assert.equal(await table.appTransactionVersion('app'), 2);

    // Re-adding a removed path makes it active again and drops its tombstone.
    await table.commit([{ add: add('day=1/a.parquet', { day: '1' }) }], {
      readSnapshot: snap,
      operation: 'WRITE',
    });
    await table.commit(
      [{ metaData: { ...snap.metadata, configuration: { 'delta.checkpointInterval': '50' } } }],
      {
        readSnapshot: await table.snapshot(),
        operation: 'SET TBLPROPERTIES',
      },
    );
    // A second object on the same store sees the same state from scratch.
    snap = await (await DeltaTable.open(store)).snapshot();
    assert.deepEqual(paths(snap.files()), ['day=1/a.parquet', 'day=1/b.parquet', 'day=2/c.parquet']);
    assert.deepEqual(snap.tombstones(), []);
    assert.equal(snap.config.checkpointInterval, 50);
  });

  test('a cached table object picks up commits made by another writer', async () => {
    const { store, table } = await tableWith([[{ add: add('day=1/a.parquet', { day: '1' }) }]]);
    assert.equal((await table.snapshot()).version, 1);
    const other = await DeltaTable.open(store);
    await other.commit([{ add: add('day=1/b.parquet', { day: '1' }) }], {
      readSnapshot: await other.snapshot(),
      operation: 'WRITE',
    });
    const snap = await table.snapshot();
    assert.equal(snap.version, 2);
    assert.deepEqual(paths(snap.files()), ['day=1/a.parquet', 'day=1/b.parquet']);
  });

  test('reads a hand-written log with unknown actions and fields, stats kept as the exact string', async () => {
    const store = new MemoryStore();
    const stats =
      '{"numRecords":3,"minValues":{"id":9007199254740993},"maxValues":{"id":9007199254740995},"nullCount":{"id":0}}';
    await putCommit(store, 0, [
      { commitInfo: { timestamp: 1000, operation: 'CREATE TABLE', futureField: { x: 1 } } },
      { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
      {
        metaData: {
          id: 'x',
          format: { provider: 'parquet', options: {} },
          schemaString: JSON.stringify(SCHEMA),
          partitionColumns: [],
          configuration: {},
        },
      },
      { somethingNew: { a: 1 } },
    ]);
    await putCommit(store, 1, [
      `{"add":{"path":"a.parquet","partitionValues":{},"size":1,"modificationTime":2,"dataChange":true,"stats":${JSON.stringify(stats)},"newField":true}}`,
    ]);
    const snap = await (await DeltaTable.open(store)).snapshot();
    assert.equal(snap.files()[0].stats, stats);
    assert.equal(snap.timestamp, (await store.head(commitFile(1))).lastModified); // no commitInfo: file mtime
  });

  test('a gap in the versions is TABLE_CORRUPT_LOG naming the missing file', async () => {
    const { store } = await tableWith(['a', 'b', 'c'].map((n) => [{ add: add(`day=1/${n}`, { day: '1' }) }]));
    await store.delete(commitFile(2));
    await assert.rejects(DeltaTable.open(store), code('TABLE_CORRUPT_LOG', /00000000000000000002\.json/));
  });

  test('an unparseable commit line is TABLE_CORRUPT_LOG with file and line', async () => {
    const { store } = await tableWith([[{ add: add('day=1/a', { day: '1' }) }]]);
    await putCommit(store, 2, [{ add: add('day=1/b', { day: '1' }) }, '{"add": {"path": "x", truncated']);
    await assert.rejects(
      DeltaTable.open(store),
      code('TABLE_CORRUPT_LOG', /00000000000000000002\.json line 2/),
    );
    await putCommit(store, 2, [{ add: { partitionValues: {} } }]);
    await assert.rejects(
      DeltaTable.open(store),
      code('TABLE_CORRUPT_LOG', /line 1 is a file action without a string path/),
    );
  });

  test('refuses to read tables that need a newer reader, and to write newer writer versions', async () => {
    const store = new MemoryStore();
    await DeltaTable.create(store, { schema: SCHEMA });
    await putCommit(store, 1, [{ protocol: { minReaderVersion: 1, minWriterVersion: 4 } }]);
    const table = await DeltaTable.open(store);
    await assert.rejects(
      table.commit([{ add: add('a') }], { readSnapshot: await table.snapshot(), operation: 'WRITE' }),
      code('TABLE_UNSUPPORTED_PROTOCOL', /writer version 4/),
    );
    await putCommit(store, 2, [{ protocol: { minReaderVersion: 2, minWriterVersion: 5 } }]);
    await assert.rejects(DeltaTable.open(store), code('TABLE_UNSUPPORTED_PROTOCOL', /reader version 2/));
    await assert.rejects(table.snapshot(), code('TABLE_UNSUPPORTED_PROTOCOL'));
  });
});

describe('log replay with checkpoints', () => {
  const commits = (n: number): Action[][] =>
    Array.from({ length: n }, (_, i) => [{ add: add(`day=1/f${i + 1}.parquet`, { day: '1' }) }]);

  test('loads from the newest checkpoint: commits before it are not needed', async () => {
    const { store } = await tableWith(commits(12), { 'delta.checkpointInterval': '5' });
    assert.ok((await store.list(checkpointFile(10))).length === 1);
    for (let v = 0; v < 10; v++) await store.delete(commitFile(v));
    const snap = await (await DeltaTable.open(store)).snapshot();
    assert.equal(snap.version, 12);
    assert.equal(snap.files().length, 12);
  });

  test('a missing _last_checkpoint falls back to listing; a stale one is overtaken', async () => {
    const { store } = await tableWith(commits(12), { 'delta.checkpointInterval': '5' });
    // Corrupt commit 7: only a reader starting at checkpoint 10 can succeed.
    await putCommit(store, 7, ['not json']);
    await store.delete('_delta_log/_last_checkpoint');
    assert.equal((await (await DeltaTable.open(store)).snapshot()).files().length, 12);
    await store.put('_delta_log/_last_checkpoint', new TextEncoder().encode('{"version":5,"size":7}'));
    assert.equal((await (await DeltaTable.open(store)).snapshot()).files().length, 12);
    await store.put('_delta_log/_last_checkpoint', new TextEncoder().encode('garbage'));
    assert.equal((await (await DeltaTable.open(store)).snapshot()).files().length, 12);
  });

  test('_last_checkpoint pointing at a deleted checkpoint falls back to an older one', async () => {
    const { store } = await tableWith(commits(12), { 'delta.checkpointInterval': '5' });
    await store.delete(checkpointFile(10));
    for (let v = 0; v < 5; v++) await store.delete(commitFile(v));
    const snap = await (await DeltaTable.open(store)).snapshot();
    assert.equal(snap.version, 12);
    assert.equal(snap.files().length, 12);
  });

  test('a deleted checkpoint whose earlier commits were cleaned up is TABLE_CORRUPT_LOG', async () => {
    const { store } = await tableWith(commits(7), { 'delta.checkpointInterval': '5' });
    for (let v = 0; v < 5; v++) await store.delete(commitFile(v));
    await store.delete(checkpointFile(5));
    await assert.rejects(DeltaTable.open(store), code('TABLE_CORRUPT_LOG', /00000000000000000000\.json/));
  });

  test('a corrupt checkpoint is passed over while the commits before it are there, else TABLE_CORRUPT_LOG', async () => {
    const { store } = await tableWith(commits(6), { 'delta.checkpointInterval': '5' });
    await store.put(checkpointFile(5), new TextEncoder().encode('PAR1 this is not parquet'));
    // _last_checkpoint points at it, as after a partly written checkpoint on a store without atomic puts.
    const snap = await (await DeltaTable.open(store)).snapshot();
    assert.equal(snap.version, 6);
    assert.equal(snap.files().length, 6);
    await store.delete(commitFile(0));
    await assert.rejects(
      DeltaTable.open(store),
      code('TABLE_CORRUPT_LOG', /checkpoint .*00000000000000000005\.checkpoint\.parquet/),
    );
  });

  test('log with 1000+ versions: the block-wise listing crosses block boundaries', async () => {
    const store = new MemoryStore();
    const table = await DeltaTable.create(store, {
      schema: SCHEMA,
      configuration: { 'delta.checkpointInterval': '997' },
    });
    let snap = await table.snapshot();
    for (let i = 1; i <= 1003; i++) {
      await table.commit([{ add: add(`f${i}`) }], { readSnapshot: snap, operation: 'WRITE' });
      snap = await table.snapshot();
    }
    const fresh = await (await DeltaTable.open(store)).snapshot();
    assert.equal(fresh.version, 1003);
    assert.equal(fresh.files().length, 1003);
  });
});
