/**
 * replacePartitions: a partition's files swapped for a batch's in one commit. Checked
 * against delta-rs (the rows it reads after the replacement), for idempotency (the
 * same replacement again gives the same rows), for a batch with rows of another
 * partition (refused, nothing committed, no file left), and for two replacements of one
 * partition racing (the loser conflicts, re-plans, and the table ends with its rows
 * only — never both batches).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { append } from '../../src/table/ops/append.ts';
import { replacePartitions } from '../../src/table/ops/replace-partitions.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import type { StructType } from '../../src/table/schema.ts';
import type { TableHandle } from '../../src/table/write/table-handle.ts';
import { deltaRsRead, pythonSkip } from '../interop/helpers.ts';
import { field, newTable, tempDir } from './data-helpers.ts';

const SCHEMA: StructType = {
  type: 'struct',
  fields: [field('id', 'long', false), field('day', 'date'), field('v', 'string')],
};

const rowsFor = (day: string, ids: number[], v: string) => ids.map((id) => ({ id, day, v }));

async function state(table: TableHandle): Promise<string[]> {
  const rows = await readRows(table, await table.snapshot(), { orderBy: 'day, id' });
  return rows.map((r) => `${r.day}/${r.id}/${r.v}`);
}

function parquetFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet'));
}

describe('replacePartitions', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  test('replaces exactly the named partition in one commit; delta-rs reads the result; a re-run changes nothing', async (t) => {
    const dir = join(tmp.dir, 'basic');
    const { table } = await newTable(dir, SCHEMA, ['day']);
    await append(table, {
      rows: [
        ...rowsFor('2026-11-28', [1, 2], 'a'),
        ...rowsFor('2026-11-29', [3, 4, 5], 'a'),
        ...rowsFor('2026-11-30', [6], 'a'),
      ],
    });
    const before = await table.snapshot();
    const res = await replacePartitions(
      table,
      { rows: rowsFor('2026-11-29', [3, 7], 'b') },
      { column: 'day', values: ['2026-11-29'] },
    );
    assert.equal(res.version, before.version + 1, 'one commit');
    assert.equal(res.metrics.numOutputRows, 2);
    assert.equal(res.metrics.numRemovedFiles, 1);
    assert.equal(res.metrics.numRemovedRows, 3);
    const expected = [
      '2026-11-28/1/a',
      '2026-11-28/2/a',
      '2026-11-29/3/b',
      '2026-11-29/7/b',
      '2026-11-30/6/a',
    ];
    assert.deepEqual(await state(table), expected);
    const history = await table.history({ limit: 1 });
    assert.equal(history[0].operation, 'WRITE');
    assert.equal(history[0].operationParameters?.mode, 'Overwrite');

    // The same replacement again: same rows (new files, same content).
    const again = await replacePartitions(
      table,
      { rows: rowsFor('2026-11-29', [3, 7], 'b') },
      { column: 'day', values: ['2026-11-29'] },
    );
    assert.equal(again.version, res.version! + 1);
    assert.deepEqual(await state(table), expected);

    const skip = pythonSkip();
    if (skip) return t.skip(skip);
    const rs = await deltaRsRead(dir);
    assert.equal(rs.version, again.version);
    assert.deepEqual(
      rs.rows.map((r) => `${r.day}/${r.id}/${r.v}`).sort(),
      expected,
      'delta-rs reads the replaced partition and the untouched ones',
    );
  });

  test('an empty batch empties the partition; several partitions at once', async () => {
    const { table } = await newTable(join(tmp.dir, 'multi'), SCHEMA, ['day']);
    await append(table, {
      rows: [...rowsFor('2026-11-28', [1], 'a'), ...rowsFor('2026-11-29', [2], 'a')],
    });
    await replacePartitions(
      table,
      { sql: "SELECT 9 AS id, DATE '2026-11-28' AS day, 'c' AS v WHERE false" },
      { column: 'day', values: ['2026-11-28'] },
    );
    assert.deepEqual(await state(table), ['2026-11-29/2/a']);
    await replacePartitions(
      table,
      { rows: [...rowsFor('2026-11-28', [5], 'd'), ...rowsFor('2026-11-29', [6], 'd')] },
      { column: 'day', values: ['2026-11-28', '2026-11-29'] },
    );
    assert.deepEqual(await state(table), ['2026-11-28/5/d', '2026-11-29/6/d']);
  });

  test('a batch with a row of another partition is refused: nothing committed, no file left', async () => {
    const dir = join(tmp.dir, 'outside');
    const { table } = await newTable(dir, SCHEMA, ['day']);
    await append(table, { rows: rowsFor('2026-11-29', [1], 'a') });
    const version = (await table.snapshot()).version;
    const files = parquetFiles(dir);
    await assert.rejects(
      replacePartitions(
        table,
        { rows: [...rowsFor('2026-11-29', [2], 'b'), ...rowsFor('2026-11-30', [3], 'b')] },
        { column: 'day', values: ['2026-11-29'] },
      ),
      (err) => isTributaryError(err, 'TABLE_INVALID_ARGUMENT') && /2026-11-30/.test(err.message),
    );
    assert.equal((await table.snapshot()).version, version);
    assert.deepEqual(parquetFiles(dir), files, 'the files written for the refused batch are deleted');
    await assert.rejects(
      replacePartitions(table, { rows: rowsFor('2026-11-29', [2], 'b') }, { column: 'v', values: ['a'] }),
      (err) => isTributaryError(err, 'TABLE_INVALID_ARGUMENT') && /partitioned by \[day\]/.test(err.message),
    );
  });

  test('a timestamp partition named in another spelling; a string column: the empty value is the null partition', async () => {
    const ts: StructType = { type: 'struct', fields: [field('id', 'long'), field('hour', 'timestamp')] };
    const { table } = await newTable(join(tmp.dir, 'hours'), ts, ['hour']);
    await append(table, {
      rows: [
        { id: 1, hour: '2026-11-29T10:00:00Z' },
        { id: 2, hour: '2026-11-29T11:00:00Z' },
      ],
    });
    const res = await replacePartitions(
      table,
      { rows: [{ id: 3, hour: '2026-11-29T10:00:00Z' }] },
      { column: 'hour', values: ['2026-11-29T10:00:00Z'] },
    );
    assert.equal(res.metrics.numRemovedFiles, 1);
    const rows = await readRows(table, await table.snapshot(), { orderBy: 'id' });
    assert.deepEqual(
      rows.map((r) => Number(r.id)),
      [2, 3],
    );
    await assert.rejects(
      replacePartitions(
        table,
        { rows: [{ id: 4, hour: '2026-11-29T11:00:00Z' }] },
        { column: 'hour', values: ['2026-11-29 10:00:00'] },
      ),
      (err) =>
        isTributaryError(err, 'TABLE_INVALID_ARGUMENT') &&
        /outside partition hour=2026-11-29 10:00:00/.test(err.message),
    );

    const str: StructType = { type: 'struct', fields: [field('id', 'long'), field('k', 'string')] };
    const s = await newTable(join(tmp.dir, 'strings'), str, ['k']);
    await append(s.table, {
      rows: [
        { id: 1, k: '' },
        { id: 2, k: 'a' },
      ],
    });
    await replacePartitions(s.table, { rows: [{ id: 3, k: null }] }, { column: 'k', values: [null] });
    const left = await readRows(s.table, await s.table.snapshot(), { orderBy: 'id' });
    assert.deepEqual(
      left.map((r) => `${r.id}:${r.k}`),
      ['2:a', '3:null'],
    );
  });

  test('two replacements of one partition racing: the loser re-plans; the table holds its rows only', async () => {
    const { table } = await newTable(join(tmp.dir, 'race'), SCHEMA, ['day']);
    await append(table, { rows: rowsFor('2026-11-29', [1, 2], 'old') });
    // A handle whose first commit lets another replacement of the same partition land first.
    let raced = false;
    const racing: TableHandle = {
      store: table.store,
      snapshot: (at) => table.snapshot(at),
      async commit(actions, opts) {
        if (!raced) {
          raced = true;
          await replacePartitions(
            table,
            { rows: rowsFor('2026-11-29', [8, 9], 'other') },
            { column: 'day', values: ['2026-11-29'] },
          );
        }
        return table.commit(actions, opts);
      },
    };
    const res = await replacePartitions(
      racing,
      { rows: rowsFor('2026-11-29', [3], 'ours') },
      { column: 'day', values: ['2026-11-29'] },
    );
    assert.equal(res.attempts, 2, 'the first attempt conflicted and was planned again');
    assert.equal(res.metrics.numRemovedRows, 2, "the second attempt removed the other writer's rows");
    assert.deepEqual(await state(table), ['2026-11-29/3/ours']);
  });
});
