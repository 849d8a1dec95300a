/**
 * Tables Tributary writes, read by Apache Spark with Delta Lake's own delta-spark (the
 * reference implementation of the protocol) with exactly the rows we expect: every
 * type, awkward partition values, after MERGE, UPDATE and DELETE, after OPTIMIZE and
 * VACUUM, across a checkpoint (and from the checkpoint alone), by time travel.
 * One Spark session serves the whole file.
 */
import assert from 'node:assert/strict';
import { cp, readdir, rm, utimes } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, DeltaTable, deleteWhere, merge, optimize, readRows, update } from '../../src/table/index.ts';
import { cleanup, normRows, sortRows, tempDir } from '../interop/helpers.ts';
import { jsRows, row, SCHEMA } from './fixtures.ts';
import { Spark, sparkSkip } from './spark.ts';

const skip = sparkSkip();

type Row = Record<string, unknown>;

/** A Spark SQL string literal (backslash escapes are on by default). */
const sqlString = (s: string) =>
  `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\n', '\\n')}'`;

const logFile = (path: string, v: number) => join(path, '_delta_log', `${String(v).padStart(20, '0')}.json`);

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
    const table = await DeltaTable.create(new LocalStore(path), {
      schema: SCHEMA,
      partitionColumns: ['region'],
    });
    const rows = Array.from({ length: 16 }, (_, n) => row(n));
    await append(table, { rows: jsRows(rows.slice(0, 9)) });
    await append(table, { rows: jsRows(rows.slice(9)) });

    const theirs = await spark.read(path);
    assert.equal(theirs.version, 2);
    assert.deepEqual(theirs.partitionColumns, ['region']);
    assert.deepEqual(theirs.protocol, { minReaderVersion: 1, minWriterVersion: 2 });
    assert.deepEqual(theirs.schema.fields, SCHEMA.fields);
    assert.deepEqual(theirs.rows, sortRows(rows));
    // Spark filters on a partition value that needs escaping in the path, and on null.
    const picked = await spark.sql(
      `SELECT CAST(id AS STRING) AS id FROM delta.\`${path}\` WHERE region = 'a:b' OR region IS NULL`,
    );
    assert.deepEqual(
      picked,
      sortRows(rows.filter((r) => r.region === 'a:b' || r.region === null).map((r) => ({ id: r.id }))),
    );
    // And our own reader agrees.
    assert.deepEqual(normRows(await readRows(table, await table.snapshot()), SCHEMA), sortRows(rows));
  });

  test("Spark's data skipping on our add.stats finds every row (truncated strings, micros timestamps)", async () => {
    // Several rows per file, so each file's min/max matter; Spark prunes files by them,
    // and a min too high or a max too low would make it miss rows.
    const path = join(dir, 'skipping');
    const table = await DeltaTable.create(new LocalStore(path), { schema: SCHEMA });
    const rows = Array.from({ length: 24 }, (_, n) => row(n));
    for (let i = 0; i < 24; i += 6) await append(table, { rows: jsRows(rows.slice(i, i + 6)) });
    assert.equal((await spark.read(path)).files.length, 4);

    const probes: Array<{ column: string; literal: (r: Row) => string }> = [
      { column: 'id', literal: (r) => String(r.id) },
      { column: 'ts', literal: (r) => `TIMESTAMP'${String(r.ts).replace('T', ' ').replace('Z', '')}'` },
      { column: 'name', literal: (r) => sqlString(String(r.name)) },
      { column: 'amount', literal: (r) => `CAST('${r.amount}' AS DECIMAL(10,2))` },
      { column: 'big', literal: (r) => `CAST('${r.big}' AS DECIMAL(38,6))` },
      { column: 'day', literal: (r) => `DATE'${r.day}'` },
    ];
    const branches: string[] = [];
    const expected: Row[] = [];
    for (const { column, literal } of probes) {
      // Every third row: two per file, odd and even (long and short names). Each branch
      // costs Spark a skipping job, so not all 24.
      for (const [k, r] of rows.entries()) {
        if (k % 3 !== 0) continue;
        const probe = `${column} ${k}`;
        branches.push(
          `SELECT '${probe}' AS probe, CAST(id AS STRING) AS id FROM delta.\`${path}\` WHERE ${column} = ${literal(r)}`,
        );
        for (const x of rows) if (x[column] === r[column]) expected.push({ probe, id: x.id });
      }
    }
    assert.deepEqual(await spark.sql(branches.join('\nUNION ALL\n')), sortRows(expected));
  });

  test('after MERGE, UPDATE and DELETE, each version reads as expected (time travel by version)', async () => {
    const path = join(dir, 'mutations');
    const table = await DeltaTable.create(new LocalStore(path), {
      schema: SCHEMA,
      partitionColumns: ['region'],
    });
    const state = new Map<string, Row>();
    const expected: Row[][] = [[]];
    const commit = (version: number) => {
      expected[version] = sortRows(structuredClone([...state.values()]));
    };
    const initial = Array.from({ length: 12 }, (_, n) => row(n));
    for (const r of initial) state.set(r.id as string, r);
    commit((await append(table, { rows: jsRows(initial) })).version);

    // MERGE: update two rows (one moves partition), insert two.
    const source = [
      { ...row(2), name: 'merged two', i32: 2 },
      { ...row(5), region: 'moved: here/now', f64: -1.5 },
      row(100, 'merge = new'),
      row(101, null),
    ];
    const m = await merge(
      table,
      { rows: jsRows(source) },
      { on: ['id'], whenMatched: 'update', whenNotMatched: 'insert' },
    );
    for (const r of source) state.set(r.id as string, r);
    commit(m.version!);

    const u = await update(table, { where: 'i8 = 127', set: { name: "'updated ' || CAST(i32 AS VARCHAR)" } });
    for (const r of state.values()) if (r.i8 === 127) r.name = `updated ${r.i32}`;
    commit(u.version!);

    const d = await deleteWhere(table, "region = 'a:b' OR flag = true");
    for (const [id, r] of state) if (r.region === 'a:b' || r.flag === true) state.delete(id);
    commit(d.version!);
    assert.ok(state.size > 0 && state.size < 14, 'the delete must leave some rows and remove some');

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
    const table = await DeltaTable.create(
      new LocalStore(path),
      { schema: SCHEMA, partitionColumns: ['region'] },
      { clock },
    );
    const expected: Row[][] = [[]];
    const commitTimes: number[] = [clock.now()];
    const all: Row[] = [];
    for (let n = 0; n < 12; n++) {
      clock.advance(60_000);
      const r = row(n);
      const res = await append(table, { rows: jsRows([r]) });
      assert.equal(res.version, n + 1);
      all.push(r);
      expected[res.version] = sortRows(all);
      commitTimes[res.version] = clock.now();
      // Spark times a commit by its log file's modification time (without in-commit
      // timestamps), we by commitInfo.timestamp; give the file the manual clock's time.
      await utimes(logFile(path, res.version), clock.now() / 1000, clock.now() / 1000);
    }
    await utimes(logFile(path, 0), commitTimes[0] / 1000, commitTimes[0] / 1000);
    const log = await readdir(join(path, '_delta_log'));
    assert.ok(
      log.includes('00000000000000000010.checkpoint.parquet'),
      `no checkpoint at 10: ${log.join(', ')}`,
    );

    assert.deepEqual((await spark.read(path)).rows, expected[12]);
    assert.deepEqual((await spark.read(path, { version: 4 })).rows, expected[4]);
    const at = new Date(commitTimes[7] + 30_000).toISOString();
    const byTime = await spark.read(path, { timestamp: at });
    assert.equal(byTime.version, 7);
    assert.deepEqual(byTime.rows, expected[7]);

    // Without commits 0..10 Spark can only rebuild the table from our checkpoint.
    const copy = join(dir, 'checkpoint-only');
    await cp(path, copy, { recursive: true, preserveTimestamps: true });
    for (let v = 0; v <= 10; v++) await rm(logFile(copy, v));
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
    const table = await DeltaTable.create(
      new LocalStore(path),
      { schema: SCHEMA, partitionColumns: ['region'] },
      { clock },
    );
    const rows: Row[] = [];
    for (let batch = 0; batch < 6; batch++) {
      clock.advance(1000);
      const b = [0, 1].map((k) => row(batch * 2 + k, k === 0 ? 'a:b' : null));
      rows.push(...b);
      await append(table, { rows: jsRows(b) });
    }
    assert.equal((await spark.read(path)).files.length, 12);

    clock.advance(1000);
    const res = await optimize(table);
    assert.equal(res.filesRemoved, 12);
    assert.equal(res.filesAdded, 2);
    const compacted = await spark.read(path);
    assert.equal(compacted.version, res.version);
    assert.equal(compacted.files.length, 2);
    assert.deepEqual(compacted.rows, sortRows(rows));
    const old = await spark.read(path, { version: res.version! - 1 });
    assert.equal(old.files.length, 12);
    assert.deepEqual(old.rows, sortRows(rows));

    clock.advance(8 * 24 * 3600 * 1000); // past the default 7-day retention
    const vac = await table.vacuum();
    assert.equal(vac.deleted.length, 12);
    assert.equal((await dataFiles(path)).length, 2);
    const after = await spark.read(path);
    assert.deepEqual(after.rows, sortRows(rows));
    // Spark's own VACUUM (retention 0) finds nothing more to delete: we left no garbage.
    await spark.sql(`VACUUM delta.\`${path}\` RETAIN 0 HOURS`);
    assert.equal((await dataFiles(path)).length, 2);
    assert.deepEqual((await spark.read(path)).rows, sortRows(rows));
  });
});
