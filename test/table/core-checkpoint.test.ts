import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import type { Action } from '../../src/table/actions.ts';
import { connect } from '../../src/table/duckdb.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { add, checkpointFile, putCommit, remove, SCHEMA, tempStore } from './core-helpers.ts';

const HOUR = 3_600_000;
const scratch = await mkdtemp(join(tmpdir(), 'tributary-core-ckpt-test-'));
after(() => rm(scratch, { recursive: true, force: true }));

/** Runs SQL over a checkpoint file copied out of a store. */
async function queryCheckpoint(store: MemoryStore, version: number, sql: (file: string) => string) {
  const file = join(scratch, `${Math.random()}.parquet`);
  await writeFile(file, await store.get(checkpointFile(version)));
  const conn = await connect();
  try {
    return (await conn.runAndReadAll(sql(`'${file}'`))).getRowObjectsJson();
  } finally {
    conn.closeSync();
  }
}

async function buildTable(clock: ManualClock) {
  const store = new MemoryStore({ clock });
  const table = await DeltaTable.create(
    store,
    {
      schema: SCHEMA,
      partitionColumns: ['day'],
      configuration: { 'delta.deletedFileRetentionDuration': 'interval 1 hour' },
    },
    { clock },
  );
  const stats =
    '{"numRecords":2,"minValues":{"id":9007199254740993},"maxValues":{"id":9007199254740999},"nullCount":{"id":0}}';
  const commit = async (actions: Action[]) =>
    table.commit(actions, { readSnapshot: await table.snapshot(), operation: 'WRITE', readScope: 'all' });
  await commit([
    { add: add('day=1/a', { day: '1' }, { stats, tags: { k: 'v' } }) },
    { txn: { appId: 'p0', version: 5, lastUpdated: 7 } },
  ]);
  await commit([
    { add: add('day=__HIVE_DEFAULT_PARTITION__/b', { day: null }) },
    { add: add('day=1/old', { day: '1' }) },
  ]);
  await commit([
    {
      remove: remove('day=1/old', clock.now(), {
        partitionValues: { day: '1' },
        size: 5,
        extendedFileMetadata: true,
      }),
    },
  ]);
  clock.advance(2 * HOUR); // the tombstone above is now expired
  await commit([{ add: add('day=2/c', { day: '2' }) }, { add: add('day=2/gone', { day: '2' }) }]);
  await commit([{ remove: remove('day=2/gone', clock.now()) }, { txn: { appId: 'p0', version: 6 } }]);
  return { store, table, stats };
}

describe('checkpoints', () => {
  test('one action per row in nullable struct columns, maps as MAP, absent structs NULL', async () => {
    const clock = new ManualClock(1_750_000_000_000);
    const { store, table } = await buildTable(clock);
    await table.checkpoint();
    const schema = await queryCheckpoint(
      store,
      5,
      (f) => `SELECT name, repetition_type, converted_type FROM parquet_schema(${f})`,
    );
    const top = schema.filter((r) =>
      ['protocol', 'metaData', 'txn', 'add', 'remove', 'commitInfo'].includes(String(r.name)),
    );
    assert.deepEqual(
      top.map((r) => [r.name, r.repetition_type]),
      [
        ['protocol', 'OPTIONAL'],
        ['metaData', 'OPTIONAL'],
        ['txn', 'OPTIONAL'],
        ['add', 'OPTIONAL'],
        ['remove', 'OPTIONAL'],
      ],
    );
    const maps = schema.filter((r) => r.converted_type === 'MAP').map((r) => r.name);
    assert.deepEqual(maps, ['options', 'configuration', 'partitionValues', 'tags', 'partitionValues']);
    const keys = schema.filter((r) => r.name === 'key').map((r) => r.repetition_type);
    assert.ok(keys.length === 5 && keys.every((k) => k === 'REQUIRED'));
    const perRow = await queryCheckpoint(
      store,
      5,
      (f) =>
        `SELECT (protocol IS NOT NULL)::INT + (metaData IS NOT NULL)::INT + (txn IS NOT NULL)::INT + ("add" IS NOT NULL)::INT + ("remove" IS NOT NULL)::INT AS n FROM read_parquet(${f})`,
    );
    assert.ok(perRow.every((r) => r.n === 1));
    const last = JSON.parse(new TextDecoder().decode(await store.get('_delta_log/_last_checkpoint')));
    // protocol, metaData, 1 txn, 3 adds, 1 unexpired tombstone (the expired one is dropped)
    assert.equal(last.version, 5);
    assert.equal(last.size, 7);
    assert.equal(perRow.length, 7);
    const removes = await queryCheckpoint(
      store,
      5,
      (f) => `SELECT "remove".path AS p FROM read_parquet(${f}) WHERE "remove" IS NOT NULL`,
    );
    assert.deepEqual(removes, [{ p: 'day=2/gone' }]);
    const nullPv = await queryCheckpoint(
      store,
      5,
      (f) =>
        `SELECT "add".partitionValues['day'] AS d FROM read_parquet(${f}) WHERE "add".path = 'day=__HIVE_DEFAULT_PARTITION__/b'`,
    );
    assert.deepEqual(nullPv, [{ d: null }]);
  });

  test('a snapshot loaded from the checkpoint equals the one replayed from commits (store without localPath)', async () => {
    const clock = new ManualClock(1_750_000_000_000);
    const { store, table, stats } = await buildTable(clock);
    const replayed = await table.snapshot();
    await table.checkpoint();
    for (let v = 0; v < 5; v++) await store.delete(`_delta_log/${String(v).padStart(20, '0')}.json`);
    const loaded = await (await DeltaTable.open(store, { clock })).snapshot();
    assert.equal(loaded.version, 5);
    assert.deepEqual(loaded.files(), replayed.files());
    assert.equal(loaded.file('day=1/a')?.stats, stats);
    assert.deepEqual(loaded.file('day=1/a')?.tags, { k: 'v' });
    assert.deepEqual(loaded.txnVersion('p0'), 6);
    assert.deepEqual(loaded.protocol, replayed.protocol);
    assert.deepEqual(loaded.metadata, { ...replayed.metadata, name: null, description: null });
    assert.deepEqual(
      loaded.tombstones().map((t) => t.path),
      ['day=2/gone'],
    );
    assert.equal(loaded.timestamp, replayed.timestamp);
  });

  test('written automatically after versions divisible by delta.checkpointInterval (default 10)', async () => {
    const store = new MemoryStore();
    const table = await DeltaTable.create(store, { schema: SCHEMA });
    for (let i = 1; i <= 11; i++) {
      const r = await table.commit([{ add: add(`f${i}`) }], {
        readSnapshot: await table.snapshot(),
        operation: 'WRITE',
      });
      assert.equal(r.checkpointError, undefined);
    }
    const names = (await store.list('_delta_log/'))
      .map((m) => m.path)
      .filter((p) => p.includes('checkpoint'));
    assert.deepEqual(names, [checkpointFile(10), '_delta_log/_last_checkpoint']);
  });

  test('reads complete multi-part checkpoints and ignores incomplete ones', async () => {
    const { store, dir, cleanup } = await tempStore();
    try {
      const table = await DeltaTable.create(store, {
        schema: SCHEMA,
        configuration: { 'delta.checkpointInterval': '1000' },
      });
      for (let i = 1; i <= 4; i++) {
        await table.commit([{ add: add(`f${i}`) }], {
          readSnapshot: await table.snapshot(),
          operation: 'WRITE',
        });
      }
      // Split our own single-file checkpoint of version 4 into two parts, by row kind.
      await table.checkpoint();
      const single = join(dir, '_delta_log', '00000000000000000004.checkpoint.parquet');
      const part = (o: number, n: number) =>
        join(
          dir,
          '_delta_log',
          `00000000000000000004.checkpoint.${String(o).padStart(10, '0')}.${String(n).padStart(10, '0')}.parquet`,
        );
      const conn = await connect();
      await conn.run(
        `COPY (SELECT * FROM read_parquet('${single}') WHERE "add" IS NULL) TO '${part(1, 2)}' (FORMAT parquet)`,
      );
      await conn.run(
        `COPY (SELECT * FROM read_parquet('${single}') WHERE "add" IS NOT NULL) TO '${part(2, 2)}' (FORMAT parquet)`,
      );
      // An incomplete 3-part set of version 3 with garbage content: must be ignored.
      await writeFile(part(1, 3).replace('004.checkpoint', '003.checkpoint'), 'garbage');
      conn.closeSync();
      await rm(single);
      for (let v = 0; v < 4; v++) await store.delete(`_delta_log/${String(v).padStart(20, '0')}.json`);
      const snap = await (await DeltaTable.open(store)).snapshot();
      assert.equal(snap.version, 4);
      assert.deepEqual(
        snap.files().map((f) => f.path),
        ['f1', 'f2', 'f3', 'f4'],
      );
    } finally {
      await cleanup();
    }
  });

  test('reads checkpoints of other writers: extra columns and structs, missing optional columns', async () => {
    const { store, dir, cleanup } = await tempStore();
    try {
      const conn = await connect();
      const meta = `{'id': 'abc', 'name': NULL, 'description': NULL, 'format': {'provider': 'parquet', 'options': MAP {}::MAP(VARCHAR, VARCHAR)}, 'schemaString': '${JSON.stringify(SCHEMA)}', 'partitionColumns': ['day'], 'createdTime': 1::BIGINT, 'configuration': MAP {'delta.checkpointInterval': '3'}}`;
      const addStruct = (p: string) =>
        `{'path': '${p}', 'partitionValues': MAP {'day': '1'}, 'size': 10::BIGINT, 'modificationTime': 2::BIGINT, 'dataChange': false, 'stats': '{"numRecords":1}', 'tags': NULL::MAP(VARCHAR, VARCHAR), 'deletionVector': NULL::STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, "offset" INTEGER, sizeInBytes INTEGER, cardinality BIGINT), 'partitionValues_parsed': {'day': '1'}, 'stats_parsed': {'numRecords': 1::BIGINT, 'minValues': {'id': 4::BIGINT}}}`;
      const sql = `COPY (
        SELECT * FROM (VALUES
          ({'minReaderVersion': 1, 'minWriterVersion': 2}, NULL, NULL, NULL),
          (NULL, ${meta}, NULL, NULL),
          (NULL, NULL, ${addStruct('day=1/x.parquet')}, NULL),
          (NULL, NULL, ${addStruct('day=1/y.parquet')}, NULL),
          (NULL, NULL, NULL, {'domain': 'd', 'configuration': '{}', 'removed': false})
        ) t(protocol, metaData, "add", domainMetadata)
      ) TO '${join(dir, '_delta_log', '00000000000000000003.checkpoint.parquet')}' (FORMAT parquet)`;
      await putCommit(store, 3, [{ commitInfo: { timestamp: 42, operation: 'WRITE' } }]);
      await conn.run(sql);
      conn.closeSync();
      await putCommit(store, 4, [{ add: add('day=1/z.parquet', { day: '1' }) }]);
      const snap = await (await DeltaTable.open(store)).snapshot();
      assert.equal(snap.version, 4);
      assert.deepEqual(
        snap.files().map((f) => [f.path, f.partitionValues, f.stats ?? null]),
        [
          ['day=1/x.parquet', { day: '1' }, '{"numRecords":1}'],
          ['day=1/y.parquet', { day: '1' }, '{"numRecords":1}'],
          ['day=1/z.parquet', { day: '1' }, null],
        ],
      );
      assert.equal(snap.config.checkpointInterval, 3);
      assert.equal((await (await DeltaTable.open(store)).snapshot({ version: 3 })).timestamp, 42);
      assert.ok(
        (await readFile(join(dir, '_delta_log', '00000000000000000003.checkpoint.parquet'))).length > 0,
      );
    } finally {
      await cleanup();
    }
  });
});
