import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { append } from '../../src/table/ops/append.ts';
import { merge } from '../../src/table/ops/merge.ts';
import { fromAddPath } from '../../src/table/partition-path.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import type { StructType } from '../../src/table/schema.ts';
import { field, newTable, tempDir } from './data-helpers.ts';

const SCHEMA: StructType = {
  type: 'struct',
  fields: [field('id', 'long', false), field('name', 'string'), field('p', 'string')],
};

/** Every file under the table directory except the log: data files and leftovers. */
function dataFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter(
    (f) => !f.startsWith('_delta_log') && f.endsWith('.parquet'),
  );
}

function mismatch(column: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(isTributaryError(err, 'TABLE_SCHEMA_MISMATCH'), String(err));
    assert.equal(err.details.column, column);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('data plane: schema validation', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  test('bad batches fail with TABLE_SCHEMA_MISMATCH and leave the table unchanged', async () => {
    const dir = `${tmp.dir}/bad`;
    const { table } = await newTable(dir, SCHEMA, ['p']);
    await append(table, { rows: [{ id: 1, name: 'a', p: 'x' }] });
    await assert.rejects(
      append(table, {
        rows: [
          { id: 2, p: 'x' },
          { id: 'abc', p: 'y' },
        ],
      }),
      mismatch('id', /row 2.*"abc"/),
    );
    await assert.rejects(
      append(table, {
        rows: [
          { id: 2, p: 'x' },
          { id: null, p: 'y' },
        ],
      }),
      mismatch('id', /null/),
    );
    await assert.rejects(append(table, { rows: [{ name: 'n', p: 'x' }] }), mismatch('id', /requires/));
    await assert.rejects(append(table, { rows: [{ id: 1.5 }] }), mismatch('id', /fraction/));
    await assert.rejects(
      append(table, { rows: [{ id: 3, extra: true }] }),
      (err) =>
        isTributaryError(err, 'TABLE_SCHEMA_MISMATCH') && /'extra'.*schemaMode 'merge'/.test(err.message),
    );
    await assert.rejects(
      append(table, { sql: "SELECT 4 AS id, 'n' AS name, 'x' AS p UNION ALL SELECT NULL, 'm', 'y'" }),
      mismatch('id', /null/),
    );
    await assert.rejects(
      append(table, { sql: "SELECT {'a': 1} AS id, 'x' AS p" }),
      mismatch('id', /does not convert to BIGINT at row 1/),
    );
    const snap = await table.snapshot();
    assert.equal(snap.version, 1);
    assert.equal(dataFiles(dir).length, 1, 'no data file is left behind by a failed write');
    await assert.rejects(
      merge(table, { rows: [{ id: 'zz', p: 'x' }] }, { on: ['id'] }),
      mismatch('id', /"zz"/),
    );
    assert.equal((await table.snapshot()).version, 1);
  });

  test("schemaMode 'merge' adds new columns as nullable in the same commit", async () => {
    const { table } = await newTable(`${tmp.dir}/evolve`, SCHEMA);
    await append(table, { rows: [{ id: 1, name: 'a' }] });
    await assert.rejects(append(table, { rows: [{ id: 2, name: 'b', score: 2.5 }] }), /score/);
    const v = await append(table, { rows: [{ id: 3, score: 3.5, tags: ['t'] }] }, { schemaMode: 'merge' });
    assert.equal(v.version, 2);
    const snap = await table.snapshot();
    const added = snap.schema.fields.find((f) => f.name === 'score');
    assert.deepEqual(added, { name: 'score', type: 'double', nullable: true, metadata: {} });
    const rows = await readRows(table, snap, { orderBy: 'id' });
    assert.deepEqual(
      rows.map((r) => [r.id, r.score, r.tags]),
      [
        ['1', null, null],
        ['3', 3.5, ['t']],
      ],
    );
    const [h] = await table.history({ limit: 1 });
    assert.equal(h.version, 2);
  });

  test('a data file missing from storage is TABLE_MISSING_FILE naming the file and version', async () => {
    const dir = `${tmp.dir}/missing`;
    const { table, store } = await newTable(dir, SCHEMA);
    await append(table, { rows: [{ id: 1 }] });
    const snap = await table.snapshot();
    const [f] = snap.files();
    rmSync(join(dir, fromAddPath(f.path)));
    await assert.rejects(readRows(table, snap), (err) => {
      assert.ok(isTributaryError(err, 'TABLE_MISSING_FILE'));
      assert.equal(err.details.path, f.path);
      assert.equal(err.details.version, 1);
      assert.ok(err.message.includes(f.path));
      return true;
    });
    assert.ok(store);
  });
});
