import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { isTributaryError, type TributaryError } from '../../src/core/errors.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import type { Action } from '../../src/table/actions.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { add, remove, SCHEMA, tempStore } from './core-helpers.ts';

const code = (c: string, re?: RegExp) => (err: unknown) =>
  isTributaryError(err) && err.code === c && (re === undefined || re.test(err.message));

async function readCommit(store: MemoryStore, v: number): Promise<Record<string, Record<string, unknown>>> {
  const text = new TextDecoder().decode(await store.get(`_delta_log/${String(v).padStart(20, '0')}.json`));
  return Object.assign(
    {},
    ...text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
  );
}

describe('commit', () => {
  test('writes the actions with a commitInfo; timestamps strictly increase even if the clock does not', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(5_000);
    const table = await DeltaTable.create(store, { schema: SCHEMA, partitionColumns: ['day'] }, { clock });
    const r1 = await table.commit(
      [{ add: add('day=1/a', { day: '1' }) }, { txn: { appId: 'p0', version: 41 } }],
      {
        readSnapshot: await table.snapshot(),
        operation: 'STREAMING UPDATE',
        operationParameters: { outputMode: 'Append' },
        operationMetrics: { numOutputRows: 10 },
      },
    );
    assert.deepEqual(r1, { version: 1, attempts: 1 });
    clock.set(1_000); // the clock went backwards
    await table.commit([{ remove: remove('day=1/a', 1_000) }], {
      readSnapshot: await table.snapshot(),
      operation: 'DELETE',
    });
    const c1 = await readCommit(store, 1);
    assert.equal(c1.commitInfo.operation, 'STREAMING UPDATE');
    assert.deepEqual(c1.commitInfo.operationParameters, { outputMode: 'Append' });
    assert.deepEqual(c1.commitInfo.operationMetrics, { numOutputRows: 10 });
    assert.equal(c1.commitInfo.readVersion, 0);
    assert.equal(c1.commitInfo.isolationLevel, 'WriteSerializable');
    assert.equal(c1.commitInfo.isBlindAppend, true);
    assert.match(String(c1.commitInfo.engineInfo), /^tributary\//);
    assert.deepEqual(c1.txn, { appId: 'p0', version: 41 });
    const c2 = await readCommit(store, 2);
    assert.equal(c2.commitInfo.isBlindAppend, false);
    assert.equal(c1.commitInfo.timestamp, 5_001);
    assert.equal(c2.commitInfo.timestamp, 5_002);
    const history = await table.history();
    assert.deepEqual(
      history.map((h) => [h.version, h.operation, h.timestamp, h.readVersion]),
      [
        [2, 'DELETE', 5_002, 1],
        [1, 'STREAMING UPDATE', 5_001, 0],
        [0, 'CREATE TABLE', 5_000, undefined],
      ],
    );
    assert.equal((await table.history({ limit: 1 }))[0].version, 2);
  });

  test('refuses commits that break the one-action-per-thing rules or the partitioning', async () => {
    const table = await DeltaTable.create(new MemoryStore(), { schema: SCHEMA, partitionColumns: ['day'] });
    const snap = await table.snapshot();
    const bad: Action[][] = [
      [{ add: add('day=1/a', { day: '1' }) }, { remove: remove('day=1/a', 1) }],
      [{ txn: { appId: 'x', version: 1 } }, { txn: { appId: 'x', version: 2 } }],
      [{ metaData: snap.metadata }, { metaData: snap.metadata }],
      [{ commitInfo: { operation: 'X' } }],
      [{ add: add('a', {}) }],
      [{ add: add('a', { day: '1', other: '2' }) }],
      [{ protocol: { minReaderVersion: 1, minWriterVersion: 5 } }],
    ];
    for (const actions of bad) {
      await assert.rejects(
        table.commit(actions, { readSnapshot: snap, operation: 'WRITE' }),
        (err: unknown) => isTributaryError(err),
      );
    }
    assert.equal((await table.snapshot()).version, 0);
  });

  test('delta.appendOnly refuses removes that change data but allows compaction', async () => {
    const table = await DeltaTable.create(new MemoryStore(), {
      schema: SCHEMA,
      configuration: { 'delta.appendOnly': 'true' },
    });
    await table.commit([{ add: add('a') }], { readSnapshot: await table.snapshot(), operation: 'WRITE' });
    await assert.rejects(
      table.commit([{ remove: remove('a', 1) }], {
        readSnapshot: await table.snapshot(),
        operation: 'DELETE',
      }),
      code('TABLE_INVALID_ARGUMENT', /appendOnly/),
    );
    const r = await table.commit(
      [{ remove: remove('a', 1, { dataChange: false }) }, { add: add('b', {}, { dataChange: false }) }],
      {
        readSnapshot: await table.snapshot(),
        operation: 'OPTIMIZE',
      },
    );
    assert.equal(r.version, 2);
  });

  for (const kind of ['MemoryStore', 'LocalStore'] as const) {
    test(`concurrent in-process appenders on a ${kind}: every commit lands once, no version lost`, async () => {
      const tmp = kind === 'LocalStore' ? await tempStore() : undefined;
      const store = tmp?.store ?? new MemoryStore();
      try {
        await DeltaTable.create(store, { schema: SCHEMA });
        const writers = 6;
        const each = 8;
        const attempts = await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            const table = await DeltaTable.open(store);
            const used: number[] = [];
            for (let i = 0; i < each; i++) {
              const r = await table.commit(
                [{ add: add(`w${w}-${i}.parquet`) }, { txn: { appId: `w${w}`, version: i } }],
                {
                  readSnapshot: await table.snapshot(),
                  operation: 'WRITE',
                },
              );
              used.push(r.attempts);
            }
            return used;
          }),
        );
        const snap = await (await DeltaTable.open(store)).snapshot();
        assert.equal(snap.version, writers * each);
        assert.equal(snap.files().length, writers * each);
        for (let w = 0; w < writers; w++) assert.equal(snap.txnVersion(`w${w}`), each - 1);
        // The writers really raced: some commits needed more than one attempt.
        assert.ok(attempts.flat().some((a) => a > 1));
      } finally {
        await tmp?.cleanup();
      }
    });
  }
});

describe('conflicts', () => {
  /** A table with files in partitions day=1 and day=2, and a snapshot read before a winner commits. */
  async function race(winner: Action[], winnerOp = 'WRITE', winnerScope?: 'none' | 'all') {
    const store = new MemoryStore();
    const table = await DeltaTable.create(store, { schema: SCHEMA, partitionColumns: ['day'] });
    await table.commit(
      [
        { add: add('day=1/a', { day: '1' }) },
        { add: add('day=1/b', { day: '1' }) },
        { add: add('day=2/c', { day: '2' }) },
      ],
      { readSnapshot: await table.snapshot(), operation: 'WRITE' },
    );
    const read = await table.snapshot();
    const other = await DeltaTable.open(store);
    await other.commit(winner, {
      readSnapshot: await other.snapshot(),
      operation: winnerOp,
      readScope: winnerScope,
    });
    return { table, read };
  }
  const blindAppend = (p: string, day: string): Action[] => [{ add: add(`day=${day}/${p}`, { day }) }];
  const deleteFile = (p: string, day: string): Action[] => [
    { remove: remove(`day=${day}/${p}`, 1, { partitionValues: { day } }) },
  ];

  test('blind appends never conflict with each other, whatever they read', async () => {
    const { table, read } = await race(blindAppend('w', '1'));
    const r = await table.commit(blindAppend('x', '1'), { readSnapshot: read, operation: 'WRITE' });
    assert.deepEqual(r, { version: 3, attempts: 2 });
    assert.equal((await table.snapshot()).files().length, 5);
    const again = await race(blindAppend('w', '1'));
    const r2 = await again.table.commit([...deleteFile('a', '1'), ...blindAppend('x', '1')], {
      readSnapshot: again.read,
      operation: 'MERGE',
      readScope: { partitions: [{ day: '1' }] },
    });
    assert.equal(r2.version, 3); // the winner was a blind append: its add does not conflict
  });

  test('a protocol change by the winner is fatal', async () => {
    const { table, read } = await race(
      [{ protocol: { minReaderVersion: 1, minWriterVersion: 2 } }],
      'UPGRADE PROTOCOL',
    );
    await assert.rejects(
      table.commit(blindAppend('x', '1'), { readSnapshot: read, operation: 'WRITE' }),
      code('TABLE_COMMIT_CONFLICT', /version 2 \(UPGRADE PROTOCOL\).*protocol changed/),
    );
  });

  test('a metaData change by the winner is fatal', async () => {
    const store = new MemoryStore();
    const table = await DeltaTable.create(store, { schema: SCHEMA });
    const read = await table.snapshot();
    await (await DeltaTable.open(store)).commit(
      [{ metaData: { ...read.metadata, configuration: { 'delta.appendOnly': 'true' } } }],
      { readSnapshot: read, operation: 'SET TBLPROPERTIES' },
    );
    await assert.rejects(
      table.commit([{ add: add('x') }], { readSnapshot: read, operation: 'WRITE' }),
      (err: unknown) =>
        code('TABLE_COMMIT_CONFLICT', /metadata/)(err) &&
        (err as TributaryError).details.winningVersion === 1,
    );
  });

  test('the same application id committed concurrently conflicts; another id does not', async () => {
    const txn = (appId: string, version: number): Action => ({ txn: { appId, version } });
    const a = await race([...blindAppend('w', '1'), txn('pipeline-p0', 10)]);
    await assert.rejects(
      a.table.commit([...blindAppend('x', '1'), txn('pipeline-p0', 10)], {
        readSnapshot: a.read,
        operation: 'WRITE',
      }),
      code('TABLE_COMMIT_CONFLICT', /pipeline-p0/),
    );
    const b = await race([...blindAppend('w', '1'), txn('pipeline-p1', 10)]);
    const r = await b.table.commit([...blindAppend('x', '1'), txn('pipeline-p0', 10)], {
      readSnapshot: b.read,
      operation: 'WRITE',
    });
    assert.equal(r.version, 3);
    const snap = await b.table.snapshot();
    assert.equal(snap.txnVersion('pipeline-p0'), 10);
    assert.equal(snap.txnVersion('pipeline-p1'), 10);
  });

  test('removing a file the winner also removed conflicts (even for a compaction)', async () => {
    const { table, read } = await race(deleteFile('a', '1'), 'DELETE', 'all');
    await assert.rejects(
      table.commit(
        [
          { remove: remove('day=1/a', 1, { dataChange: false }) },
          { add: add('day=1/ab', { day: '1' }, { dataChange: false }) },
        ],
        { readSnapshot: read, operation: 'OPTIMIZE', readScope: 'none' },
      ),
      code('TABLE_COMMIT_CONFLICT', /day=1\/a was removed concurrently/),
    );
  });

  test('a file removed in the read scope conflicts; outside the scope it does not', async () => {
    const inScope = await race(deleteFile('c', '2'), 'DELETE', 'all');
    await assert.rejects(
      inScope.table.commit([...deleteFile('a', '1')], {
        readSnapshot: inScope.read,
        operation: 'DELETE',
        readScope: { partitions: [{ day: '2' }] },
      }),
      code('TABLE_COMMIT_CONFLICT', /day=2\/c, which this commit read/),
    );
    const outside = await race(deleteFile('c', '2'), 'DELETE', 'all');
    const r = await outside.table.commit(deleteFile('a', '1'), {
      readSnapshot: outside.read,
      operation: 'DELETE',
      readScope: { partitions: [{ day: '1' }] },
    });
    assert.equal(r.version, 3);
    assert.deepEqual(
      (await outside.table.snapshot()).files().map((f) => f.path),
      ['day=1/b'],
    );
  });

  test('a data-changing add by a non-blind winner in the read scope conflicts', async () => {
    // The winner is an UPDATE that rewrote day=2/c: its add is in day=2.
    const rewrite: Action[] = [...deleteFile('c', '2'), { add: add('day=2/c2', { day: '2' }) }];
    const a = await race(rewrite, 'UPDATE', 'all');
    await assert.rejects(
      a.table.commit(deleteFile('a', '1'), { readSnapshot: a.read, operation: 'DELETE', readScope: 'all' }),
      code('TABLE_COMMIT_CONFLICT'),
    );
    // A winner that added rows in day=2 without being a blind append: conflicts with a reader of day=2 only.
    const nonBlindAdd = [{ add: add('day=2/d', { day: '2' }) }];
    const b = await race(nonBlindAdd, 'MERGE', 'all');
    await assert.rejects(
      b.table.commit(deleteFile('c', '2'), {
        readSnapshot: b.read,
        operation: 'DELETE',
        readScope: { partitions: [{ day: '2' }] },
      }),
      code('TABLE_COMMIT_CONFLICT', /day=2\/d was added concurrently/),
    );
    const c = await race(nonBlindAdd, 'MERGE', 'all');
    const r = await c.table.commit(deleteFile('a', '1'), {
      readSnapshot: c.read,
      operation: 'DELETE',
      readScope: { partitions: [{ day: '1' }] },
    });
    assert.equal(r.version, 3);
  });

  test('compaction by the winner: its dataChange=false adds never conflict, its removes do if we read them', async () => {
    const compaction: Action[] = [
      { remove: remove('day=1/a', 1, { dataChange: false, partitionValues: { day: '1' } }) },
      { remove: remove('day=1/b', 1, { dataChange: false, partitionValues: { day: '1' } }) },
      { add: add('day=1/ab', { day: '1' }, { dataChange: false }) },
    ];
    const a = await race(compaction, 'OPTIMIZE', 'none');
    const r = await a.table.commit(deleteFile('c', '2'), {
      readSnapshot: a.read,
      operation: 'DELETE',
      readScope: { partitions: [{ day: '2' }] },
    });
    assert.equal(r.version, 3);
    const b = await race(compaction, 'OPTIMIZE', 'none');
    await assert.rejects(
      b.table.commit(deleteFile('c', '2'), {
        readSnapshot: b.read,
        operation: 'DELETE',
        readScope: { partitions: [{ day: '1' }] },
      }),
      code('TABLE_COMMIT_CONFLICT', /which this commit read/),
    );
    const c = await race(compaction, 'OPTIMIZE', 'none');
    assert.equal(
      (await c.table.commit(blindAppend('z', '1'), { readSnapshot: c.read, operation: 'WRITE' })).version,
      3,
    );
  });

  test('gives up after maxAttempts races lost without a conflict', async () => {
    const { table, read } = await race(blindAppend('w', '1'));
    await assert.rejects(
      table.commit(blindAppend('x', '1'), { readSnapshot: read, operation: 'WRITE', maxAttempts: 1 }),
      code('TABLE_COMMIT_CONFLICT', /gave up .* after 1 attempts/),
    );
  });
});
