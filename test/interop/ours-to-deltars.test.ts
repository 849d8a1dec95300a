/**
 * Tables Tributary writes, read by delta-rs (an independent implementation) with exactly
 * the rows we expect: every type, awkward partition values, after MERGE, UPDATE and
 * DELETE, at old versions by time travel.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { readRows } from '../../src/table/index.ts';
import { ALL_TYPES } from './fixtures.ts';
import { cleanup, deltaRsRead, normRows, pythonSkip, tempDir } from './helpers.ts';
import {
  ALL_TYPES_ROWS,
  copyFromCheckpoint,
  writeAllTypes,
  writeCheckpointed,
  writeMutations,
} from './histories.ts';

const skip = pythonSkip();

describe('tables Tributary writes, read by delta-rs', { skip }, () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('ours');
  });
  after(() => cleanup(dir));

  test('every type and awkward partition values (space : / = % unicode null) read back exactly', async () => {
    const path = join(dir, 'all-types');
    const { table, rows } = await writeAllTypes(path, ALL_TYPES_ROWS);

    const theirs = await deltaRsRead(path);
    assert.equal(theirs.version, 2);
    assert.deepEqual(theirs.partitionColumns, ['region']);
    assert.deepEqual(theirs.protocol, { minReaderVersion: 1, minWriterVersion: 2 });
    assert.deepEqual(theirs.schema.fields, ALL_TYPES.fields);
    assert.deepEqual(theirs.rows, rows);
    // And our own reader agrees.
    assert.deepEqual(normRows(await readRows(table, await table.snapshot()), ALL_TYPES), rows);
  });

  test('after MERGE, UPDATE and DELETE, each version reads as expected (time travel by version)', async () => {
    const path = join(dir, 'mutations');
    const expected = await writeMutations(path, ALL_TYPES_ROWS);
    for (let v = 1; v < expected.length; v++) {
      const theirs = await deltaRsRead(path, { version: v });
      assert.equal(theirs.version, v);
      assert.deepEqual(theirs.rows, expected[v], `delta-rs at version ${v}`);
    }
    const latest = await deltaRsRead(path);
    assert.equal(latest.version, expected.length - 1);
  });

  test('across a checkpoint (12 commits), by version and by timestamp, and from the checkpoint alone', async () => {
    const path = join(dir, 'checkpointed');
    const clock = new ManualClock(Date.UTC(2026, 2, 1));
    const { expected, commitTimes } = await writeCheckpointed(path, ALL_TYPES_ROWS, clock);

    assert.deepEqual((await deltaRsRead(path)).rows, expected[12]);
    assert.deepEqual((await deltaRsRead(path, { version: 4 })).rows, expected[4]);
    // Half a minute after commit 7: delta-rs picks version 7.
    const at = new Date(commitTimes[7] + 30_000).toISOString();
    const byTime = await deltaRsRead(path, { timestamp: at });
    assert.equal(byTime.version, 7);
    assert.deepEqual(byTime.rows, expected[7]);

    // Remove commits 0..10: delta-rs must rebuild the table from our checkpoint alone.
    const copy = join(dir, 'checkpoint-only');
    await copyFromCheckpoint(path, copy);
    const fromCheckpoint = await deltaRsRead(copy);
    assert.equal(fromCheckpoint.version, 12);
    assert.deepEqual(fromCheckpoint.rows, expected[12]);
    assert.deepEqual(fromCheckpoint.schema.fields, ALL_TYPES.fields);
  });
});
