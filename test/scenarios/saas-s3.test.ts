/**
 * The sales pipeline (pipelines/saas.yaml: a dedup transform, 5-minute windows, a sink
 * that dedups over its table, an Avro topic sink) with its tables and its window and
 * dedup state on the real S3 test server (`tributary run saas --lake s3://…`), against
 * the same input run into a local directory: delta-rs reads the same rows from every
 * table (bronze's processing time aside), and the state is on S3, none in the data
 * directory.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/storage/open.ts';
import type { S3Store } from '../../src/storage/s3.ts';
import { startCli } from '../helpers/cli-child.ts';
import { freshBucket, s3Env, s3Missing } from '../helpers/s3.ts';
import { deltaRsRead, pythonSkip, sortRows } from '../interop/helpers.ts';

const TABLES = ['sales_bronze', 'sales_silver', 'sales_revenue_5m', 'sales_late_events'];
const skip = s3Missing() ?? pythonSkip();

test('saas with its tables and state on S3 holds the same rows as on a local disk', {
  skip: skip ?? false,
  timeout: 300_000,
}, async () => {
  Object.assign(process.env, s3Env());
  const dir = mkdtempSync(join(tmpdir(), 'tributary-saas-s3-'));
  const bucket = await freshBucket('tributary-saas');
  try {
    const data = join(dir, 'data');
    const gen = await startCli(['generate', 'sales', '--events', '2500', '--seed', '9', '--data-dir', data])
      .exit;
    assert.equal(gen.code, 0, `generator failed:\n${gen.stderr}`);
    const lake = bucket.url('warehouse');
    const localLake = join(dir, 'local-lake');
    // 300 records a batch: several batches, so state is saved and restored between them.
    const run = (where: string) =>
      startCli([
        'run',
        'saas',
        '--until-caught-up',
        '--max-records',
        '300',
        '--data-dir',
        data,
        '--lake',
        where,
      ]).exit;
    for (const where of [lake, localLake]) {
      const done = await run(where);
      assert.equal(done.code, 0, `run into ${where} failed:\n${done.stderr}`);
    }

    const state = openStore(`${lake}/_state/saas`) as S3Store;
    try {
      assert.ok((await state.list('')).length > 0, 'the window and dedup state is on S3');
    } finally {
      state.destroy();
    }
    assert.ok(!existsSync(join(data, 'state')), 'no state in the data directory');

    for (const name of TABLES) {
      const onS3 = await deltaRsRead(`${lake}/${name}`);
      const onDisk = await deltaRsRead(join(localLake, name));
      assert.ok(onDisk.rows.length > 0, `${name} has rows`);
      assert.equal(onS3.version, onDisk.version, `${name}: as many commits on S3 as on disk`);
      const strip = (rows: Record<string, unknown>[]) =>
        sortRows(rows.map(({ pipeline_time: _t, ...rest }) => rest));
      assert.deepEqual(strip(onS3.rows), strip(onDisk.rows), `${name}: the same rows`);
    }
  } finally {
    await bucket.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});
