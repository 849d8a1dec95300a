/**
 * Column invariants (PROTOCOL.md "Column Invariants"): every write path (append,
 * overwrite, MERGE, UPDATE) refuses a batch with a row whose invariant is false or null,
 * names the column, the invariant and a violating value, and commits nothing. Tables
 * with invariants come from our own create (a schema edited to carry `delta.invariants`)
 * and from delta-rs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, overwrite } from '../../src/table/ops/append.ts';
import { merge } from '../../src/table/ops/merge.ts';
import { update } from '../../src/table/ops/rewrite-where.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import type { StructField, StructType } from '../../src/table/schema.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { pythonSkip } from '../interop/helpers.ts';
import { field, newTable, sortBy, tempDir } from './data-helpers.ts';

function withInvariant(f: StructField, expression: string): StructField {
  return { ...f, metadata: { 'delta.invariants': JSON.stringify({ expression: { expression } }) } };
}

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('id', 'long'),
    withInvariant(field('amount', 'long'), 'amount > 0'),
    {
      name: 'address',
      type: {
        type: 'struct',
        fields: [withInvariant(field('zip', 'string'), 'length(address.zip) = 5')],
      },
      nullable: true,
      metadata: {},
    },
    field('p', 'string'),
  ],
};

function parquetFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet'));
}

function broken(column: string, invariant: string, value: RegExp) {
  return (err: unknown) => {
    assert.ok(isTributaryError(err, 'TABLE_SCHEMA_MISMATCH'), String(err));
    assert.equal(err.details.column, column);
    assert.equal(err.details.invariant, invariant);
    assert.match(err.message, new RegExp(`'${column}'.*${invariant.replace(/[()]/g, '\\$&')}`));
    assert.match(err.message, value);
    return true;
  };
}

describe('column invariants on write', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  // readRows returns longs as exact decimal text.
  const good = [
    { id: 1, amount: 10, address: { zip: '75001' }, p: 'a' },
    { id: 2, amount: 20, address: { zip: '10115' }, p: 'b' },
  ];

  test('append and overwrite: a violating row fails the batch and nothing is committed', async () => {
    const dir = `${tmp.dir}/append`;
    const { table } = await newTable(dir, SCHEMA, ['p']);
    await append(table, { rows: good });
    const files = parquetFiles(dir);
    const version = (await table.snapshot()).version;

    const bad = [...good, { id: 3, amount: -5, address: { zip: '12345' }, p: 'c' }];
    await assert.rejects(append(table, { rows: bad }), broken('amount', 'amount > 0', /row 3.*"-5"/));
    // A null makes the expression null, which Spark (and we) count as a violation.
    await assert.rejects(
      append(table, { rows: [{ id: 4, amount: null, address: { zip: '12345' }, p: 'a' }] }),
      broken('amount', 'amount > 0', /value null/),
    );
    await assert.rejects(
      overwrite(table, { rows: [{ id: 5, amount: 1, address: { zip: '123' }, p: 'a' }] }),
      broken('address.zip', 'length(address.zip) = 5', /"123"/),
    );
    // The same through SQL over NDJSON-like input (the streaming fast path).
    await assert.rejects(
      append(table, { sql: "SELECT 6 AS id, 0 AS amount, {'zip': '99999'} AS address, 'a' AS p" }),
      broken('amount', 'amount > 0', /"0"/),
    );

    assert.equal((await table.snapshot()).version, version);
    assert.deepEqual(parquetFiles(dir).sort(), files.sort());
    assert.deepEqual(
      sortBy(await readRows(table, await table.snapshot()), 'id').map((r) => r.id),
      ['1', '2'],
    );
  });

  test('MERGE and UPDATE enforce the invariants on the rows they write', async () => {
    const dir = `${tmp.dir}/merge`;
    const { table } = await newTable(dir, SCHEMA);
    await append(table, { rows: good });
    const version = (await table.snapshot()).version;
    await assert.rejects(
      merge(table, { rows: [{ id: 2, amount: -1, address: { zip: '10115' }, p: 'b' }] }, { on: ['id'] }),
      broken('amount', 'amount > 0', /"-1"/),
    );
    await assert.rejects(
      update(table, { where: 'id = 1', set: { amount: 'amount - 100' } }),
      broken('amount', 'amount > 0', /"-90"/),
    );
    assert.equal((await table.snapshot()).version, version);

    await merge(table, { rows: [{ id: 2, amount: 25, address: { zip: '10117' }, p: 'b' }] }, { on: ['id'] });
    await update(table, { where: 'id = 1', set: { amount: 'amount + 1' } });
    assert.deepEqual(
      sortBy(await readRows(table, await table.snapshot()), 'id').map((r) => [r.id, r.amount]),
      [
        ['1', '11'],
        ['2', '25'],
      ],
    );
  });

  test('an invariant DuckDB cannot evaluate refuses the write instead of skipping the check', async () => {
    const schema: StructType = {
      type: 'struct',
      fields: [withInvariant(field('x', 'long'), 'no_such_function(x)')],
    };
    const dir = `${tmp.dir}/unknown`;
    const { table } = await newTable(dir, schema);
    await assert.rejects(append(table, { rows: [{ x: 1 }] }), (err: unknown) => {
      assert.ok(isTributaryError(err, 'TABLE_INVALID_SCHEMA'), String(err));
      assert.equal(err.details.column, 'x');
      return true;
    });
    assert.equal((await table.snapshot()).version, 0);
    assert.deepEqual(parquetFiles(dir), []);
  });

  const skip = pythonSkip();
  test('a table delta-rs created with an invariant', { skip }, async () => {
    const dir = `${tmp.dir}/deltars`;
    const python = process.env.TRIBUTARY_TEST_PYTHON ?? `${process.cwd()}/.venv/bin/python`;
    const script = [
      'import json, sys',
      'from deltalake import DeltaTable, Field, Schema',
      "inv = json.dumps({'expression': {'expression': 'amount > 0'}})",
      "DeltaTable.create(sys.argv[1], schema=Schema([Field('id', 'long', nullable=True), Field('amount', 'long', nullable=True, metadata={'delta.invariants': inv})]))",
    ].join('\n');
    execFileSync(python, ['-c', script, dir]);
    const table = await DeltaTable.open(new LocalStore(dir));
    await assert.rejects(
      append(table, {
        rows: [
          { id: 1, amount: 3 },
          { id: 2, amount: -3 },
        ],
      }),
      broken('amount', 'amount > 0', /row 2.*"-3"/),
    );
    assert.equal((await table.snapshot()).version, 0);
    await append(table, { rows: [{ id: 1, amount: 3 }] });
    assert.deepEqual(await readRows(table, await table.snapshot()), [{ id: '1', amount: '3' }]);
  });
});
