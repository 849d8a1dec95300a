import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import type { Action } from '../../src/table/actions.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { add, remove, SCHEMA } from './core-helpers.ts';

const code = (c: string, re?: RegExp) => (err: unknown) =>
  isTributaryError(err) && err.code === c && (re === undefined || re.test(err.message));

/** Version v (1..n) adds file f<v> at time 1000 * (v + 1); version 0 is at 1000. */
async function timedTable(n: number, configuration: Record<string, string> = {}) {
  const clock = new ManualClock(1_000);
  const store = new MemoryStore({ clock });
  const table = await DeltaTable.create(store, { schema: SCHEMA, configuration }, { clock });
  for (let v = 1; v <= n; v++) {
    clock.set(1_000 * (v + 1));
    const actions: Action[] = [{ add: add(`f${v}`) }];
    if (v === 3) actions.push({ remove: remove('f1', clock.now()) });
    await table.commit(actions, { readSnapshot: await table.snapshot(), operation: 'WRITE' });
  }
  return { clock, store, table };
}

const paths = (s: { files(): { path: string }[] }) => s.files().map((f) => f.path);

describe('time travel', () => {
  test('by version', async () => {
    const { table } = await timedTable(5);
    assert.deepEqual(paths(await table.snapshot({ version: 0 })), []);
    assert.deepEqual(paths(await table.snapshot({ version: 2 })), ['f1', 'f2']);
    assert.deepEqual(paths(await table.snapshot({ version: 3 })), ['f2', 'f3']);
    const v4 = await table.snapshot({ version: 4 });
    assert.equal(v4.version, 4);
    assert.equal(v4.timestamp, 5_000);
    assert.equal((await table.snapshot()).version, 5);
    // Older versions still load after the latest one was cached.
    assert.deepEqual(paths(await table.snapshot({ version: 1 })), ['f1']);
  });

  test('a version that does not exist names the available range', async () => {
    const { table } = await timedTable(3);
    await assert.rejects(table.snapshot({ version: 4 }), code('TABLE_VERSION_NOT_FOUND', /versions 0 to 3/));
    await assert.rejects(table.snapshot({ version: -1 }), code('TABLE_VERSION_NOT_FOUND'));
    await assert.rejects(table.snapshot({ version: 1.5 }), code('TABLE_VERSION_NOT_FOUND'));
  });

  test('by timestamp: the last version committed at or before it', async () => {
    const { table, clock } = await timedTable(40);
    assert.equal((await table.snapshot({ timestamp: 1_000 })).version, 0);
    assert.equal((await table.snapshot({ timestamp: 2_999 })).version, 1);
    assert.equal((await table.snapshot({ timestamp: 3_000 })).version, 2);
    assert.equal((await table.snapshot({ timestamp: 27_500 })).version, 26);
    assert.equal((await table.snapshot({ timestamp: 41_000 })).version, 40);
    clock.advance(60_000);
    assert.equal((await table.snapshot({ timestamp: clock.now() })).version, 40);
    await assert.rejects(
      table.snapshot({ timestamp: 999 }),
      code('TABLE_VERSION_NOT_FOUND', /before the earliest/),
    );
    await assert.rejects(
      table.snapshot({ timestamp: clock.now() + 1 }),
      code('TABLE_VERSION_NOT_FOUND', /future/),
    );
  });

  test('with checkpoints, after log clean-up removed the oldest versions', async () => {
    const { table, clock } = await timedTable(12, {
      'delta.checkpointInterval': '5',
      'delta.logRetentionDuration': 'interval 1 day',
    });
    clock.advance(3 * 86_400_000);
    const { deleted } = await table.cleanupLog();
    assert.ok(deleted.length > 0);
    assert.deepEqual(paths(await table.snapshot({ version: 10 })), [
      'f10',
      'f2',
      'f3',
      'f4',
      'f5',
      'f6',
      'f7',
      'f8',
      'f9',
    ]);
    assert.deepEqual(paths(await table.snapshot({ version: 11 })).length, 10);
    await assert.rejects(
      table.snapshot({ version: 9 }),
      code('TABLE_VERSION_NOT_FOUND', /versions 10 to 12 can be read \(older ones were removed/),
    );
    assert.equal((await table.snapshot({ timestamp: 12_500 })).version, 11);
    await assert.rejects(table.snapshot({ timestamp: 5_000 }), code('TABLE_VERSION_NOT_FOUND', /earliest/));
    assert.deepEqual(
      (await table.history()).map((h) => h.version),
      [12, 11, 10],
    );
  });
});
