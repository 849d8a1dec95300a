/**
 * latestVersion: the newest version of a table's log, first from a listing (from the
 * last checkpoint's block), then by asking for the versions after the one known; checked
 * against the commit files on disk, across checkpoints and commits made by another handle
 * of the table.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { latestVersion } from '../../src/table/latest-version.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { add, SCHEMA, tempStore } from './core-helpers.ts';

/** The largest commit file's version in `_delta_log` (-1 when none). */
function onDisk(dir: string): number {
  const v = readdirSync(join(dir, '_delta_log'))
    .filter((f) => /^\d{20}\.json$/.test(f))
    .map((f) => Number(f.slice(0, 20)));
  return v.length === 0 ? -1 : Math.max(...v);
}

test('latestVersion follows the log: from scratch, then from the version known', async () => {
  const { store, dir, cleanup } = await tempStore();
  try {
    assert.equal(await latestVersion(store), -1, 'no log: -1');
    const table = await DeltaTable.create(store, { schema: SCHEMA });
    assert.equal(await latestVersion(store), 0);
    let known = 0;
    // Past a checkpoint (every 10) and a few more; another handle commits some of them.
    const other = await DeltaTable.open(store);
    for (let i = 1; i <= 23; i++) {
      const writer = i % 3 === 0 ? other : table;
      await writer.commit([{ add: add(`f${i}`) }], {
        readSnapshot: await writer.snapshot(),
        operation: 'WRITE',
      });
      if (i % 4 === 0) {
        known = await latestVersion(store, known);
        assert.equal(known, onDisk(dir));
      }
    }
    assert.equal(await latestVersion(store, known), 23);
    assert.equal(await latestVersion(store), 23, 'from scratch: the listing from the last checkpoint');
    assert.equal(onDisk(dir), 23);
  } finally {
    await cleanup();
  }
});
