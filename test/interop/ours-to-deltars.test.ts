/**
 * Tables Tributary writes, read by delta-rs (an independent implementation) with exactly
 * the rows we expect: every type, awkward partition values, after MERGE, UPDATE and
 * DELETE, at old versions by time travel.
 */
import assert from 'node:assert/strict';
import { cp, readdir, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, DeltaTable, deleteWhere, merge, readRows, update } from '../../src/table/index.ts';
import { ALL_TYPES, allTypesRow, toJsRows } from './fixtures.ts';
import { cleanup, deltaRsRead, normRows, pythonSkip, sortRows, tempDir } from './helpers.ts';

const skip = pythonSkip();

type Row = Record<string, unknown>;

describe('tables Tributary writes, read by delta-rs', { skip }, () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('ours');
  });
  after(() => cleanup(dir));

  test('every type and awkward partition values (space : / = % unicode null) read back exactly', async () => {
    const path = join(dir, 'all-types');
    const table = await DeltaTable.create(new LocalStore(path), {
      schema: ALL_TYPES,
      partitionColumns: ['region'],
    });
    const rows = Array.from({ length: 16 }, (_, n) => allTypesRow(n));
    await append(table, { rows: toJsRows(rows.slice(0, 9), ALL_TYPES) });
    await append(table, { rows: toJsRows(rows.slice(9), ALL_TYPES) });

    const theirs = await deltaRsRead(path);
    assert.equal(theirs.version, 2);
    assert.deepEqual(theirs.partitionColumns, ['region']);
    assert.deepEqual(theirs.protocol, { minReaderVersion: 1, minWriterVersion: 2 });
    assert.deepEqual(theirs.schema.fields, ALL_TYPES.fields);
    assert.deepEqual(theirs.rows, sortRows(rows));
    // And our own reader agrees.
    assert.deepEqual(normRows(await readRows(table, await table.snapshot()), ALL_TYPES), sortRows(rows));
  });

  test('after MERGE, UPDATE and DELETE, each version reads as expected (time travel by version)', async () => {
    const path = join(dir, 'mutations');
    const table = await DeltaTable.create(new LocalStore(path), {
      schema: ALL_TYPES,
      partitionColumns: ['region'],
    });
    const state = new Map<string, Row>();
    const expected: Row[][] = [[]];
    const commit = (version: number) => {
      expected[version] = sortRows(structuredClone([...state.values()]));
    };
    const initial = Array.from({ length: 12 }, (_, n) => allTypesRow(n));
    for (const r of initial) state.set(r.id as string, r);
    const v1 = await append(table, { rows: toJsRows(initial, ALL_TYPES) });
    commit(v1.version);

    // MERGE: update two existing rows (one moves partition), insert two new ones.
    const source = [
      { ...allTypesRow(2), name: 'merged two', i32: 2 },
      { ...allTypesRow(5), region: 'moved: here/now', f64: -1.5 },
      allTypesRow(100, 'merge = new'),
      allTypesRow(101, null),
    ];
    const m = await merge(
      table,
      { rows: toJsRows(source, ALL_TYPES) },
      {
        on: ['id'],
        whenMatched: 'update',
        whenNotMatched: 'insert',
      },
    );
    for (const r of source) state.set(r.id as string, r);
    commit(m.version!);
    assert.equal(m.metrics.numTargetRowsUpdated, 2);
    assert.equal(m.metrics.numTargetRowsInserted, 2);

    // UPDATE across partitions.
    const u = await update(table, { where: 'i8 = 127', set: { name: "'updated ' || CAST(i32 AS VARCHAR)" } });
    for (const r of state.values()) if (r.i8 === 127) r.name = `updated ${r.i32}`;
    commit(u.version!);

    // DELETE with a partition predicate and a data predicate.
    const d = await deleteWhere(table, "region = 'a:b' OR flag = true");
    for (const [id, r] of state) if (r.region === 'a:b' || r.flag === true) state.delete(id);
    commit(d.version!);
    assert.ok(state.size > 0 && state.size < 14, 'the delete must leave some rows and remove some');

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
    const table = await DeltaTable.create(
      new LocalStore(path),
      { schema: ALL_TYPES, partitionColumns: ['region'] },
      { clock },
    );
    const expected: Row[][] = [[]];
    const commitTimes: number[] = [clock.now()];
    const all: Row[] = [];
    for (let n = 0; n < 12; n++) {
      clock.advance(60_000);
      const r = allTypesRow(n);
      const res = await append(table, { rows: toJsRows([r], ALL_TYPES) });
      assert.equal(res.version, n + 1);
      all.push(r);
      expected[res.version] = sortRows(all);
      commitTimes[res.version] = clock.now();
      // delta-rs (like Spark) times a commit by its log file's modification time, we by
      // commitInfo.timestamp; give the file the time the (manual) clock committed it at.
      const seconds = clock.now() / 1000;
      await utimes(
        join(path, '_delta_log', `${String(res.version).padStart(20, '0')}.json`),
        seconds,
        seconds,
      );
    }
    const log = await readdir(join(path, '_delta_log'));
    assert.ok(
      log.includes('00000000000000000010.checkpoint.parquet'),
      `checkpoint at 10 missing: ${log.join(', ')}`,
    );

    assert.deepEqual((await deltaRsRead(path)).rows, expected[12]);
    assert.deepEqual((await deltaRsRead(path, { version: 4 })).rows, expected[4]);
    // Half a minute after commit 7: delta-rs picks version 7.
    const at = new Date(commitTimes[7] + 30_000).toISOString();
    const byTime = await deltaRsRead(path, { timestamp: at });
    assert.equal(byTime.version, 7);
    assert.deepEqual(byTime.rows, expected[7]);

    // Remove commits 0..10: delta-rs must rebuild the table from our checkpoint alone.
    const copy = join(dir, 'checkpoint-only');
    await cp(path, copy, { recursive: true });
    for (let v = 0; v <= 10; v++) await rm(join(copy, '_delta_log', `${String(v).padStart(20, '0')}.json`));
    const fromCheckpoint = await deltaRsRead(copy);
    assert.equal(fromCheckpoint.version, 12);
    assert.deepEqual(fromCheckpoint.rows, expected[12]);
    assert.deepEqual(fromCheckpoint.schema.fields, ALL_TYPES.fields);
  });
});
