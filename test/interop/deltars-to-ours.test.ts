/**
 * Tables written by delta-rs (partitioned, checkpointed, after its own MERGE, UPDATE,
 * DELETE, OPTIMIZE and VACUUM) read by Tributary — snapshot + readRows, and
 * `tributary query` — with exactly the rows delta-rs reports, at every version.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocalStore } from '../../src/storage/local.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { ALL_TYPES, allTypesRow, field, struct } from './fixtures.ts';
import {
  cleanup,
  type DeltaRsProgram,
  type DeltaRsWriteResult,
  deltaRsWrite,
  normRows,
  parseJsonExact,
  pythonSkip,
  sortRows,
  tempDir,
  tributary,
} from './helpers.ts';

const skip = pythonSkip();

// delta-rs also writes map columns: add one to the all-types schema for this direction.
const SCHEMA = struct(
  ...ALL_TYPES.fields,
  field('attrs', { type: 'map', keyType: 'string', valueType: 'long', valueContainsNull: true }),
);

function row(n: number, region?: string | null): Record<string, unknown> {
  const r = region === undefined ? allTypesRow(n) : allTypesRow(n, region);
  return { ...r, attrs: n % 3 === 0 ? null : { k1: String(n), k2: null } };
}

describe('tables delta-rs writes, read by Tributary', { skip }, () => {
  let dir: string;
  let path: string;
  let written: DeltaRsWriteResult;
  let beforeVacuum: string;
  let firstSteps: number;

  before(async () => {
    dir = await tempDir('deltars');
    path = join(dir, 'tables', 'events');
    const steps: DeltaRsProgram['steps'] = [
      { op: 'write', partitionBy: ['region'], rows: [0, 1, 2, 3, 4, 5, 6, 7].map((n) => row(n)) },
    ];
    // Enough small commits that reading must combine a checkpoint with later commits.
    for (let n = 8; n < 20; n++) steps.push({ op: 'write', mode: 'append', rows: [row(n)] });
    steps.push({ op: 'checkpoint' });
    steps.push({ op: 'write', mode: 'append', rows: [row(20), row(21)] });
    steps.push({
      op: 'merge',
      on: ['id'],
      rows: [{ ...row(3), name: 'merged 3', i32: 33 }, row(40, 'new region')],
    });
    steps.push({ op: 'delete', predicate: 'i8 = -128 AND i32 < -2147483640' });
    steps.push({ op: 'update', predicate: "region = 'plain'", set: { name: "'updated'" } });
    steps.push({ op: 'optimize' });
    const first = await deltaRsWrite(path, { schema: SCHEMA, steps });
    // Keep a copy from before VACUUM, whose old versions still have all their files.
    beforeVacuum = join(dir, 'before-vacuum');
    await fs.cp(path, beforeVacuum, { recursive: true });
    const second = await deltaRsWrite(path, {
      schema: SCHEMA,
      steps: [{ op: 'vacuum' }, { op: 'write', mode: 'append', rows: [row(50, 'after: optimize/vacuum')] }],
    });
    written = { steps: [...first.steps, ...second.steps], final: second.final };
    firstSteps = first.steps.length;
  });
  after(() => cleanup(dir));

  test('delta-rs made what the test needs: a checkpoint, merge, optimize, vacuum', async () => {
    const log = await fs.readdir(join(path, '_delta_log'));
    assert.ok(
      log.some((f) => f.endsWith('.checkpoint.parquet')),
      `no checkpoint in ${log.join(', ')}`,
    );
    assert.deepEqual(written.final.partitionColumns, ['region']);
    assert.ok(written.final.rows.some((r) => r.name === 'merged 3' && r.i32 === 33));
  });

  test('the latest snapshot: schema, partition columns and exactly the rows delta-rs reports', async () => {
    const table = await DeltaTable.open(new LocalStore(path));
    const snap = await table.snapshot();
    assert.equal(snap.version, written.final.version);
    assert.deepEqual(snap.partitionColumns, ['region']);
    assert.deepEqual(
      snap.schema.fields.map((f) => [f.name, f.type]),
      written.final.schema.fields.map((f) => [f.name, f.type]),
    );
    const ours = normRows(await readRows(table, snap), snap.schema);
    assert.deepEqual(ours, sortRows(written.final.rows));
  });

  test('every version by time travel has the rows delta-rs reported right after that step', async () => {
    const old = await DeltaTable.open(new LocalStore(beforeVacuum));
    const latest = await DeltaTable.open(new LocalStore(path));
    for (const [i, step] of written.steps.entries()) {
      // Versions before VACUUM are read from the copy that still has their files.
      const table = i < firstSteps ? old : latest;
      const snap = await table.snapshot({ version: step.version });
      assert.equal(snap.version, step.version);
      const rows = normRows(await readRows(table, snap), snap.schema);
      assert.deepEqual(rows, sortRows(step.rows), `version ${step.version} (${step.op})`);
    }
  });

  test('a checkpoint alone (older commit files deleted) gives the same table', async () => {
    const copy = join(dir, 'copy');
    await fs.cp(path, copy, { recursive: true });
    const log = join(copy, '_delta_log');
    const cp = (await fs.readdir(log)).find((f) => f.endsWith('.checkpoint.parquet'))!;
    const cpVersion = Number(cp.slice(0, 20));
    for (const f of await fs.readdir(log)) {
      if (f.endsWith('.json') && Number(f.slice(0, 20)) <= cpVersion) await fs.rm(join(log, f));
    }
    const table = await DeltaTable.open(new LocalStore(copy));
    const snap = await table.snapshot();
    assert.equal(snap.version, written.final.version);
    assert.deepEqual(normRows(await readRows(table, snap), snap.schema), sortRows(written.final.rows));
  });

  test('`tributary query` returns the same rows, and time travel through SQL', async () => {
    const latest = await tributary(['query', 'SELECT * FROM events', '--format', 'json', '--data-dir', dir]);
    assert.equal(latest.code, 0, latest.stderr);
    assert.deepEqual(
      normRows(parseJsonExact(latest.stdout) as Record<string, unknown>[], SCHEMA, 'hex'),
      sortRows(written.final.rows),
    );

    const optimizeStep = written.steps.find((s) => s.op === 'optimize')!;
    const sql = `SELECT region, count(*) AS n FROM events VERSION AS OF ${optimizeStep.version} GROUP BY region ORDER BY region NULLS FIRST`;
    const old = await tributary(['query', sql, '--format', 'json', '--data-dir', dir]);
    assert.equal(old.code, 0, old.stderr);
    const expected = new Map<string | null, number>();
    for (const r of optimizeStep.rows)
      expected.set(r.region as string | null, (expected.get(r.region as string | null) ?? 0) + 1);
    const got = new Map(
      (JSON.parse(old.stdout) as Array<{ region: string | null; n: number }>).map((r) => [r.region, r.n]),
    );
    assert.deepEqual(got, expected);
  });
});
