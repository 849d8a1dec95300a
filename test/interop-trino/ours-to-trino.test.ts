/**
 * Tables Tributary writes, read by Trino's Delta Lake connector (an independent
 * implementation in Java: its own log replay, checkpoint and Parquet readers) with exactly
 * the rows we expect: every type, awkward partition values, file skipping on our
 * statistics, after MERGE, UPDATE and
 * DELETE, across a checkpoint (and from the checkpoint alone), after OPTIMIZE and VACUUM,
 * after a column was added, by time travel. The server is the test run's (trino.ts); the
 * file registers its tables in a schema of its own.
 *
 * Trino reads a Delta `timestamp` as `timestamp(3) with time zone` (its documented type
 * mapping): it sees our microseconds rounded to the millisecond, and the expected rows
 * are rounded the same way (`trinoTimestamp`).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, DeltaTable, merge, optimize } from '../../src/table/index.ts';
import type { StructType } from '../../src/table/schema.ts';
import { field, struct } from '../interop/fixtures.ts';
import { cleanup, normRows, sortRows, tempDir } from '../interop/helpers.ts';
import {
  copyFromCheckpoint,
  equalityProbes,
  writeAllTypes,
  writeCheckpointed,
  writeFourFiles,
  writeMutations,
  writeSmallFiles,
} from '../interop/histories.ts';
import { SCHEMA, SCHEMA_ROWS } from '../interop-spark/fixtures.ts';
import { sqlString, TrinoError, TrinoSchema, trino, trinoSkip, trinoTimestamp } from './trino.ts';

const skip = trinoSkip();

type Row = Record<string, unknown>;

/** The rows Trino should read for rows of SCHEMA: `ts` to the millisecond. */
const asTrinoReads = (rows: Row[]) =>
  sortRows(rows.map((r) => ({ ...r, ts: r.ts === null ? null : trinoTimestamp(r.ts as string) })));

/** Trino's rows for `sql`, in the normal form of `schema` (test/interop/helpers.ts). */
async function rowsOf(sql: string, schema: StructType = SCHEMA): Promise<Row[]> {
  return normRows((await trino(sql)).rows, schema);
}

/** Column names and Trino types of a table (DESCRIBE). */
async function columnsOf(table: string): Promise<string[][]> {
  return (await trino(`DESCRIBE ${table}`)).rows.map((r) => [r.Column as string, r.Type as string]);
}

const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
/** A decimal's text as an integer of its smallest unit (`-12.30` → -1230n). */
const unscaled = (d: string) => BigInt(d.replace('.', ''));
const decimalText = (n: bigint, scale: number) => {
  const digits = (n < 0n ? -n : n).toString().padStart(scale + 1, '0');
  return `${n < 0n ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
};

describe('tables Tributary writes, read by Trino (Delta Lake connector)', { skip }, () => {
  let dir: string;
  let schema: TrinoSchema;
  before(async () => {
    dir = await tempDir('ours-trino');
    schema = await TrinoSchema.create('ours');
  });
  after(async () => {
    await schema?.drop();
    await cleanup(dir);
  });

  test('every type and awkward partition values (space : / = % unicode null) read back exactly', async () => {
    const path = join(dir, 'all-types');
    const { rows } = await writeAllTypes(path, SCHEMA_ROWS);
    const t = await schema.register(path, 'all_types');

    // Each Delta type as Trino's connector documents it; timestamps with a time zone (UTC).
    assert.deepEqual(await columnsOf(t), [
      ['id', 'bigint'],
      ['region', 'varchar'],
      ['i32', 'integer'],
      ['i16', 'smallint'],
      ['i8', 'tinyint'],
      ['f64', 'double'],
      ['f32', 'real'],
      ['flag', 'boolean'],
      ['name', 'varchar'],
      ['raw', 'varbinary'],
      ['day', 'date'],
      ['ts', 'timestamp(3) with time zone'],
      ['amount', 'decimal(10,2)'],
      ['big', 'decimal(38,6)'],
      ['address', 'row(city varchar, geo row(lat double, lon double))'],
      ['tags', 'array(varchar)'],
      ['items', 'array(row(sku varchar, qty integer))'],
      ['attrs', 'map(varchar, bigint)'],
    ]);
    assert.deepEqual(await rowsOf(`SELECT * FROM ${t}`), asTrinoReads(rows));

    // Partition pruning on values that need escaping in the path, and on null.
    const byRegion = await trino(
      `SELECT region, count(*) AS n FROM ${t} WHERE region IN ('us east', 'a:b', 'x/y', 'k=v', '100%', 'zürich 東京') OR region IS NULL GROUP BY region`,
    );
    const counts = new Map<unknown, number>();
    for (const r of rows) counts.set(r.region, (counts.get(r.region) ?? 0) + 1);
    counts.delete('plain');
    assert.deepEqual(
      sortRows(byRegion.rows.map((r) => ({ region: r.region, n: Number(r.n) }))),
      sortRows([...counts].map(([region, n]) => ({ region, n }))),
    );

    // Sums beyond 2^53 and at 38 digits stay exact (as text: JSON numbers would round).
    const [sums] = (
      await trino(
        `SELECT CAST(sum(id) AS varchar) AS ids, CAST(sum(big) AS varchar) AS big, CAST(sum(amount) AS varchar) AS amount FROM ${t}`,
      )
    ).rows;
    assert.deepEqual(sums, {
      ids: String(sum(rows.map((r) => BigInt(r.id as string)))),
      big: decimalText(sum(rows.map((r) => unscaled(r.big as string))), 6),
      amount: decimalText(sum(rows.map((r) => unscaled(r.amount as string))), 2),
    });
  });

  test("Trino's file skipping on our add.stats finds every row (truncated strings, micros timestamps)", async () => {
    // Several rows per file, so each file's min/max matter: Trino skips files by them, and
    // a min too high or a max too low would make it miss rows.
    const path = join(dir, 'skipping');
    const rows = await writeFourFiles(path, SCHEMA_ROWS);
    const t = await schema.register(path, 'skipping');
    assert.equal(Number((await trino(`SELECT count(DISTINCT "$path") AS n FROM ${t}`)).rows[0].n), 4);

    const literals: Record<string, (r: Row) => string> = {
      id: (r) => String(r.id),
      ts: (r) =>
        `TIMESTAMP '${trinoTimestamp(r.ts as string)
          .replace('T', ' ')
          .replace('000Z', ' UTC')}'`,
      name: (r) => sqlString(r.name as string),
      amount: (r) => `DECIMAL '${r.amount}'`,
      big: (r) => `DECIMAL '${r.big}'`,
      day: (r) => `DATE '${r.day}'`,
    };
    const { probes, expected } = equalityProbes(rows, Object.keys(literals), (r, column) =>
      column === 'ts' ? trinoTimestamp(r.ts as string) : r[column],
    );
    const branches = probes.map(
      ({ probe, column, row }) =>
        `SELECT '${probe}' AS probe, CAST(id AS varchar) AS id FROM ${t} WHERE ${column} = ${literals[column](row)}`,
    );
    assert.deepEqual(sortRows((await trino(branches.join('\nUNION ALL\n'))).rows), expected);
  });

  test('after MERGE, UPDATE and DELETE, each version reads as expected (FOR VERSION AS OF)', async () => {
    const path = join(dir, 'mutations');
    const expected = await writeMutations(path, SCHEMA_ROWS);
    const t = await schema.register(path, 'mutations');
    for (let v = 1; v < expected.length; v++) {
      assert.deepEqual(
        await rowsOf(`SELECT * FROM ${t} FOR VERSION AS OF ${v}`),
        asTrinoReads(expected[v]),
        `Trino at version ${v}`,
      );
    }
    assert.deepEqual(await rowsOf(`SELECT * FROM ${t}`), asTrinoReads(expected[expected.length - 1]));
    const history = await trino(`SELECT version, operation FROM delta.${schema.name}."mutations$history"`);
    assert.deepEqual(
      history.rows.map((r) => [Number(r.version), r.operation]).sort((a, b) => Number(a[0]) - Number(b[0])),
      [
        [0, 'CREATE TABLE'],
        [1, 'WRITE'],
        [2, 'MERGE'],
        [3, 'UPDATE'],
        [4, 'DELETE'],
      ],
    );
  });

  test('across a checkpoint (12 commits): by version, by timestamp, and from our checkpoint alone', async () => {
    const path = join(dir, 'checkpointed');
    const clock = new ManualClock(Date.UTC(2026, 2, 1));
    const { expected, commitTimes } = await writeCheckpointed(path, SCHEMA_ROWS, clock);
    const t = await schema.register(path, 'checkpointed');

    assert.deepEqual(await rowsOf(`SELECT * FROM ${t}`), asTrinoReads(expected[12]));
    assert.deepEqual(await rowsOf(`SELECT * FROM ${t} FOR VERSION AS OF 4`), asTrinoReads(expected[4]));
    // Half a minute after commit 7: version 7.
    const at = new Date(commitTimes[7] + 30_000).toISOString().replace('T', ' ').replace('Z', ' UTC');
    assert.deepEqual(
      await rowsOf(`SELECT * FROM ${t} FOR TIMESTAMP AS OF TIMESTAMP '${at}'`),
      asTrinoReads(expected[7]),
    );

    // Without commits 0..10 Trino can only rebuild the table from our checkpoint.
    const copy = join(dir, 'checkpoint-only');
    await copyFromCheckpoint(path, copy);
    const c = await schema.register(copy, 'checkpoint_only');
    assert.deepEqual(
      (await columnsOf(c)).map(([name]) => name),
      SCHEMA.fields.map((f) => f.name),
    );
    assert.deepEqual(await rowsOf(`SELECT * FROM ${c}`), asTrinoReads(expected[12]));
    assert.deepEqual(await rowsOf(`SELECT * FROM ${c} FOR VERSION AS OF 11`), asTrinoReads(expected[11]));
    // Versions before the checkpoint are gone, and Trino says so instead of guessing.
    await assert.rejects(trino(`SELECT * FROM ${c} FOR VERSION AS OF 5`), TrinoError);
  });

  test('OPTIMIZE then VACUUM: same rows from fewer files; the old version still reads its 12', async () => {
    const path = join(dir, 'compacted');
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const { table, rows } = await writeSmallFiles(path, SCHEMA_ROWS, clock);
    clock.advance(1000);
    const res = await optimize(table);
    assert.equal(res.filesRemoved, 12);
    assert.equal(res.filesAdded, 2);
    const t = await schema.register(path, 'compacted');

    const files = async (at: string) =>
      Number((await trino(`SELECT count(DISTINCT "$path") AS n FROM ${t} ${at}`)).rows[0].n);
    assert.equal(await files(''), 2);
    assert.deepEqual(await rowsOf(`SELECT * FROM ${t}`), asTrinoReads(rows));
    assert.equal(await files(`FOR VERSION AS OF ${res.version! - 1}`), 12);
    assert.deepEqual(
      await rowsOf(`SELECT * FROM ${t} FOR VERSION AS OF ${res.version! - 1}`),
      asTrinoReads(rows),
    );

    clock.advance(8 * 24 * 3600 * 1000); // past the default 7-day retention
    assert.equal((await table.vacuum()).deleted.length, 12);
    assert.equal(await files(''), 2);
    assert.deepEqual(await rowsOf(`SELECT * FROM ${t}`), asTrinoReads(rows));
  });

  test('columns added by schema evolution (append, MERGE) read as NULL in the files written before', async () => {
    const path = join(dir, 'evolved');
    const base = struct(field('id', 'long'), field('p', 'string'), field('v', 'string'));
    const table = await DeltaTable.create(new LocalStore(path), { schema: base, partitionColumns: ['p'] });
    await append(table, {
      rows: [
        { id: 1n, p: 'x', v: 'a' },
        { id: 2n, p: 'y', v: 'b' },
      ],
    });
    await append(table, { rows: [{ id: 3n, p: 'x', v: 'c', extra: 'new column' }] }, { schemaMode: 'merge' });
    // A MERGE adding `tip`: it rewrites id 2's file (tip NULL in the row it copies) and inserts id 4.
    const res = await merge(
      table,
      {
        sql: "SELECT * FROM (VALUES (2::BIGINT, 'y', 'b2', 2.50::DECIMAL(10,2)), (4::BIGINT, 'x', 'd', NULL)) AS t(id, p, v, tip)",
      },
      { on: ['id'], schemaMode: 'merge' },
    );
    assert.equal(res.version, 3);
    const t = await schema.register(path, 'evolved');

    const evolved = struct(...base.fields, field('extra', 'string'), field('tip', 'decimal(10,2)'));
    assert.deepEqual(await columnsOf(t), [
      ['id', 'bigint'],
      ['p', 'varchar'],
      ['v', 'varchar'],
      ['extra', 'varchar'],
      ['tip', 'decimal(10,2)'],
    ]);
    assert.deepEqual(
      await rowsOf(`SELECT * FROM ${t}`, evolved),
      sortRows([
        { id: '1', p: 'x', v: 'a', extra: null, tip: null },
        { id: '2', p: 'y', v: 'b2', extra: null, tip: '2.50' },
        { id: '3', p: 'x', v: 'c', extra: 'new column', tip: null },
        { id: '4', p: 'x', v: 'd', extra: null, tip: null },
      ]),
    );
    // Version 1, before either column: its rows, read with that version's columns.
    const v1 = await trino(`SELECT * FROM ${t} FOR VERSION AS OF 1`);
    assert.deepEqual(
      v1.columns.map((c) => c.name),
      ['id', 'p', 'v'],
    );
    assert.deepEqual(
      normRows(v1.rows, base),
      sortRows([
        { id: '1', p: 'x', v: 'a' },
        { id: '2', p: 'y', v: 'b' },
      ]),
    );
  });
});
