/**
 * A batch whose rows all share one combination of partition values is written without
 * DuckDB's PARTITION_BY (write-files.ts, the streaming fast path). It must give the same
 * files a partitioned write gives: the same partition values and directories, the same
 * stats, the same rows read back.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { append, readRows } from '../../src/table/index.ts';
import { fromAddPath } from '../../src/table/partition-path.ts';
import type { StructType } from '../../src/table/schema.ts';
import { parseStats } from '../../src/table/stats.ts';
import { writeFiles } from '../../src/table/write/batch.ts';
import { field, newTable, tempDir } from './data-helpers.ts';

const schema: StructType = {
  type: 'struct',
  fields: [field('id', 'long'), field('name', 'string'), field('p', 'string'), field('day', 'date')],
};

function rowsFor(p: string | null, day: string, from: number, n: number) {
  return Array.from({ length: n }, (_, i) => ({ id: from + i, name: `n${(from + i) % 7}`, p, day }));
}

describe('single-partition append fast path', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  let seq = 0;

  /** Adds for `rows` alone (single partition), and for the same rows next to another partition. */
  async function both(rows: Array<Record<string, unknown>>) {
    const a = await newTable(`${tmp.dir}/t${seq++}`, schema, ['p', 'day']);
    const single = await writeFiles(a.table, await a.table.snapshot(), { rows });
    const b = await newTable(`${tmp.dir}/t${seq++}`, schema, ['p', 'day']);
    const other = rowsFor('other', '2026-02-02', 10_000, 3);
    const general = await writeFiles(b.table, await b.table.snapshot(), { rows: [...rows, ...other] });
    return { single, general, a, b };
  }

  for (const [label, p] of [
    ['an awkward string value', 'a:b/c é'],
    ['a null value', null],
  ] as const) {
    test(`${label}: same partition values, directory and stats as the partitioned write`, async () => {
      const rows = rowsFor(p, '2026-01-05', 0, 50);
      const { single, general, a } = await both(rows);
      assert.equal(single.length, 1);
      const match = general.filter((g) => g.partitionValues.p === p);
      assert.equal(match.length, 1);
      const [s] = single;
      const [g] = match;
      assert.deepEqual(s.partitionValues, { p, day: '2026-01-05' });
      assert.deepEqual(s.partitionValues, g.partitionValues);
      assert.equal(s.path.slice(0, s.path.lastIndexOf('/')), g.path.slice(0, g.path.lastIndexOf('/')));
      assert.deepEqual(parseStats(s.stats), parseStats(g.stats));
      assert.ok(existsSync(a.store.localPath(fromAddPath(s.path))));
    });
  }

  test('an empty string partition value is written as null, like the partitioned path', async () => {
    const { single, general } = await both(rowsFor('', '2026-01-05', 0, 5));
    assert.equal(single[0].partitionValues.p, null);
    assert.ok(general.some((g) => g.partitionValues.p === null));
  });

  test('committed rows read back with their partition values', async () => {
    const { table } = await newTable(`${tmp.dir}/t${seq++}`, schema, ['p', 'day']);
    await append(table, { rows: rowsFor('x=1', '2026-03-01', 0, 20) });
    await append(table, {
      rows: [...rowsFor('y', '2026-03-02', 20, 5), ...rowsFor('z', '2026-03-03', 25, 5)],
    });
    const snap = await table.snapshot();
    assert.equal(snap.files().length, 3);
    const rows = await readRows(table, snap, { orderBy: 'id' });
    assert.equal(rows.length, 30);
    assert.deepEqual(
      rows.slice(18, 22).map((r) => [Number(r.id), r.p, String(r.day).slice(0, 10)]),
      [
        [18, 'x=1', '2026-03-01'],
        [19, 'x=1', '2026-03-01'],
        [20, 'y', '2026-03-02'],
        [21, 'y', '2026-03-02'],
      ],
    );
  });

  test('a large single-partition batch is split to the target size, every file with the values', async () => {
    const { table } = await newTable(`${tmp.dir}/t${seq++}`, schema, ['p', 'day']);
    const rows = rowsFor('big', '2026-01-01', 0, 40_000).map((r) => ({
      ...r,
      name: `${r.name}-${r.id * 7919}`,
    }));
    const adds = await writeFiles(table, await table.snapshot(), { rows }, { targetFileSize: 64 * 1024 });
    assert.ok(adds.length > 1, `expected several files, got ${adds.length}`);
    let total = 0;
    for (const add of adds) {
      assert.deepEqual(add.partitionValues, { p: 'big', day: '2026-01-01' });
      total += parseStats(add.stats)?.numRecords ?? 0;
    }
    assert.equal(total, 40_000);
  });
});
