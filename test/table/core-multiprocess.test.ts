import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DeltaTable } from '../../src/table/table.ts';
import { SCHEMA, tempStore } from './core-helpers.ts';

const run = promisify(execFile);
const committer = fileURLToPath(new URL('./core-committer.ts', import.meta.url));

test('several processes committing to one LocalStore table: every commit lands exactly once', async () => {
  const { store, dir, cleanup } = await tempStore();
  try {
    await DeltaTable.create(store, { schema: SCHEMA, configuration: { 'delta.checkpointInterval': '7' } });
    const writers = 4;
    const each = 10;
    const startFile = join(dir, '_start');
    const children = Array.from({ length: writers }, (_, w) =>
      run(process.execPath, [committer, dir, `w${w}`, String(each), startFile], { timeout: 60_000 }),
    );
    // Start them together once all are ready, so they really race for the same versions.
    for (let i = 0; i < 3000; i++) {
      const ready = (await readdir(dir)).filter((n) => n.endsWith('.ready')).length;
      if (ready === writers) break;
      await delay(10);
    }
    await writeFile(startFile, '');
    const outputs = await Promise.all(children);
    const versions = outputs.flatMap((o) => JSON.parse(o.stdout) as number[]).sort((a, b) => a - b);
    // Each process got distinct versions, together exactly 1..writers*each.
    assert.deepEqual(
      versions,
      Array.from({ length: writers * each }, (_, i) => i + 1),
    );
    const snap = await (await DeltaTable.open(store)).snapshot();
    assert.equal(snap.version, writers * each);
    assert.equal(snap.files().length, writers * each);
    for (let w = 0; w < writers; w++) assert.equal(snap.txnVersion(`w${w}`), each - 1);
  } finally {
    await cleanup();
  }
});
