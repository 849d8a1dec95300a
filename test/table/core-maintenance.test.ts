import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import type { Action } from '../../src/table/actions.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { add, commitFile, remove, SCHEMA } from './core-helpers.ts';

const DAY = 86_400_000;
const bytes = new Uint8Array([1, 2, 3]);

describe('vacuum', () => {
  test('deletes unreferenced files older than the retention; keeps the log, hidden dirs and recent files', async () => {
    const clock = new ManualClock(100 * DAY);
    const store = new MemoryStore({ clock });
    const table = await DeltaTable.create(store, { schema: SCHEMA, partitionColumns: ['day'] }, { clock });
    const write = async (actions: Action[]) =>
      table.commit(actions, { readSnapshot: await table.snapshot(), operation: 'WRITE', readScope: 'all' });
    for (const p of [
      'day=1/active',
      'day=1/removed-old',
      'day=1/removed-new',
      'day=1/orphan-old',
      '_tmp/x',
      '.hidden/y',
      'day=a%3Ab/f',
    ]) {
      await store.put(p, bytes);
    }
    await write([
      { add: add('day=1/active', { day: '1' }) },
      { add: add('day=1/removed-old', { day: '1' }) },
      { add: add('day=1/removed-new', { day: '1' }) },
      // The path in the log is the URI encoding of the directory name (a:b -> a%3Ab -> a%253Ab).
      { add: add('day=a%253Ab/f', { day: 'a:b' }) },
    ]);
    await write([{ remove: remove('day=1/removed-old', clock.now()) }]);
    clock.advance(8 * DAY);
    await write([{ remove: remove('day=1/removed-new', clock.now()) }]);
    await store.put('day=1/orphan-new', bytes);

    const dry = await table.vacuum({ dryRun: true });
    assert.deepEqual(dry.deleted.sort(), ['day=1/orphan-old', 'day=1/removed-old']);
    assert.ok((await store.list('day=1/')).length === 5);
    const real = await table.vacuum();
    assert.deepEqual(real.deleted.sort(), ['day=1/orphan-old', 'day=1/removed-old']);
    assert.deepEqual(
      (await store.list('')).map((m) => m.path).filter((p) => !p.startsWith('_delta_log/')),
      ['.hidden/y', '_tmp/x', 'day=1/active', 'day=1/orphan-new', 'day=1/removed-new', 'day=a%3Ab/f'],
    );
    clock.advance(1);
    const all = await table.vacuum({ retentionMs: 0 });
    assert.deepEqual(all.deleted.sort(), ['day=1/orphan-new', 'day=1/removed-new']);
    assert.equal((await store.list('_delta_log/')).length, 4);
  });

  test('honours delta.deletedFileRetentionDuration and partition columns starting with _', async () => {
    const clock = new ManualClock(10 * DAY);
    const store = new MemoryStore({ clock });
    const schema = {
      ...SCHEMA,
      fields: [...SCHEMA.fields, { name: '_p', type: 'string' as const, nullable: true, metadata: {} }],
    };
    const table = await DeltaTable.create(
      store,
      {
        schema,
        partitionColumns: ['_p'],
        configuration: { 'delta.deletedFileRetentionDuration': 'interval 2 hours' },
      },
      { clock },
    );
    await store.put('_p=1/orphan', bytes);
    clock.advance(1 * 3_600_000);
    assert.deepEqual((await table.vacuum()).deleted, []);
    clock.advance(2 * 3_600_000);
    assert.deepEqual((await table.vacuum()).deleted, ['_p=1/orphan']);
  });
});

describe('log clean-up', () => {
  async function oldTable(configuration: Record<string, string>) {
    const clock = new ManualClock(1_000 * DAY);
    const store = new MemoryStore({ clock });
    const table = await DeltaTable.create(store, { schema: SCHEMA, configuration }, { clock });
    for (let i = 1; i <= 12; i++) {
      clock.advance(1_000);
      await table.commit([{ add: add(`f${i}`) }], {
        readSnapshot: await table.snapshot(),
        operation: 'WRITE',
      });
    }
    return { clock, store, table };
  }

  test('deletes commits and checkpoints older than the retention behind the newest old checkpoint', async () => {
    const { clock, store, table } = await oldTable({ 'delta.checkpointInterval': '5' });
    assert.deepEqual((await table.cleanupLog()).deleted, []); // nothing is 30 days old yet
    clock.advance(31 * DAY);
    for (let i = 13; i <= 16; i++) {
      await table.commit([{ add: add(`f${i}`) }], {
        readSnapshot: await table.snapshot(),
        operation: 'WRITE',
      });
    }
    const { deleted } = await table.cleanupLog();
    const expected = [
      ...Array.from({ length: 10 }, (_, v) => commitFile(v)),
      '_delta_log/00000000000000000005.checkpoint.parquet',
    ].sort();
    assert.deepEqual(deleted, expected);
    // The checkpoint at 10 and its commit survive; the commits at 15 and 16 are too young.
    const left = (await store.list('_delta_log/')).map((m) => m.path);
    assert.ok(
      left.includes(commitFile(10)) && left.includes('_delta_log/00000000000000000010.checkpoint.parquet'),
    );
    const fresh = await DeltaTable.open(store, { clock });
    assert.equal((await fresh.snapshot()).files().length, 16);
    assert.equal((await fresh.snapshot({ version: 10 })).files().length, 10);
  });

  test('deletes nothing without a checkpoint behind the cut-off, or when disabled', async () => {
    const noCheckpoint = await oldTable({ 'delta.checkpointInterval': '50' });
    noCheckpoint.clock.advance(60 * DAY);
    assert.deepEqual((await noCheckpoint.table.cleanupLog()).deleted, []);
    const disabled = await oldTable({
      'delta.checkpointInterval': '5',
      'delta.enableExpiredLogCleanup': 'false',
    });
    disabled.clock.advance(60 * DAY);
    assert.deepEqual((await disabled.table.cleanupLog()).deleted, []);
  });
});
