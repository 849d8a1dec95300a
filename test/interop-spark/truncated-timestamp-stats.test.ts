/**
 * Regression test (found by spark-to-ours.test.ts, runs without Spark): timestamp
 * `maxValues` truncated down to milliseconds, as PROTOCOL.md ("Per-file Statistics")
 * specifies and Spark writes, once made our data skipping and MERGE's key pruning skip
 * the file holding the largest value — a filter found nothing, and a MERGE inserted a
 * duplicate instead of updating the row.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LocalStore } from '../../src/storage/local.ts';
import { append, DeltaTable, merge, readRows } from '../../src/table/index.ts';
import { field, struct } from '../interop/fixtures.ts';
import { cleanup, tempDir } from '../interop/helpers.ts';

const SCHEMA = struct(field('id', 'long'), field('ts', 'timestamp'));
const LATEST = '2026-01-01T00:00:00.123456Z';

let dir: string;
before(async () => {
  dir = await tempDir('ts-stats');
});
after(() => cleanup(dir));

/** A one-file table whose stats say what Spark would: max `…00.123Z` for `…00.123456`. */
async function sparkLikeTable(name: string): Promise<DeltaTable> {
  const path = join(dir, name);
  const table = await DeltaTable.create(new LocalStore(path), { schema: SCHEMA });
  await append(table, {
    rows: [
      { id: 1n, ts: '2026-01-01T00:00:00.000001Z' },
      { id: 2n, ts: LATEST },
    ],
  });
  const commit = join(path, '_delta_log', '00000000000000000001.json');
  const text = await readFile(commit, 'utf8');
  // Our writer rounds the max up to .124; write it the protocol's (and Spark's) way.
  const truncated = text.replace('2026-01-01T00:00:00.124Z', '2026-01-01T00:00:00.123Z');
  assert.notEqual(truncated, text, `expected a rounded-up max in ${commit}: ${text}`);
  await writeFile(commit, truncated);
  return DeltaTable.open(new LocalStore(path));
}

test('a filter on the largest timestamp finds its row despite a max truncated to ms', async () => {
  const table = await sparkLikeTable('filter');
  const rows = await readRows(table, await table.snapshot(), {
    filter: [{ column: 'ts', op: '=', value: LATEST }],
    columns: ['id'],
  });
  assert.deepEqual(rows, [{ id: '2' }]);
  const above = await readRows(table, await table.snapshot(), {
    filter: [{ column: 'ts', op: '>=', value: '2026-01-01T00:00:00.123400Z' }],
    columns: ['id'],
  });
  assert.deepEqual(above, [{ id: '2' }]);
});

test('MERGE keyed on the timestamp updates the row instead of inserting it again', async () => {
  const table = await sparkLikeTable('merge');
  const m = await merge(
    table,
    { rows: [{ id: 20n, ts: LATEST }] },
    { on: ['ts'], whenMatched: 'update', whenNotMatched: 'insert' },
  );
  assert.deepEqual([m.metrics.numTargetRowsUpdated, m.metrics.numTargetRowsInserted], [1, 0]);
  const rows = await readRows(table, await table.snapshot(), { columns: ['id'], orderBy: 'id' });
  assert.deepEqual(rows, [{ id: '1' }, { id: '20' }]);
});
