/**
 * A partitioned table read by the query layer: each partition's files are scanned on
 * their own with the partition values as constants (read/relation.ts). Files written
 * before a column was added read it as NULL, also when one partition's files all lack
 * it and another's have it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runQuery } from '../../src/query/run.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, DeltaTable } from '../../src/table/index.ts';

describe('partitioned tables through the query layer', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  for (const withNull of [true, false]) {
    // With a null partition value the values come from the log, one scan per partition;
    // without, from the files' paths (each path checked against the log), one scan.
    test(`partition values are the log’s, and a column added later is NULL in older files of any partition${withNull ? ' (a null partition)' : ''}`, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'tributary-relation-'));
      dirs.push(dataDir);
      const table = await DeltaTable.create(new LocalStore(join(dataDir, 'tables', 't')), {
        schema: {
          type: 'struct',
          fields: [
            { name: 'id', type: 'long', nullable: true, metadata: {} },
            { name: 'p', type: 'string', nullable: true, metadata: {} },
            { name: 'day', type: 'date', nullable: true, metadata: {} },
          ],
        },
        partitionColumns: ['p', 'day'],
      });
      await append(table, {
        rows: [
          { id: 1, p: 'a', day: '2026-01-01' },
          { id: 2, p: 'b', day: '2026-01-02' },
          { id: 3, p: withNull ? null : 'd', day: '2026-01-02' },
        ],
      });
      // `score` arrives later, in partition a only; partition b's files never have it.
      await append(
        table,
        { rows: [{ id: 4, p: 'a', day: '2026-01-01', score: 1.5 }] },
        { schemaMode: 'merge' },
      );
      await append(
        table,
        { rows: [{ id: 5, p: 'c', day: '2026-01-03', score: 2.5 }] },
        { schemaMode: 'merge' },
      );
      const res = await runQuery('SELECT id, p, day::VARCHAR AS day, score FROM t ORDER BY id', { dataDir });
      assert.deepEqual(
        res.rows.map((r) => [r.id, r.p, r.day, r.score]),
        [
          [1n, 'a', '2026-01-01', null],
          [2n, 'b', '2026-01-02', null],
          [3n, withNull ? null : 'd', '2026-01-02', null],
          [4n, 'a', '2026-01-01', 1.5],
          [5n, 'c', '2026-01-03', 2.5],
        ],
      );
      const byPart = await runQuery(
        'SELECT p, count(*) AS n, count(score) AS scored FROM t GROUP BY p ORDER BY p',
        {
          dataDir,
        },
      );
      assert.deepEqual(
        byPart.rows.map((r) => [r.p, r.n, r.scored]),
        [['a', 2n, 1n], ['b', 1n, 0n], ['c', 1n, 1n], withNull ? [null, 1n, 0n] : ['d', 1n, 0n]],
      );
      const filtered = await runQuery(
        "SELECT id FROM t WHERE p = 'a' AND day = DATE '2026-01-01' ORDER BY id",
        {
          dataDir,
        },
      );
      assert.deepEqual(
        filtered.rows.map((r) => r.id),
        [1n, 4n],
      );
    });
  }
});
