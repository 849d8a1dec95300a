/**
 * A commit is never durable while the data files it references are not: with a durable
 * LocalStore (the default) every data file's bytes and its directory entry are synced
 * before the commit's bytes are, the commit's directory after it is linked, and a
 * checkpoint before `_last_checkpoint` names it. Checked through the store's `onSync`
 * hook against what was visible at each moment; then the table is read back by fresh
 * readers (ours, and delta-rs when available).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import type { SyncKind } from '../../src/core/fsync.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, merge, readRows } from '../../src/table/index.ts';
import { fromAddPath } from '../../src/table/partition-path.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { deltaRsRead, pythonSkip } from '../interop/helpers.ts';
import { field, sortBy, tempDir } from './data-helpers.ts';

const tmp = tempDir('tributary-durable-commit-');
after(() => tmp.cleanup());

const SCHEMA = {
  type: 'struct' as const,
  fields: [field('id', 'long', false), field('day', 'string'), field('amount', 'double')],
};

interface SyncEvent {
  seq: number;
  kind: SyncKind;
  path: string;
  visible: boolean;
}

function recordingStore(dir: string): { store: LocalStore; events: SyncEvent[] } {
  const events: SyncEvent[] = [];
  const store = new LocalStore(dir, {
    onSync: (kind, path) => events.push({ seq: events.length, kind, path, visible: existsSync(path) }),
  });
  return { store, events };
}

/** The events of one commit's files, checked for the order that makes it crash safe. */
function assertCommitOrder(store: LocalStore, events: SyncEvent[], version: number, dataPaths: string[]) {
  const commit = store.localPath(`_delta_log/${String(version).padStart(20, '0')}.json`);
  const commitFile = events.find((e) => e.kind === 'file' && e.path === commit);
  assert.ok(commitFile, `version ${version}'s bytes were synced`);
  assert.equal(commitFile.visible, false, 'synced before it was linked into the log');
  const commitDir = events.find(
    (e) => e.kind === 'dir' && e.path === dirname(commit) && e.seq > commitFile.seq,
  );
  assert.ok(commitDir?.visible, "the log's directory was synced after the commit appeared");
  assert.ok(dataPaths.length > 0);
  for (const p of dataPaths) {
    const local = store.localPath(p);
    const file = events.find((e) => e.kind === 'file' && e.path === local);
    assert.ok(file, `${p} was synced`);
    assert.equal(file.visible, false, `${p} was synced before it was moved into place`);
    assert.ok(file.seq < commitFile.seq, `${p} was synced before the commit that references it`);
    const dir = events.find((e) => e.kind === 'dir' && e.path === dirname(local) && e.seq > file.seq);
    assert.ok(dir, `${p}'s directory was synced after it was moved in`);
    assert.ok(dir.seq < commitFile.seq, `${p}'s directory entry was durable before the commit`);
  }
}

test('append and MERGE: data files and their directories are synced before the commit; checkpoints before _last_checkpoint', async () => {
  const dir = `${tmp.dir}/t1`;
  const { store, events } = recordingStore(dir);
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const table = await DeltaTable.create(
    store,
    { schema: SCHEMA, partitionColumns: ['day'], configuration: { 'delta.checkpointInterval': '2' } },
    { clock },
  );

  events.length = 0;
  const r1 = await append(table, {
    rows: [
      { id: 1, day: '2026-01-01', amount: 1.5 },
      { id: 2, day: '2026-01-02', amount: 2.5 },
    ],
  });
  const v1 = (await table.snapshot()).files().map((a) => fromAddPath(a.path));
  assert.equal(v1.length, 2, 'one file per day');
  assertCommitOrder(store, events, r1.version, v1);

  events.length = 0;
  const r2 = await merge(
    table,
    {
      rows: [
        { id: 2, day: '2026-01-02', amount: 20 },
        { id: 3, day: '2026-01-03', amount: 3 },
      ],
    },
    { on: ['id', 'day'] },
  );
  assert.equal(r2.version, 2);
  const snap2 = await table.snapshot();
  const added = snap2
    .files()
    .map((a) => fromAddPath(a.path))
    .filter((p) => !v1.includes(p));
  assertCommitOrder(store, events, 2, added);

  // Version 2 is a checkpoint version: the checkpoint is durable before it is named.
  const cp = store.localPath('_delta_log/00000000000000000002.checkpoint.parquet');
  const last = store.localPath('_delta_log/_last_checkpoint');
  const cpFile = events.find((e) => e.kind === 'file' && e.path === cp);
  const lastFile = events.find((e) => e.kind === 'file' && e.path === last);
  assert.ok(cpFile && lastFile);
  const cpDir = events.find((e) => e.kind === 'dir' && e.path === dirname(cp) && e.seq > cpFile.seq);
  assert.ok(
    cpDir && cpDir.seq < lastFile.seq,
    'the checkpoint and its name were durable before _last_checkpoint',
  );

  // What a fresh process reads from the directory.
  const expected = [
    { id: 1, day: '2026-01-01', amount: 1.5 },
    { id: 2, day: '2026-01-02', amount: 20 },
    { id: 3, day: '2026-01-03', amount: 3 },
  ];
  const reopened = await DeltaTable.open(new LocalStore(dir));
  const ours = sortBy(await readRows(reopened, await reopened.snapshot()), 'id').map((r) => ({
    ...r,
    id: Number(r.id),
  }));
  assert.deepEqual(ours, expected);
  if (pythonSkip() === undefined) {
    const rs = await deltaRsRead(dir);
    assert.equal(rs.version, 2);
    assert.deepEqual(
      sortBy(rs.rows, 'id').map((r) => ({ id: Number(r.id), day: r.day, amount: r.amount })),
      expected,
    );
  }
});

test('a store built with durable: false syncs nothing and its table reads back the same', async () => {
  const dir = `${tmp.dir}/t2`;
  const synced: string[] = [];
  const store = new LocalStore(dir, { durable: false, onSync: (_k, p) => synced.push(p) });
  const table = await DeltaTable.create(store, { schema: SCHEMA, partitionColumns: ['day'] });
  await append(table, { rows: [{ id: 7, day: '2026-01-01', amount: 7 }] });
  assert.deepEqual(synced, []);
  const reopened = await DeltaTable.open(new LocalStore(dir));
  const rows = await readRows(reopened, await reopened.snapshot());
  assert.deepEqual(
    rows.map((r) => ({ ...r, id: Number(r.id) })),
    [{ id: 7, day: '2026-01-01', amount: 7 }],
  );
});
