/**
 * Checkpoints, VACUUM, log clean-up and snapshot loading when storage answers
 * ambiguously or lists stale (FaultyStore over a LocalStore): `_last_checkpoint` never
 * leads a reader astray, VACUUM never deletes a file a landed commit references, and
 * delta-rs reads what Tributary reads.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import { FaultyStore } from '../../src/storage/faulty.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append } from '../../src/table/ops/append.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import type { StructType } from '../../src/table/schema.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { deltaRsRead, pythonSkip } from '../interop/helpers.ts';
import { field, tempDir } from './data-helpers.ts';

const SCHEMA: StructType = { type: 'struct', fields: [field('id', 'long', false)] };
const DAY = 86_400_000;
const CHECKPOINT = /\.checkpoint\.parquet$/;
const LAST = '_delta_log/_last_checkpoint';
const pySkip = pythonSkip();
const dec = new TextDecoder();

async function setup(dir: string, configuration: Record<string, string> = {}) {
  const local = new LocalStore(dir);
  const faulty = new FaultyStore(local, { seed: 3 });
  const clock = new ManualClock(Date.now() + 10 * DAY);
  const ctx = { clock, outcomeCheck: { sleep: async () => {} } };
  await DeltaTable.create(faulty, { schema: SCHEMA, configuration }, ctx);
  const table = await DeltaTable.open(faulty, ctx);
  let next = 0;
  const add = async (n = 2) => {
    const rows = Array.from({ length: n }, () => ({ id: next++ }));
    return append(table, { rows });
  };
  return { local, faulty, table, clock, ctx, add, ids: () => Array.from({ length: next }, (_, i) => i) };
}

/** Version and ids as a fresh reader sees them: Tributary through `store`, and delta-rs. */
async function readBoth(dir: string, store: LocalStore | FaultyStore) {
  const t = await DeltaTable.open(store);
  const snap = await t.snapshot();
  const ids = (await readRows(t, snap, { orderBy: 'id' })).map((r) => Number(r.id));
  if (!pySkip) {
    const rs = await deltaRsRead(dir);
    assert.equal(rs.version, snap.version, 'delta-rs version');
    assert.deepEqual(
      rs.rows.map((r) => Number(r.id)).sort((a, b) => a - b),
      ids,
      'delta-rs rows',
    );
  }
  return { version: snap.version, ids };
}

async function lastCheckpoint(local: LocalStore): Promise<number | undefined> {
  try {
    return JSON.parse(dec.decode(await local.get(LAST))).version;
  } catch {
    return undefined;
  }
}

describe('maintenance under ambiguous storage answers', () => {
  const tmp = tempDir('tributary-maint-faults-');
  after(() => tmp.cleanup());
  let n = 0;
  const dir = () => `${tmp.dir}/t${++n}`;

  for (const fault of ['error-before', 'error-after', 'hang'] as const) {
    test(`a checkpoint put that fails (${fault}) leaves _last_checkpoint where it was`, async () => {
      const d = dir();
      const { local, faulty, table, add, ids } = await setup(d);
      await add();
      await table.checkpoint();
      assert.equal(await lastCheckpoint(local), 1);
      await add();
      faulty.rules = [{ fault, calls: ['put'], path: CHECKPOINT, nth: [1], landAfterCalls: Infinity }];
      await assert.rejects(table.checkpoint(), (e) => isTributaryError(e, 'STORAGE_IO'));
      assert.equal(await lastCheckpoint(local), 1);
      faulty.enabled = false;
      assert.deepEqual(await readBoth(d, local), { version: 2, ids: ids() });
      await faulty.settle(); // the held checkpoint lands late: whole, and still a valid checkpoint
      assert.deepEqual(await readBoth(d, local), { version: 2, ids: ids() });
    });
  }

  test('an automatic checkpoint that fails does not undo its commit', async () => {
    const d = dir();
    const { local, faulty, add, ids } = await setup(d, { 'delta.checkpointInterval': '2' });
    await add();
    faulty.rules = [{ fault: 'error-before', calls: ['put'], path: CHECKPOINT }];
    const res = (await add()) as { version: number; checkpointError?: Error };
    assert.equal(res.version, 2);
    assert.ok(isTributaryError(res.checkpointError, 'STORAGE_IO'), String(res.checkpointError));
    faulty.enabled = false;
    assert.equal(await lastCheckpoint(local), undefined);
    assert.deepEqual(await readBoth(d, local), { version: 2, ids: ids() });
  });

  test('_last_checkpoint moved back by a late write, its checkpoint removed by log clean-up: readers still read', async () => {
    const d = dir();
    const cfg = { 'delta.checkpointInterval': '1000', 'delta.logRetentionDuration': 'interval 1 day' };
    const { local, faulty, table, add, ids } = await setup(d, cfg);
    await add();
    await add();
    // The hint for checkpoint 2 hangs and lands only after checkpoint 4 and its hint.
    faulty.rules = [{ fault: 'hang', calls: ['put'], path: LAST, nth: [1], landAfterCalls: Infinity }];
    await assert.rejects(table.checkpoint(), (e) => isTributaryError(e, 'STORAGE_IO'));
    await add();
    await add();
    await table.checkpoint();
    assert.equal(await lastCheckpoint(local), 4);
    assert.ok(
      (await table.cleanupLog()).deleted.includes('_delta_log/00000000000000000002.checkpoint.parquet'),
    );
    await faulty.settle();
    assert.equal(await lastCheckpoint(local), 2); // moved backwards, to a checkpoint that is gone
    faulty.enabled = false;
    assert.deepEqual(await readBoth(d, local), { version: 4, ids: ids() });
  });

  test('a listing that misses the newest commit: a fresh reader still sees it, and VACUUM keeps its files', async () => {
    const d = dir();
    const { local, faulty, ctx, add, ids } = await setup(d);
    await add();
    await add();
    faulty.rules = [{ name: 'stale', fault: 'stale-list', path: '_delta_log/' }];
    const fresh = await DeltaTable.open(faulty, ctx);
    assert.equal((await fresh.snapshot()).version, 2);
    const vac = await (await DeltaTable.open(faulty, ctx)).vacuum({ retentionMs: 0 });
    assert.deepEqual(vac.deleted, []);
    assert.ok(faulty.count('stale-list') >= 2);
    faulty.enabled = false;
    assert.deepEqual(await readBoth(d, local), { version: 2, ids: ids() });
  });

  test('a listing that misses version 0 of a new table still finds the table', async () => {
    const { faulty, ctx } = await setup(dir());
    faulty.rules = [{ fault: 'stale-list', path: '_delta_log/' }];
    assert.equal((await (await DeltaTable.open(faulty, ctx)).snapshot()).version, 0);
  });

  test('a listing that misses the hinted checkpoint after log clean-up: read through the hint', async () => {
    const d = dir();
    const cfg = { 'delta.checkpointInterval': '1000', 'delta.logRetentionDuration': 'interval 1 day' };
    const { local, faulty, table, ctx, add, ids } = await setup(d, cfg);
    for (let i = 0; i < 4; i++) await add();
    await table.checkpoint();
    await table.cleanupLog();
    await add(1);
    // Hides the newest three: commit 5 (found by reading on), checkpoint 4 and
    // _last_checkpoint or commit 4; commits 0-3 are gone.
    faulty.rules = [{ fault: 'stale-list', path: '_delta_log/', hide: 3 }];
    const snap = await (await DeltaTable.open(faulty, ctx)).snapshot();
    assert.equal(snap.version, 5);
    assert.equal(snap.files().length, 5);
    assert.ok(faulty.fired[0].hidden?.some((p) => CHECKPOINT.test(p)));
    faulty.enabled = false;
    assert.deepEqual(await readBoth(d, local), { version: 5, ids: ids() });
  });
});
