/**
 * After OPTIMIZE and VACUUM, delta-rs still reads exactly the rows of a table we wrote,
 * from fewer files; and DuckDB reads our data files directly with the Parquet types the
 * Delta protocol asks for.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, DeltaTable, optimize, withConnection } from '../../src/table/index.ts';
import { ALL_TYPES, allTypesRow, toJsRows } from './fixtures.ts';
import { cleanup, deltaRsRead, pythonSkip, sortRows, tempDir } from './helpers.ts';

const skip = pythonSkip();

async function parquetFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.parquet') && !e.parentPath.includes('_delta_log')) {
      out.push(relative(dir, join(e.parentPath, e.name)));
    }
  }
  return out.sort();
}

describe('maintenance of tables Tributary writes, checked by delta-rs and DuckDB', { skip }, () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('maint');
  });
  after(() => cleanup(dir));

  test('OPTIMIZE then VACUUM: same rows from fewer files, and unreferenced files deleted', async () => {
    const path = join(dir, 'compacted');
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const table = await DeltaTable.create(
      new LocalStore(path),
      { schema: ALL_TYPES, partitionColumns: ['region'] },
      { clock },
    );
    const rows: Record<string, unknown>[] = [];
    for (let batch = 0; batch < 6; batch++) {
      clock.advance(1000);
      // Two partitions only, so every batch adds one small file to each.
      const b = [0, 1].map((k) => allTypesRow(batch * 2 + k, k === 0 ? 'a:b' : null));
      rows.push(...b);
      await append(table, { rows: toJsRows(b, ALL_TYPES) });
    }
    const before = await deltaRsRead(path);
    assert.equal(before.files.length, 12);
    assert.deepEqual(before.rows, sortRows(rows));

    clock.advance(1000);
    const res = await optimize(table);
    assert.equal(res.filesRemoved, 12);
    assert.equal(res.filesAdded, 2);
    const compacted = await deltaRsRead(path);
    assert.equal(compacted.version, res.version);
    assert.equal(compacted.files.length, 2);
    assert.deepEqual(compacted.rows, sortRows(rows));
    // The version before OPTIMIZE still reads the same rows from the old files.
    assert.deepEqual((await deltaRsRead(path, { version: res.version! - 1 })).rows, sortRows(rows));

    clock.advance(8 * 24 * 3600 * 1000); // past the default 7-day retention
    const vac = await table.vacuum();
    assert.equal(vac.deleted.length, 12);
    const onDisk = await parquetFiles(path);
    assert.equal(onDisk.length, 2, `files left: ${onDisk.join(', ')}`);
    const after = await deltaRsRead(path);
    assert.deepEqual(after.rows, sortRows(rows));
  });

  test('DuckDB reads our data files: UTC micros timestamps, decimals, no partition column in the file', async () => {
    const path = join(dir, 'duck');
    const table = await DeltaTable.create(new LocalStore(path), {
      schema: ALL_TYPES,
      partitionColumns: ['region'],
    });
    const rows = [allTypesRow(1, 'x/y'), allTypesRow(2, 'x/y')];
    await append(table, { rows: toJsRows(rows, ALL_TYPES) });
    const [file] = await parquetFiles(path);
    assert.ok(file.startsWith('region=x%2Fy/'), file);
    const local = join(path, file);
    await withConnection(async (conn) => {
      const schema = (
        await conn.runAndReadAll(`SELECT name, type, logical_type FROM parquet_schema('${local}')`)
      ).getRowObjectsJson() as Array<{ name: string; type: string | null; logical_type: string | null }>;
      const byName = new Map(schema.map((c) => [c.name, c]));
      assert.ok(!byName.has('region'), 'partition columns are not written into data files');
      const ts = byName.get('ts')!;
      assert.equal(ts.type, 'INT64');
      assert.match(
        String(ts.logical_type),
        /TimestampType\(isAdjustedToUTC=1, unit=TimeUnit\(MILLIS=<null>, MICROS=MicroSeconds\(\), NANOS=<null>\)\)/,
      );
      assert.equal(byName.get('day')!.type, 'INT32');
      assert.match(String(byName.get('amount')!.logical_type), /DecimalType\(scale=2, precision=10\)/);
      const got = (
        await conn.runAndReadAll(
          `SELECT id, ts, amount, address.geo.lat AS lat FROM read_parquet('${local}') ORDER BY id`,
        )
      ).getRowObjectsJson();
      assert.deepEqual(got, [
        { id: rows[0].id, ts: '2026-01-02 12:34:56.123457+00', amount: rows[0].amount, lat: 0.125 },
        { id: rows[1].id, ts: '2026-01-03 12:34:56.123458+00', amount: rows[1].amount, lat: 0.25 },
      ]);
    });
  });
});
