/**
 * What the embedded log syncs under each flush policy (docs/log.md, "Flush policy"),
 * seen through its `onSync` hook against the files visible at each moment: with
 * `always`, a produce call returns only after the segment's bytes, the index and any new
 * name in the partition directory (a new segment on roll, the seal of the old one) are
 * synced; a created topic is durable whole before it is renamed into place, and the log
 * directory after. `interval` defers the same syncs to its timer and to close; `never`
 * syncs nothing. Pulling the plug is not possible here; the order is what makes it safe.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, test } from 'node:test';
import type { SyncKind } from '../../src/core/fsync.ts';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts';
import type { FsyncPolicy } from '../../src/log/embedded/partition-writer.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tributary-log-durable-'));
  dirs.push(d);
  return d;
}

interface SyncEvent {
  kind: SyncKind;
  path: string;
  visible: boolean;
}

function open(dir: string, fsync: FsyncPolicy, segmentBytes = 64 * 1024 * 1024) {
  const events: SyncEvent[] = [];
  const log = new EmbeddedLog({
    dir,
    fsync,
    segmentBytes,
    // Never fires during a test: `interval` is checked through close().
    fsyncIntervalMs: 3_600_000,
    retentionCheckMs: 0,
    onSync: (kind, path) => events.push({ kind, path, visible: existsSync(path) }),
  });
  return { log, events };
}

const records = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({
    topic: 't',
    partition: 0,
    value: Buffer.from(JSON.stringify({ i: from + i, pad: 'x'.repeat(300) })),
  }));

const rel = (dir: string, e: SyncEvent) => [e.kind, e.path === dir ? '.' : e.path.slice(dir.length + 1)];

test("fsync 'always': a created topic is durable before it appears; each produce is synced before it returns", async () => {
  const root = join(tempDir(), 'log');
  const { log, events } = open(root, 'always', 16 * 1024);
  await log.createTopic('t', { partitions: 2 });
  // Built and synced under a temporary name, then the log directory once it is in place.
  const kinds = events.map((e) => [e.kind, basename(e.path)]);
  assert.deepEqual(kinds[0], ['dir', basename(join(root, '..'))], 'the new log directory’s entry');
  assert.deepEqual(kinds.slice(1, 2), [['file', 'topic.json']]);
  assert.deepEqual(
    kinds.slice(2, 4).map((k) => k[1]),
    ['0', '1'],
    'each partition directory (its first segment)',
  );
  assert.match(kinds[4][1], /^\.creating-/);
  assert.deepEqual(events.at(-1), { kind: 'dir', path: root, visible: true });
  assert.ok(existsSync(join(root, 't', 'topic.json')));

  // First produce: segment, index, and the directory (the writer rewrote the index on open).
  events.length = 0;
  await log.produce(records(20));
  const part = join(root, 't', '0');
  assert.deepEqual(
    events.map((e) => rel(part, e)),
    [
      ['file', '00000000000000000000.log'],
      ['file', '00000000000000000000.idx'],
      ['dir', '.'],
    ],
  );
  // The next ones: only what changed (the index gets an entry every 4 KiB of segment).
  events.length = 0;
  await log.produce(records(5, 20));
  assert.deepEqual(
    events.map((e) => rel(part, e)),
    [
      ['file', '00000000000000000000.log'],
      ['file', '00000000000000000000.idx'],
    ],
  );
  events.length = 0;
  await log.produce(records(1, 25));
  assert.deepEqual(
    events.map((e) => rel(part, e)),
    [['file', '00000000000000000000.log']],
  );

  // Past segmentBytes the next produce rolls: the old segment's seal is synced, and the
  // new segment's name before the call returns.
  while (readdirSync(part).filter((n) => n.endsWith('.log')).length < 2) {
    events.length = 0;
    await log.produce(records(30, 1000));
  }
  const seal = events.find((e) => e.path.endsWith('.seal'));
  assert.ok(seal && seal.kind === 'file', 'the seal of the rolled segment was synced');
  const newest = readdirSync(part)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .at(-1)!;
  const newSegment = events.findIndex((e) => e.kind === 'file' && e.path === join(part, newest));
  const dirSync = events.findIndex((e) => e.kind === 'dir' && e.path === part);
  assert.ok(newSegment >= 0 && dirSync > newSegment, 'new segment synced, then its directory entry');
  await log.close();
});

test("fsync 'interval' syncs on its timer or on close, not in produce; 'never' syncs nothing, even a topic", async () => {
  const dir = tempDir();
  const interval = open(dir, 'interval', 16 * 1024);
  await interval.log.createTopic('t', { partitions: 1 });
  interval.events.length = 0;
  for (let i = 0; i < 10; i++) await interval.log.produce(records(30, i * 30));
  // Rolled segments are synced at the roll (and their seals), never the active one.
  const part = join(dir, 't', '0');
  const active = readdirSync(part)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .at(-1)!;
  assert.ok(
    interval.events.every((e) => e.path !== join(part, active)),
    'the active segment waits for the timer',
  );
  interval.events.length = 0;
  await interval.log.close();
  assert.deepEqual(
    interval.events.map((e) => rel(part, e)),
    [
      ['file', active],
      ['file', active.replace('.log', '.idx')],
      ['dir', '.'],
    ],
  );

  const dir2 = tempDir();
  const never = open(dir2, 'never', 16 * 1024);
  await never.log.createTopic('t', { partitions: 1 });
  for (let i = 0; i < 10; i++) await never.log.produce(records(30, i * 30));
  await never.log.close();
  assert.deepEqual(never.events, []);
  // Nothing synced, but everything written: a reader in a new process sees it all.
  const reader = new EmbeddedLog({ dir: dir2 });
  const res = await reader.fetch('t', 0, 0, { maxRecords: 1000 });
  assert.equal(res.records.length, 300);
  assert.equal(JSON.parse(Buffer.from(res.records[299].value!).toString()).i, 299);
  await reader.close();
});
