/**
 * `kind: maintenance` really compacts a table: twelve small files become one per partition, the rows
 * are unchanged, the old files are vacuumed and a checkpoint is written — as delta-rs
 * reads the table before and after.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../../src/core/clock.ts';
import { checkJobValue, runJob } from '../../../src/jobs/scheduler/index.ts';
import { openStore } from '../../../src/storage/open.ts';
import { append, DeltaTable } from '../../../src/table/index.ts';
import { cleanup, deltaRsRead, pythonSkip, tempDir } from '../../interop/helpers.ts';
import { instantSleep } from './helpers.ts';

async function parquetFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { recursive: true })) {
    if (e.endsWith('.parquet') && !e.startsWith('_delta_log')) out.push(e);
  }
  return out;
}

describe('maintenance task', { skip: pythonSkip() }, () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('jobs-maint');
  });
  after(() => cleanup(dir));

  test('OPTIMIZE + checkpoint + VACUUM: 12 files become one per partition, rows unchanged (delta-rs)', async () => {
    const dataDir = join(dir, 'data');
    const path = join(dataDir, 'tables', 'orders_events');
    const table = await DeltaTable.open(openStore(path), {
      createIfMissing: {
        schema: {
          type: 'struct',
          fields: [
            { name: 'order_id', type: 'string', nullable: false, metadata: {} },
            { name: 'amount', type: 'decimal(12,2)', nullable: true, metadata: {} },
            { name: 'event_hour', type: 'string', nullable: true, metadata: {} },
          ],
        },
        partitionColumns: ['event_hour'],
      },
    });
    for (let i = 0; i < 12; i++) {
      const rows = Array.from({ length: 50 }, (_, j) => ({
        order_id: `ord-${i}-${j}`,
        amount: `${i}.${String(j).padStart(2, '0')}`,
        event_hour: i < 6 ? '2026-11-29-01' : '2026-11-29-02',
      }));
      await append(table, { rows });
    }
    const before = await deltaRsRead(path);
    assert.equal(before.files.length, 12);
    assert.equal(before.rows.length, 600);

    const job = await checkJobValue({
      name: 'orders_maintenance',
      tasks: [
        { name: 'events', kind: 'maintenance', params: { table: 'orders_events', vacuum_retention: '0s' } },
      ],
    });
    const res = await runJob(job, { dataDir, log: () => {} });
    assert.equal(res.state, 'succeeded', res.error ?? '');
    const out = res.tasks[0].output!;
    assert.deepEqual(out.optimize, { version: 12, files_before: 12, files_removed: 12, files_added: 2 });
    assert.equal(out.checkpoint_version, 12);
    assert.equal(out.vacuumed_files, 12);

    const after = await deltaRsRead(path);
    // One file per partition, the same rows.
    assert.equal(after.version, 12);
    assert.equal(after.files.length, 2);
    assert.deepEqual(after.rows, before.rows);
    assert.equal((await parquetFiles(path)).length, 2);
    await fs.access(join(path, '_delta_log', `${String(12).padStart(20, '0')}.checkpoint.parquet`));
  });

  test('a missing table fails the task, unless if_missing: skip', async () => {
    const dataDir = join(dir, 'empty');
    const strict = await checkJobValue({
      name: 'strict',
      tasks: [{ name: 't', kind: 'maintenance', params: { table: 'nothing_here' } }],
    });
    const clock = new ManualClock(Date.now());
    const waits: number[] = [];
    const failed = await runJob(strict, { dataDir, clock, sleep: instantSleep(clock, waits), log: () => {} });
    assert.equal(failed.state, 'failed');
    assert.match(failed.tasks[0].error!, /^\[TABLE_NOT_FOUND\] no table named 'nothing_here'/);
    // A user error is not retried, though the task has 3 retries.
    assert.equal(failed.tasks[0].attempts, 1);
    assert.deepEqual(waits, []);
    const lenient = await checkJobValue({
      name: 'lenient',
      tasks: [{ name: 't', kind: 'maintenance', params: { table: 'nothing_here', if_missing: 'skip' } }],
    });
    const ok = await runJob(lenient, { dataDir, log: () => {} });
    assert.equal(ok.state, 'succeeded');
    assert.deepEqual(ok.tasks[0].output, { table: 'nothing_here', skipped: 'the table does not exist yet' });
  });
});
