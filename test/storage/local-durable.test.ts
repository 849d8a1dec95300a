/**
 * What a durable LocalStore syncs, and in which order, seen through its `onSync` hook
 * against the state of the directory at each moment: an object's bytes are synced while
 * it is not yet visible under its name, its directory once it is, and the directories
 * above a new one before the object's bytes. Pulling the plug is not possible here; the
 * order is what makes a machine crash safe.
 */
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import type { SyncKind } from '../../src/core/fsync.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { openStore } from '../../src/storage/open.ts';
import { bytes, text } from './contract.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-durable-'));
  dirs.push(dir);
  return dir;
}

interface SyncEvent {
  kind: SyncKind;
  path: string;
  /** For a file: whether the object was visible under its name when its bytes were synced. */
  visible: boolean;
}

function recorder(): { events: SyncEvent[]; onSync: (kind: SyncKind, path: string) => void } {
  const events: SyncEvent[] = [];
  return { events, onSync: (kind, path) => events.push({ kind, path, visible: existsSync(path) }) };
}

test('durable put-if-absent: bytes synced before the name appears, the directory after', async () => {
  const root = join(await tempDir(), 'table');
  const rec = recorder();
  const store = new LocalStore(root, { onSync: rec.onSync });
  assert.equal(store.durable, true, 'a LocalStore is durable unless told otherwise');
  await store.putIfAbsent('_delta_log/00000000000000000000.json', bytes('v0'));
  const target = store.localPath('_delta_log/00000000000000000000.json');
  const log = dirname(target);
  // A new folder under a new root: every entry on the way is made durable first.
  assert.deepEqual(
    rec.events.map((e) => [e.kind, e.path]),
    [
      ['dir', root],
      ['dir', dirname(root)],
      ['file', target],
      ['dir', log],
    ],
  );
  assert.equal(rec.events[2].visible, false, 'the commit was not visible before its bytes were synced');
  assert.ok(existsSync(target));

  // The next write in the same folder syncs only its bytes and its folder.
  rec.events.length = 0;
  await store.putIfAbsent('_delta_log/00000000000000000001.json', bytes('v1'));
  assert.deepEqual(
    rec.events.map((e) => [e.kind, e.path.slice(root.length)]),
    [
      ['file', '/_delta_log/00000000000000000001.json'],
      ['dir', '/_delta_log'],
    ],
  );
  // A write that loses the race syncs no directory and changes nothing.
  rec.events.length = 0;
  await assert.rejects(store.putIfAbsent('_delta_log/00000000000000000001.json', bytes('other')));
  assert.deepEqual(
    rec.events.filter((e) => e.kind === 'dir'),
    [],
  );
  assert.equal(text(await store.get('_delta_log/00000000000000000001.json')), 'v1');
});

test('durable put and moveIn: bytes, then rename, then directory', async () => {
  const root = await tempDir();
  const rec = recorder();
  const store = new LocalStore(root, { onSync: rec.onSync });
  await store.put('_delta_log/_last_checkpoint', bytes('{"version":1}'));
  await store.put('_delta_log/_last_checkpoint', bytes('{"version":2}'));
  const lastCp = store.localPath('_delta_log/_last_checkpoint');
  assert.deepEqual(
    rec.events.map((e) => [e.kind, e.path]),
    [
      ['dir', root],
      ['dir', dirname(root)],
      ['file', lastCp],
      ['dir', dirname(lastCp)],
      ['file', lastCp],
      ['dir', dirname(lastCp)],
    ],
  );
  assert.equal(text(await store.get('_delta_log/_last_checkpoint')), '{"version":2}');

  rec.events.length = 0;
  const staged = join(root, '.tmp-stage', 'x.parquet');
  await fs.mkdir(dirname(staged), { recursive: true });
  await fs.writeFile(staged, 'PAR1');
  await store.moveIn(staged, 'day=2024-01-01/part-0.parquet');
  const part = store.localPath('day=2024-01-01/part-0.parquet');
  assert.deepEqual(
    rec.events.map((e) => [e.kind, e.path, e.visible]),
    [
      ['dir', root, true], // the new partition folder's entry
      ['file', part, false],
      ['dir', dirname(part), true],
    ],
  );
  assert.equal(await readFile(part, 'utf8'), 'PAR1');
  assert.equal(existsSync(staged), false);
});

test('durable: false syncs nothing, and what was written is still there on reopening', async () => {
  const root = await tempDir();
  const rec = recorder();
  const store = new LocalStore(root, { durable: false, onSync: rec.onSync });
  await store.putIfAbsent('a/b/c.json', bytes('one'));
  await store.put('a/d.json', bytes('two'));
  assert.deepEqual(rec.events, []);
  const again = openStore(root, { durable: false });
  assert.equal(text(await again.get('a/b/c.json')), 'one');
  assert.equal(text(await again.get('a/d.json')), 'two');
  assert.equal((openStore(root) as LocalStore).durable, true, 'openStore gives a durable store by default');
  assert.equal((openStore(`file://${root}`, { durable: false }) as LocalStore).durable, false);
});
