/**
 * Tables Apache Spark writes with delta-spark (partitioned, with Spark's own checkpoint
 * after 10+ commits, after its MERGE, DELETE, UPDATE, OPTIMIZE and VACUUM) read by
 * Tributary with exactly the rows Spark reports, at every version; and one table written
 * in turns by both, each reading the other's commits. One Spark session serves the file.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocalStore } from '../../src/storage/local.ts';
import { append, DeltaTable, deleteWhere, merge, readRows } from '../../src/table/index.ts';
import { cleanup, normRows, sortRows, tempDir } from '../interop/helpers.ts';
import { jsRows, row, SCHEMA } from './fixtures.ts';
import { Spark, type SparkStep, type SparkWriteResult, sparkSkip } from './spark.ts';

const skip = sparkSkip();

type Row = Record<string, unknown>;

async function ourRows(path: string, version?: number): Promise<{ version: number; rows: Row[] }> {
  const table = await DeltaTable.open(new LocalStore(path));
  const snap = await table.snapshot(version === undefined ? {} : { version });
  return { version: snap.version, rows: normRows(await readRows(table, snap), snap.schema) };
}

describe('tables Spark writes, read by Tributary', { skip }, () => {
  let dir: string;
  let spark: Spark;
  let path: string;
  let beforeVacuum: string;
  let written: SparkWriteResult;
  let firstSteps: number;

  before(async () => {
    dir = await tempDir('spark-ours');
    spark = await Spark.start();
    path = join(dir, 'events');
    const steps: SparkStep[] = [
      { op: 'write', partitionBy: ['region'], rows: [0, 1, 2, 3, 4, 5, 6, 7].map((n) => row(n)) },
    ];
    // Twelve one-row commits: Spark checkpoints at version 10 (delta.checkpointInterval).
    for (let n = 8; n < 20; n++) steps.push({ op: 'write', rows: [row(n)] });
    steps.push(
      { op: 'merge', on: ['id'], rows: [{ ...row(3), name: 'merged 3', i32: 33 }, row(40, 'new: region/x')] },
      { op: 'delete', predicate: 'i8 = -128 AND i32 < -2147483640' },
      { op: 'update', predicate: "region = 'plain'", set: { name: "'updated'" } },
      { op: 'optimize' },
    );
    const first = await spark.write(path, SCHEMA, steps);
    // A copy from before VACUUM, whose old versions still have all their files.
    beforeVacuum = join(dir, 'before-vacuum');
    await fs.cp(path, beforeVacuum, { recursive: true });
    const second = await spark.write(path, SCHEMA, [
      { op: 'vacuum' },
      { op: 'write', rows: [row(50, 'after: optimize/vacuum')] },
    ]);
    written = { steps: [...first.steps, ...second.steps], final: second.final };
    firstSteps = first.steps.length;
  });
  after(async () => {
    await spark?.close();
    await cleanup(dir);
  });

  test('Spark made what the test needs: its checkpoint, a merge, an optimize, reader 1', async () => {
    const log = await fs.readdir(join(path, '_delta_log'));
    assert.ok(log.includes('00000000000000000010.checkpoint.parquet'), `no checkpoint in ${log.join(', ')}`);
    assert.deepEqual(written.final.partitionColumns, ['region']);
    assert.equal(written.final.protocol.minReaderVersion, 1, JSON.stringify(written.final.protocol));
    assert.ok(written.final.rows.some((r) => r.name === 'merged 3' && r.i32 === 33));
    assert.ok(written.final.rows.some((r) => r.region === 'new: region/x'));
  });

  test('the latest snapshot: schema, partition columns and exactly the rows Spark reports', async () => {
    const table = await DeltaTable.open(new LocalStore(path));
    const snap = await table.snapshot();
    assert.equal(snap.version, written.final.version);
    assert.deepEqual(snap.partitionColumns, ['region']);
    assert.deepEqual(
      snap.schema.fields.map((f) => [f.name, f.type]),
      SCHEMA.fields.map((f) => [f.name, f.type]),
    );
    assert.deepEqual((await ourRows(path)).rows, written.final.rows);
    assert.equal(snap.files().length, written.final.files.length);
  });

  test('every version by time travel has the rows Spark reported right after that step', async () => {
    for (const [i, step] of written.steps.entries()) {
      // Versions before VACUUM are read from the copy that still has their files.
      const ours = await ourRows(i < firstSteps ? beforeVacuum : path, step.version);
      assert.equal(ours.version, step.version);
      assert.deepEqual(ours.rows, step.rows, `version ${step.version} (${step.op})`);
    }
  });

  test("Spark's checkpoint alone (older commit files deleted) gives the same table", async () => {
    const copy = join(dir, 'checkpoint-only');
    await fs.cp(beforeVacuum, copy, { recursive: true });
    const log = join(copy, '_delta_log');
    for (const f of await fs.readdir(log)) {
      if (f.endsWith('.json') && Number(f.slice(0, 20)) <= 10) await fs.rm(join(log, f));
    }
    const last = written.steps[firstSteps - 1];
    const ours = await ourRows(copy);
    assert.equal(ours.version, last.version);
    assert.deepEqual(ours.rows, last.rows);
    assert.deepEqual((await ourRows(copy, 11)).rows, written.steps[11].rows);
  });

  // Spark writes 24 rows in four appends: several files of several rows, so each file's
  // min/max decide whether a reader opens it. Shared by the two tests below.
  let skippingTable: Promise<{ path: string; rows: Row[] }> | undefined;
  const sparkSkippingTable = () => {
    skippingTable ??= (async () => {
      const skipping = join(dir, 'skipping');
      const rows = Array.from({ length: 24 }, (_, n) => row(n));
      const steps: SparkStep[] = [];
      for (let i = 0; i < 24; i += 6) steps.push({ op: 'write', rows: rows.slice(i, i + 6) });
      const bySpark = await spark.write(skipping, SCHEMA, steps);
      assert.deepEqual(bySpark.final.rows, sortRows(rows));
      assert.ok(bySpark.final.files.length >= 4, `files: ${bySpark.final.files.length}`);
      return { path: skipping, rows };
    })();
    return skippingTable;
  };

  test("our data skipping on Spark's add.stats finds every row (ms-truncated timestamps, long strings)", async () => {
    const { path: skipping, rows } = await sparkSkippingTable();
    const table = await DeltaTable.open(new LocalStore(skipping));
    const snap = await table.snapshot();
    const probes: Array<{ column: string; value: (r: Row) => unknown }> = [
      { column: 'id', value: (r) => BigInt(r.id as string) },
      { column: 'ts', value: (r) => r.ts },
      { column: 'name', value: (r) => r.name },
      { column: 'amount', value: (r) => r.amount },
      { column: 'big', value: (r) => r.big },
      { column: 'day', value: (r) => r.day },
      { column: 'f64', value: (r) => r.f64 },
    ];
    for (const { column, value } of probes) {
      for (const r of rows) {
        const got = normRows(
          await readRows(table, snap, { filter: [{ column, op: '=', value: value(r) }] }),
          SCHEMA,
        );
        const want = sortRows(rows.filter((x) => x[column] === r[column]));
        assert.deepEqual(
          got.map((x) => x.id),
          want.map((x) => x.id),
          `${column} = ${String(r[column])}`,
        );
      }
    }
  });

  test("our MERGE keyed on a timestamp finds every target row despite Spark's ms-truncated max stats", async () => {
    // MERGE prunes target files by the keys' min/max. One source row at a time (so no
    // other source key keeps a file in range), latest first (so each Spark file is first
    // met through its maximum, before a MERGE rewrites it with our own stats): each must
    // update its target row, never be inserted a second time.
    const { path: skipping, rows } = await sparkSkippingTable();
    const table = await DeltaTable.open(new LocalStore(skipping));
    const changed: Row[] = rows.map((r) => ({ ...r, name: `merged ${r.id}` }));
    const latestFirst = [...changed].sort((a, b) => (String(a.ts) < String(b.ts) ? 1 : -1));
    for (const r of latestFirst) {
      const m = await merge(
        table,
        { rows: jsRows([r]) },
        { on: ['ts'], whenMatched: 'update', whenNotMatched: 'insert' },
      );
      assert.deepEqual(
        [m.metrics.numTargetRowsUpdated, m.metrics.numTargetRowsInserted],
        [1, 0],
        `MERGE on ts = ${String(r.ts)}`,
      );
    }
    assert.deepEqual((await spark.read(skipping)).rows, sortRows(changed));
  });

  test('one table written in turns: Spark appends, merges and deletes into ours, and we into its', async () => {
    const shared = join(dir, 'shared');
    const table = await DeltaTable.create(new LocalStore(shared), {
      schema: SCHEMA,
      partitionColumns: ['region'],
    });
    const state = new Map<string, Row>();
    const put = (rows: Row[]) => {
      for (const r of rows) state.set(r.id as string, r);
    };
    const mine = [0, 1, 2, 3].map((n) => row(n));
    await append(table, { rows: jsRows(mine) });
    put(mine);

    const theirs = [row(10, 'spark: one'), row(11, null)];
    const sparkMerge = [{ ...row(1), name: 'spark merged', i16: 7 }, row(12, 'spark=merge')];
    const bySpark = await spark.write(shared, SCHEMA, [
      { op: 'write', rows: theirs },
      { op: 'merge', on: ['id'], rows: sparkMerge },
      { op: 'delete', predicate: `id = ${mine[0].id}` },
    ]);
    put(theirs);
    put(sparkMerge);
    state.delete(mine[0].id as string);
    assert.deepEqual(bySpark.final.rows, sortRows([...state.values()]));
    assert.deepEqual((await ourRows(shared)).rows, sortRows([...state.values()]));

    // Our writer continues on Spark's commits, and Spark reads the result.
    const ourMerge = [{ ...row(12, 'spark=merge'), name: 'ours merged' }, row(13, 'ours/after spark')];
    await merge(
      table,
      { rows: jsRows(ourMerge) },
      { on: ['id'], whenMatched: 'update', whenNotMatched: 'insert' },
    );
    put(ourMerge);
    await deleteWhere(table, `id = ${theirs[1].id}`);
    state.delete(theirs[1].id as string);
    const expected = sortRows([...state.values()]);
    assert.deepEqual((await ourRows(shared)).rows, expected);
    const final = await spark.read(shared);
    assert.equal(final.version, (await table.snapshot()).version);
    assert.deepEqual(final.rows, expected);
  });
});
