/**
 * The local cache of a remote table's data files (src/table/read/scan.ts) after VACUUM,
 * on the real S3 test server: the cache keeps no copy of a file VACUUM deleted, so a
 * read of a version that needs it fails with TABLE_MISSING_FILE exactly as on a local
 * store, and the current version reads the same rows as before.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { openStore } from '../../src/storage/open.ts';
import type { S3Store } from '../../src/storage/s3.ts';
import { append } from '../../src/table/ops/append.ts';
import { optimize } from '../../src/table/ops/optimize.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import type { StructType } from '../../src/table/schema.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { freshBucket, s3Env, s3Missing } from '../helpers/s3.ts';
import { field } from './data-helpers.ts';

const SCHEMA: StructType = { type: 'struct', fields: [field('id', 'long', false), field('v', 'string')] };
const skip = s3Missing();

/** Every file below `dir`, relative to it. */
function filesUnder(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

test('VACUUM on S3 evicts the cached copies of the files it deletes', { skip: skip ?? false }, async () => {
  Object.assign(process.env, s3Env());
  const cache = mkdtempSync(join(tmpdir(), 'tributary-cache-vacuum-'));
  const before = process.env.TRIBUTARY_CACHE_DIR;
  process.env.TRIBUTARY_CACHE_DIR = cache;
  const bucket = await freshBucket();
  const store = openStore(bucket.url('lake/t')) as S3Store;
  try {
    const table = await DeltaTable.create(store, { schema: SCHEMA });
    await append(table, { rows: [{ id: 1, v: 'a' }] });
    await append(table, { rows: [{ id: 2, v: 'b' }] });
    const old = await table.snapshot();
    // readRows gives longs as strings (DuckDB's JSON form).
    const want = [
      { id: '1', v: 'a' },
      { id: '2', v: 'b' },
    ];
    assert.deepEqual(await readRows(table, old, { orderBy: 'id' }), want);
    const oldFiles = old.files().map((a) => a.path);
    const cached = filesUnder(cache);
    for (const f of oldFiles)
      assert.ok(
        cached.some((c) => c.endsWith(`/${f}`)),
        `the read cached ${f} (${cached.join(', ')})`,
      );

    await optimize(table);
    const { deleted } = await table.vacuum({ retentionMs: 0 });
    assert.deepEqual(deleted.sort(), [...oldFiles].sort(), 'VACUUM deleted the files OPTIMIZE replaced');
    const left = filesUnder(cache);
    for (const f of oldFiles)
      assert.ok(!left.some((c) => c.endsWith(`/${f}`)), `the cached copy of ${f} is gone`);

    assert.deepEqual(await readRows(table, await table.snapshot(), { orderBy: 'id' }), want);
    await assert.rejects(
      readRows(table, old, { orderBy: 'id' }),
      (err: unknown) => isTributaryError(err, 'TABLE_MISSING_FILE'),
      'a version whose files VACUUM deleted is not read from the cache',
    );
  } finally {
    store.destroy();
    await bucket.drop();
    if (before === undefined) delete process.env.TRIBUTARY_CACHE_DIR;
    else process.env.TRIBUTARY_CACHE_DIR = before;
    rmSync(cache, { recursive: true, force: true });
  }
});
