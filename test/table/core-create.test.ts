import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import type { DataType, StructField, StructType } from '../../src/table/schema.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { SCHEMA } from './core-helpers.ts';

const code = (c: string) => (err: unknown) => isTributaryError(err) && err.code === c;

async function commitLines(
  store: MemoryStore,
  v: number,
): Promise<Record<string, Record<string, unknown>>[]> {
  const bytes = await store.get(`_delta_log/${String(v).padStart(20, '0')}.json`);
  return new TextDecoder()
    .decode(bytes)
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('DeltaTable.create', () => {
  test('writes version 0 with protocol 1/2, metaData and a CREATE TABLE commitInfo', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(1_750_000_000_000);
    await DeltaTable.create(
      store,
      {
        schema: SCHEMA,
        partitionColumns: ['day'],
        configuration: { 'delta.appendOnly': 'false' },
        name: 'orders',
      },
      { clock },
    );
    const lines = await commitLines(store, 0);
    const byKey = Object.fromEntries(lines.map((l) => [Object.keys(l)[0], Object.values(l)[0]]));
    assert.deepEqual(byKey.protocol, { minReaderVersion: 1, minWriterVersion: 2 });
    assert.match(String(byKey.metaData.id), /^[0-9a-f-]{36}$/);
    assert.equal(byKey.metaData.name, 'orders');
    assert.deepEqual(byKey.metaData.format, { provider: 'parquet', options: {} });
    assert.deepEqual(JSON.parse(String(byKey.metaData.schemaString)), SCHEMA);
    assert.deepEqual(byKey.metaData.partitionColumns, ['day']);
    assert.deepEqual(byKey.metaData.configuration, { 'delta.appendOnly': 'false' });
    assert.equal(byKey.metaData.createdTime, 1_750_000_000_000);
    assert.equal(byKey.commitInfo.operation, 'CREATE TABLE');
    assert.equal(byKey.commitInfo.timestamp, 1_750_000_000_000);
  });

  test('open reads the created table; exists tells tables from empty locations', async () => {
    const store = new MemoryStore();
    assert.equal(await DeltaTable.exists(store), false);
    await assert.rejects(DeltaTable.open(store), code('TABLE_NOT_FOUND'));
    await DeltaTable.create(store, { schema: SCHEMA });
    assert.equal(await DeltaTable.exists(store), true);
    const snap = await (await DeltaTable.open(store)).snapshot();
    assert.equal(snap.version, 0);
    assert.deepEqual(snap.schema, SCHEMA);
    assert.deepEqual(snap.files(), []);
    assert.equal(snap.config.checkpointInterval, 10);
    assert.equal(snap.config.logRetentionMs, 30 * 86_400_000);
    assert.equal(snap.config.deletedFileRetentionMs, 7 * 86_400_000);
  });

  test('refuses to create over an existing table, also when two creators race', async () => {
    const store = new MemoryStore();
    const results = await Promise.allSettled([
      DeltaTable.create(store, { schema: SCHEMA }),
      DeltaTable.create(store, { schema: SCHEMA }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.ok(code('TABLE_ALREADY_EXISTS')(failed.reason));
    await assert.rejects(DeltaTable.create(store, { schema: SCHEMA }), code('TABLE_ALREADY_EXISTS'));
  });

  test('validates column names, types and partition columns', async () => {
    const field = (name: string, type: DataType = 'string'): StructField => ({
      name,
      type,
      nullable: true,
      metadata: {},
    });
    const bad: Array<[StructType, string[]]> = [
      [{ type: 'struct', fields: [field('a'), field('A')] }, []],
      [{ type: 'struct', fields: [field('a b')] }, []],
      [{ type: 'struct', fields: [field('x=1')] }, []],
      [{ type: 'struct', fields: [field('s', { type: 'struct', fields: [field('q'), field('Q')] })] }, []],
      [{ type: 'struct', fields: [field('a', 'varchar' as DataType)] }, []],
      [{ type: 'struct', fields: [field('a', 'decimal(40,2)')] }, []],
      [{ type: 'struct', fields: [field('a'), field('b')] }, ['c']],
      [
        {
          type: 'struct',
          fields: [field('a'), field('b', { type: 'array', elementType: 'string', containsNull: true })],
        },
        ['b'],
      ],
      [{ type: 'struct', fields: [field('a')] }, ['a']],
      [{ type: 'struct', fields: [] }, []],
    ];
    for (const [schema, partitionColumns] of bad) {
      await assert.rejects(
        DeltaTable.create(new MemoryStore(), { schema, partitionColumns }),
        code('TABLE_INVALID_SCHEMA'),
        JSON.stringify(schema),
      );
    }
    const ok = await DeltaTable.create(new MemoryStore(), {
      schema: {
        type: 'struct',
        fields: [
          field('amount', 'decimal(10,2)'),
          field('m', { type: 'map', keyType: 'string', valueType: 'long', valueContainsNull: true }),
        ],
      },
    });
    assert.equal((await ok.snapshot()).version, 0);
  });

  test('refuses table properties that need a newer protocol, and bad property values', async () => {
    await assert.rejects(
      DeltaTable.create(new MemoryStore(), {
        schema: SCHEMA,
        configuration: { 'delta.enableDeletionVectors': 'true' },
      }),
      code('TABLE_UNSUPPORTED_PROTOCOL'),
    );
    await assert.rejects(
      DeltaTable.create(new MemoryStore(), {
        schema: SCHEMA,
        configuration: { 'delta.checkpointInterval': '0' },
      }),
      code('CONFIG_INVALID'),
    );
    await assert.rejects(
      DeltaTable.create(new MemoryStore(), {
        schema: SCHEMA,
        configuration: { 'delta.logRetentionDuration': 'interval 1 month' },
      }),
      code('CONFIG_INVALID'),
    );
  });
});
