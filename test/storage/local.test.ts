import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LocalStore } from '../../src/storage/local.ts';
import { bytes, failsWith, storeContract, text } from './contract.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function makeStore(): Promise<LocalStore> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-local-store-'));
  dirs.push(dir);
  return new LocalStore(dir);
}

storeContract('LocalStore', makeStore, { crossProcess: { processes: 4, rounds: 200 } });

test('LocalStore: a path cannot be both an object and a folder, and says so', async () => {
  const store = await makeStore();
  await store.put('a/b', bytes('below a'));
  await assert.rejects(store.put('a', bytes('x')), failsWith('STORAGE_INVALID_PATH', 'a'));
  await assert.rejects(store.putIfAbsent('a', bytes('x')), failsWith('STORAGE_INVALID_PATH'));
  await assert.rejects(store.put('a/b/c', bytes('x')), failsWith('STORAGE_INVALID_PATH', 'a/b/c'));
  assert.equal(text(await store.get('a/b')), 'below a');
  assert.deepEqual(
    (await store.list('')).map((m) => m.path),
    ['a/b'],
  );
});

test('LocalStore: localPath points at the file DuckDB can read', async () => {
  const store = await makeStore();
  await store.put('t/day=2024-01-01/part 0.parquet', bytes('PAR1'));
  const { readFile } = await import('node:fs/promises');
  assert.equal(text(await readFile(store.localPath('t/day=2024-01-01/part 0.parquet'))), 'PAR1');
});
