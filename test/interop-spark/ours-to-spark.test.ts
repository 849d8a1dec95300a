/**
 * Tables Tributary writes, read by Apache Spark with Delta Lake's own delta-spark (the
 * reference implementation of the protocol) with exactly the rows we expect: every
 * type, awkward partition values, after MERGE, UPDATE and DELETE, after OPTIMIZE and
 * VACUUM, across a checkpoint (and from the checkpoint alone), by time travel.
 * One Spark session serves the whole file.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { optimize, readRows } from '../../src/table/index.ts';
import { cleanup, normRows, sortRows, tempDir } from '../interop/helpers.ts';
import {
  copyFromCheckpoint,
  equalityProbes,
  writeAllTypes,
  writeCheckpointed,
  writeFourFiles,
  writeMutations,
  writeSmallFiles,
} from '../interop/histories.ts';
import { SCHEMA, SCHEMA_ROWS } from './fixtures.ts';
import { Spark, sparkSkip } from './spark.ts';

const skip = sparkSkip();

type Row = Record<string, unknown>;

/** A Spark SQL string literal (backslash escapes are on by default). */
const sqlString = (s: string) =>
  `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\n', '\\n')}'`;

async function dataFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.parquet') && !e.parentPath.includes('_delta_log'))
      out.push(relative(dir, join(e.parentPath, e.name)));
  }
  return out.sort();
}

describe('tables Tributary writes, read by Spark (delta-spark)', { skip }, () => {
  let dir: string;
  let spark: Spark;
  before(async () => {
    dir = await tempDir('ours-spark');
    spark = await Spark.start();
  });
  after(async () => {
    await spark?.close();
    await cleanup(dir);
  });

  test('every type and awkward partition values (space : / = % unicode null) read back exactly', async () => {
    const path = join(dir, 'all-types');
    const { table, rows } = await writeAllTypes(path, SCHEMA_ROWS);

    const theirs = await spark.read(path);
    assert.equal(theirs.version, 2);
    assert.deepEqual(theirs.partitionColumns, ['region']);
    assert.deepEqual(theirs.protocol, { minReaderVersion: 1, minWriterVersion: 2 });
    assert.deepEqual(theirs.schema.fields, SCHEMA.fields);
    assert.deepEqual(theirs.rows, rows);
    // Spark filters on a partition value that needs escaping in the path, and on null.
    const picked = await spark.sql(
      `SELECT CAST(id AS STRING) AS id FROM delta.\`${path}\` WHERE region = 'a:b' OR region IS NULL`,
    );
    assert.deepEqual(
      picked,
      sortRows(rows.filter((r) => r.region === 'a:b' || r.region === null).map((r) => ({ id: r.id }))),
    );
    // And our own reader agrees.
    assert.deepEqual(normRows(await readRows(table, await table.snapshot()), SCHEMA), rows);
  });

  test("Spark's data skipping on our add.stats finds every row (truncated strings, micros timestamps)", async () => {
    // Several rows per file, so each file's min/max matter; Spark prunes files by them,
    // and a min too high or a max too low would make it miss rows.
    const path = join(dir, 'skipping');
    const rows = await writeFourFiles(path, SCHEMA_ROWS);
    assert.equal((await spark.read(path)).files.length, 4);

    const literals: Record<string, (r: Row) => string> = {
      id: (r) => String(r.id),
      ts: (r) => `TIMESTAMP'${String(r.ts).replace('T', ' ').replace('Z', '')}'`,
      name: (r) => sqlString(String(r.name)),
      amount: (r) => `CAST('${r.amount}' AS DECIMAL(10,2))`,
      big: (r) => `CAST('${r.big}' AS DECIMAL(38,6))`,
      day: (r) => `DATE'${r.day}'`,
    };
    // Each branch costs Spark a skipping job, so not all 24 rows: every third.
    const { probes, expected } = equalityProbes(rows, Object.keys(literals));
    const branches = probes.map(
      ({ probe, column, row }) =>
        `SELECT '${probe}' AS probe, CAST(id AS STRING) AS id FROM delta.\`${path}\` WHERE ${column} = ${literals[column](row)}`,
    );
    assert.deepEqual(await spark.sql(branches.join('\nUNION ALL\n')), expected);
  });

  test('after MERGE, UPDATE and DELETE, each version reads as expected (time travel by version)', async () => {
    const path = join(dir, 'mutations');
    const expected = await writeMutations(path, SCHEMA_ROWS);

    for (let v = 1; v < expected.length; v++) {
      const theirs = await spark.read(path, { version: v });
      assert.deepEqual(theirs.rows, expected[v], `Spark at version ${v}`);
    }
    const latest = await spark.read(path);
    assert.equal(latest.version, expected.length - 1);
    assert.deepEqual(latest.rows, expected[expected.length - 1]);
  });

  test('across a checkpoint (12 commits): by version, by timestamp, and from our checkpoint alone', async () => {
    const path = join(dir, 'checkpointed');
    // An hour ago: Spark refuses time travel to commits older than the table's
    // delta.deletedFileRetentionDuration (7 days) before its own wall clock.
    const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000 - 3600_000);
    const { expected, commitTimes } = await writeCheckpointed(path, SCHEMA_ROWS, clock);

    assert.deepEqual((await spark.read(path)).rows, expected[12]);
    assert.deepEqual((await spark.read(path, { version: 4 })).rows, expected[4]);
    const at = new Date(commitTimes[7] + 30_000).toISOString();
    const byTime = await spark.read(path, { timestamp: at });
    assert.equal(byTime.version, 7);
    assert.deepEqual(byTime.rows, expected[7]);

    // Without commits 0..10 Spark can only rebuild the table from our checkpoint.
    const copy = join(dir, 'checkpoint-only');
    await copyFromCheckpoint(path, copy);
    const fromCheckpoint = await spark.read(copy);
    assert.equal(fromCheckpoint.version, 12);
    assert.deepEqual(fromCheckpoint.schema.fields, SCHEMA.fields);
    assert.deepEqual(fromCheckpoint.partitionColumns, ['region']);
    assert.deepEqual(fromCheckpoint.rows, expected[12]);
    assert.deepEqual((await spark.read(copy, { version: 11 })).rows, expected[11]);
    // Versions before the checkpoint are gone, and Spark says so instead of guessing.
    await spark.readError(copy, { version: 5 });
  });

  test('OPTIMIZE then VACUUM: same rows from fewer files; old version readable until vacuumed', async () => {
    const path = join(dir, 'compacted');
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const { table, rows } = await writeSmallFiles(path, SCHEMA_ROWS, clock);
    assert.equal((await spark.read(path)).files.length, 12);

    clock.advance(1000);
    const res = await optimize(table);
    assert.equal(res.filesRemoved, 12);
    assert.equal(res.filesAdded, 2);
    const compacted = await spark.read(path);
    assert.equal(compacted.version, res.version);
    assert.equal(compacted.files.length, 2);
    assert.deepEqual(compacted.rows, rows);
    const old = await spark.read(path, { version: res.version! - 1 });
    assert.equal(old.files.length, 12);
    assert.deepEqual(old.rows, rows);

    clock.advance(8 * 24 * 3600 * 1000); // past the default 7-day retention
    const vac = await table.vacuum();
    assert.equal(vac.deleted.length, 12);
    assert.equal((await dataFiles(path)).length, 2);
    const after = await spark.read(path);
    assert.deepEqual(after.rows, rows);
    // Spark's own VACUUM (retention 0) finds nothing more to delete: we left no garbage.
    await spark.sql(`VACUUM delta.\`${path}\` RETAIN 0 HOURS`);
    assert.equal((await dataFiles(path)).length, 2);
    assert.deepEqual((await spark.read(path)).rows, rows);
  });
});
