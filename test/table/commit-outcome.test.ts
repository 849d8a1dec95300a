/**
 * Commits whose outcome is checked, never guessed (src/table/commit.ts): storage that
 * fails around the put-if-absent of `_delta_log/N.json`, through FaultyStore over a real
 * LocalStore. Each test checks what a user relies on: the rows in the table (read by
 * Tributary and, where Python is there, by delta-rs), the txn version, and that no file
 * the log references is missing.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import { FaultyStore } from '../../src/storage/faulty.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, overwrite } from '../../src/table/ops/append.ts';
import { merge } from '../../src/table/ops/merge.ts';
import { optimize } from '../../src/table/ops/optimize.ts';
import { deleteWhere, update } from '../../src/table/ops/rewrite-where.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import type { StructType } from '../../src/table/schema.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { deltaRsRead, pythonSkip } from '../interop/helpers.ts';
import { field, tempDir } from './data-helpers.ts';

const SCHEMA: StructType = { type: 'struct', fields: [field('id', 'long', false), field('v', 'string')] };
const LOG = /^_delta_log\/\d{20}\.json$/;
const noWait = async () => {};
const pySkip = pythonSkip();

const rows = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => ({ id: from + i, v: `r${from + i}` }));

async function setup(dir: string) {
  const local = new LocalStore(dir);
  const faulty = new FaultyStore(local, { seed: 7 });
  const clock = new ManualClock(Date.now());
  const ctx = { clock, outcomeCheck: { sleep: noWait } };
  await DeltaTable.create(faulty, { schema: SCHEMA }, ctx);
  const table = await DeltaTable.open(faulty, ctx);
  return { local, faulty, table, clock, ctx };
}

/** The table as a fresh reader sees it, without faults: ids in order, and the txn version. */
async function look(local: LocalStore, appId = 'app') {
  const t = await DeltaTable.open(local);
  const snap = await t.snapshot();
  const ids = (await readRows(t, snap, { orderBy: 'id' })).map((r) => Number(r.id));
  return { version: snap.version, ids, txn: snap.txnVersion(appId) };
}

async function dataFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.parquet')).sort();
}

describe('commit outcome under ambiguous storage answers', () => {
  const tmp = tempDir('tributary-outcome-');
  after(() => tmp.cleanup());
  let n = 0;
  const dir = () => `${tmp.dir}/t${++n}`;

  test('issue 8 reproduction: put-if-absent writes then throws STORAGE_IO during an append with txn', async () => {
    const d = dir();
    const { local, faulty, table } = await setup(d);
    await append(table, { rows: rows(0, 3) }, { txn: [{ appId: 'app', version: 0 }] });
    faulty.rules = [
      { name: 'lost answer', fault: 'error-after', calls: ['putIfAbsent'], path: LOG, nth: [1] },
    ];
    // Before the fix: STORAGE_IO, the files deleted, version 2 referencing them: the
    // table unreadable, and a pipeline reading txn=1 would skip the batch for good.
    const res = await append(table, { rows: rows(3, 6) }, { txn: [{ appId: 'app', version: 1 }] }).catch(
      (err: unknown) => err,
    );
    assert.deepEqual(
      faulty.fired.map((f) => [f.rule, f.landed]),
      [['lost answer', true]],
    );
    // What a user relies on first: the table reads, with the batch in exactly once
    // (before the fix: TABLE_MISSING_FILE here, with txn already at 1).
    const seen = await look(local);
    assert.deepEqual(seen, { version: 2, ids: [0, 1, 2, 3, 4, 5], txn: 1 });
    // And the append said so.
    assert.equal((res as { version?: number }).version, 2, String(res));
    if (!pySkip) {
      const rs = await deltaRsRead(d);
      assert.equal(rs.version, 2);
      assert.deepEqual(
        rs.rows.map((r) => Number(r.id)).sort((a, b) => a - b),
        seen.ids,
      );
    }
  });

  const ops: Array<[string, (t: DeltaTable) => Promise<unknown>, number[], number?]> = [
    [
      'append with txnBeforeCommit',
      (t) => append(t, { rows: rows(5, 6) }, { txnBeforeCommit: async () => [{ appId: 'app', version: 9 }] }),
      [0, 1, 2, 5],
      9,
    ],
    ['overwrite', (t) => overwrite(t, { rows: rows(10, 12) }), [10, 11]],
    ['MERGE', (t) => merge(t, { rows: rows(2, 5) }, { on: ['id'] }), [0, 1, 2, 3, 4]],
    ['UPDATE', (t) => update(t, { where: 'id = 1', set: { id: '7' } }), [0, 2, 7]],
    ['DELETE', (t) => deleteWhere(t, 'id = 1'), [0, 2]],
    ['OPTIMIZE', (t) => optimize(t), [0, 1, 2]],
  ];
  for (const [name, run, want, txn] of ops) {
    test(`${name} whose commit lands but answers with an error keeps its files and reports success`, async () => {
      const { local, faulty, table } = await setup(dir());
      await append(table, { rows: rows(0, 2) });
      await append(table, { rows: rows(2, 3) });
      faulty.rules = [{ fault: 'error-after', calls: ['putIfAbsent'], path: LOG, nth: [1] }];
      const res = (await run(table).catch((err: unknown) => err)) as { version?: number };
      assert.equal(faulty.count(), 1);
      assert.deepEqual(await look(local), { version: 3, ids: want, txn });
      assert.equal(res.version, 3, String(res));
    });
  }

  test('a put that hangs past its timeout and lands later is recognised as ours', async () => {
    const { local, faulty, table } = await setup(dir());
    faulty.rules = [{ fault: 'hang', calls: ['putIfAbsent'], path: LOG, nth: [1], landAfterCalls: 1 }];
    // The read-back just after the timeout misses it; the retried put finds it there
    // (already exists) and the commit there carries our txnId.
    const res = await append(table, { rows: rows(0, 4) }, { txn: [{ appId: 'app', version: 0 }] });
    assert.equal(res.version, 1);
    assert.equal(faulty.fired[0].landed, true);
    assert.deepEqual(await look(local), { version: 1, ids: [0, 1, 2, 3], txn: 0 });
  });

  test('a read-back that keeps failing: TABLE_COMMIT_OUTCOME_UNKNOWN, the files are kept and the commit stands', async () => {
    const d = dir();
    const { local, faulty, table } = await setup(d);
    faulty.rules = [
      { name: 'put', fault: 'error-after', calls: ['putIfAbsent'], path: LOG, nth: [1] },
      { fault: 'error-before', calls: ['get'], path: LOG, after: 'put' },
    ];
    const err = await append(table, { rows: rows(0, 2) }, { txn: [{ appId: 'app', version: 0 }] }).then(
      () => assert.fail('expected the outcome to be unknown'),
      (e: unknown) => e,
    );
    assert.ok(isTributaryError(err, 'TABLE_COMMIT_OUTCOME_UNKNOWN'), String(err));
    assert.equal(err.retryable, true);
    assert.equal(err.details.version, 1);
    assert.match(err.message, /kept/);
    // It did land: the table is whole, the txn says the batch is in.
    faulty.enabled = false;
    assert.deepEqual(await look(local), { version: 1, ids: [0, 1], txn: 0 });
    const history = await (await DeltaTable.open(local)).history({ limit: 1 });
    assert.equal(history[0].txnId, err.details.txnId);
  });

  test('puts that keep failing before the write: outcome unknown, files kept for VACUUM, nothing committed', async () => {
    const d = dir();
    const { local, faulty, table, clock } = await setup(d);
    faulty.rules = [{ fault: 'error-before', calls: ['putIfAbsent'], path: LOG }];
    await assert.rejects(append(table, { rows: rows(0, 2) }), (e) =>
      isTributaryError(e, 'TABLE_COMMIT_OUTCOME_UNKNOWN'),
    );
    assert.equal(faulty.count('error-before'), 5); // bounded: 5 puts, each read back
    faulty.enabled = false;
    assert.deepEqual(await look(local), { version: 0, ids: [], txn: undefined });
    assert.equal((await dataFiles(d)).length, 1); // kept: a write in flight could still land
    clock.advance(8 * 86_400_000);
    const t = await DeltaTable.open(local, { clock });
    assert.equal((await t.vacuum()).deleted.length, 1);
  });

  test('a put the store refuses (nothing written) fails with its error, and the files are deleted', async () => {
    const d = dir();
    const { local, table } = await setup(d);
    // A directory where commit 1 must go: LocalStore refuses with STORAGE_INVALID_PATH.
    await mkdir(`${d}/_delta_log/00000000000000000001.json`);
    await assert.rejects(append(table, { rows: rows(0, 2) }), (e) =>
      isTributaryError(e, 'STORAGE_INVALID_PATH'),
    );
    assert.deepEqual(await dataFiles(d), []);
    assert.deepEqual(await look(local), { version: 0, ids: [], txn: undefined });
  });

  test('after an ambiguous failure, another writer at that version is the normal conflict path', async () => {
    const { local, faulty, table } = await setup(dir());
    const other = await DeltaTable.open(local);
    const stale = await table.snapshot();
    await append(other, { rows: rows(100, 101) }); // version 1, by someone else
    faulty.rules = [{ fault: 'error-before', calls: ['putIfAbsent'], path: LOG, nth: [1] }];
    // Our snapshot is at 0: the put of 1 fails, the read-back finds the other writer's
    // commit, and the blind append moves on to version 2.
    const res = await table.commit([{ add: { ...fakeAdd('x.parquet') } }], {
      readSnapshot: stale,
      operation: 'WRITE',
    });
    assert.equal(res.version, 2);
    assert.equal(res.attempts, 2);
  });

  test('a read-back that fails is read again: the commit that landed is found', async () => {
    const { local, faulty, table } = await setup(dir());
    faulty.rules = [
      { name: 'put', fault: 'error-after', calls: ['putIfAbsent'], path: LOG, nth: [1] },
      { fault: 'hang', calls: ['get'], path: LOG, after: 'put', nth: [1, 2] },
    ];
    const res = await append(table, { rows: rows(0, 3) }, { txn: [{ appId: 'app', version: 4 }] });
    assert.equal(res.version, 1);
    assert.equal(faulty.count(), 3);
    assert.deepEqual(await look(local), { version: 1, ids: [0, 1, 2], txn: 4 });
  });

  test('every commit carries a unique txnId in commitInfo, shown by history', async () => {
    const { local, table } = await setup(dir());
    await append(table, { rows: rows(0, 1) });
    await append(table, { rows: rows(1, 2) });
    const h = await (await DeltaTable.open(local)).history();
    const ids = h.map((e) => e.txnId);
    assert.equal(ids.length, 3);
    for (const id of ids)
      assert.match(String(id), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(new Set(ids).size, 3);
  });

  test('CREATE TABLE whose put lands but fails is created, not "already exists"', async () => {
    const d = dir();
    const faulty = new FaultyStore(new LocalStore(d), {
      rules: [{ fault: 'error-after', calls: ['putIfAbsent'], path: LOG, nth: [1] }],
    });
    const t = await DeltaTable.create(faulty, { schema: SCHEMA }, { outcomeCheck: { sleep: noWait } });
    assert.equal((await t.snapshot()).version, 0);
    assert.equal(faulty.count(), 1);
    await assert.rejects(DeltaTable.create(faulty, { schema: SCHEMA }), (e) =>
      isTributaryError(e, 'TABLE_ALREADY_EXISTS'),
    );
  });
});

function fakeAdd(path: string) {
  return { path, partitionValues: {}, size: 1, modificationTime: 1, dataChange: true };
}
