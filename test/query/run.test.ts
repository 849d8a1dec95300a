import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import { formatResult } from '../../src/query/format.ts';
import { parseAsOfTimestamp, runQuery } from '../../src/query/run.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { openStore } from '../../src/storage/open.ts';
import { append, DeltaTable, deleteWhere } from '../../src/table/index.ts';
import type { StructType } from '../../src/table/schema.ts';

const f = (name: string, type: StructType['fields'][number]['type']) => ({
  name,
  type,
  nullable: true,
  metadata: {},
});
const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    f('id', 'long'),
    f('day', 'date'),
    f('hour', 'timestamp'),
    f('amount', 'decimal(12,2)'),
    f('note', 'string'),
  ],
};
const T0 = Date.UTC(2026, 0, 1);
const REMOTE = 'memory://query-test/tables/remote';

describe('runQuery', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tributary-query-'));
    const clock = new ManualClock(T0);
    const orders = await DeltaTable.create(
      new LocalStore(join(dataDir, 'tables', 'orders')),
      { schema: SCHEMA, partitionColumns: ['day', 'hour'] },
      { clock },
    );
    clock.advance(60_000); // version 1 at T0 + 1 min
    await append(orders, {
      rows: [
        {
          id: 9007199254740993n,
          day: '2026-01-01',
          hour: '2026-01-01T10:00:00Z',
          amount: '10.50',
          note: 'a',
        },
        { id: 2n, day: '2026-01-02', hour: '2026-01-02T11:00:00Z', amount: '-0.01', note: null },
      ],
    });
    clock.advance(60_000); // version 2 at T0 + 2 min
    await append(orders, { rows: [{ id: 3n, day: null, hour: null, amount: '1.00', note: 'c' }] });
    clock.advance(60_000); // version 3 at T0 + 3 min
    await deleteWhere(orders, 'id = 2');
    await DeltaTable.create(new LocalStore(join(dataDir, 'tables', 'gold', 'empty')), { schema: SCHEMA });
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
    // scan() caches files of remote stores under tmpdir/tributary-cache/<hash of the store URL>.
    const key = createHash('sha256').update(openStore(REMOTE).url).digest('hex').slice(0, 16);
    await rm(join(tmpdir(), 'tributary-cache', key), { recursive: true, force: true });
  });

  test('partition columns come back typed; big integers and decimals stay exact', async () => {
    const r = await runQuery('SELECT * FROM orders ORDER BY id', { dataDir });
    assert.deepEqual(
      r.columns.map((c) => c.type),
      ['BIGINT', 'DATE', 'TIMESTAMP WITH TIME ZONE', 'DECIMAL(12,2)', 'VARCHAR'],
    );
    assert.deepEqual(r.rows, [
      { id: 3n, day: null, hour: null, amount: '1.00', note: 'c' },
      {
        id: 9007199254740993n,
        day: '2026-01-01',
        hour: '2026-01-01T10:00:00.000000Z',
        amount: '10.50',
        note: 'a',
      },
    ]);
    const typed = await runQuery(
      "SELECT count(*) AS n FROM orders WHERE day = DATE '2026-01-01' AND hour < TIMESTAMPTZ '2026-01-01 11:00:00+00'",
      { dataDir },
    );
    assert.deepEqual(typed.rows, [{ n: 1n }]);
  });

  test('time travel by version and by timestamp; two versions of one table in one query', async () => {
    const v1 = await runQuery('SELECT id FROM orders VERSION AS OF 1 ORDER BY id', { dataDir });
    assert.deepEqual(v1.rows, [{ id: 2n }, { id: 9007199254740993n }]);
    const atTime = new Date(T0 + 150_000).toISOString().replace('T', ' ').slice(0, 19); // between v2 and v3
    const v2 = await runQuery(`SELECT count(*) AS n FROM orders TIMESTAMP AS OF '${atTime}'`, { dataDir });
    assert.deepEqual(v2.rows, [{ n: 3n }]);
    const diff = await runQuery(
      'SELECT o.id FROM orders AT (VERSION => 2) o ANTI JOIN orders n ON o.id = n.id',
      { dataDir },
    );
    assert.deepEqual(diff.rows, [{ id: 2n }], 'the row deleted in version 3');
  });

  test('dotted names, quoted paths and delta_scan(), an empty table as a typed empty relation', async () => {
    const empty = await runQuery('SELECT * FROM gold.empty', { dataDir });
    assert.deepEqual(empty.rows, []);
    assert.equal(empty.columns[3].type, 'DECIMAL(12,2)');
    const path = join(dataDir, 'tables', 'orders');
    const byPath = await runQuery(
      `SELECT count(*) AS n FROM '${path}' JOIN delta_scan('${path}') b USING (id)`,
      { dataDir },
    );
    assert.deepEqual(byPath.rows, [{ n: 2n }]);
  });

  test('an unknown table names the tables that exist; bad SQL and bad time travel are QUERY_INVALID', async () => {
    await assert.rejects(runQuery('SELECT * FROM ordrs', { dataDir }), (err: unknown) => {
      assert.ok(isTributaryError(err, 'TABLE_NOT_FOUND'));
      assert.match(err.message, /no table named 'ordrs'.*tables there: gold\.empty, orders/);
      return true;
    });
    await assert.rejects(runQuery('SELECT nope FROM orders', { dataDir }), (err: unknown) => {
      assert.ok(isTributaryError(err, 'QUERY_INVALID'));
      assert.match(err.message, /DuckDB rejected the query: .*nope/);
      return true;
    });
    await assert.rejects(
      runQuery("SELECT * FROM orders TIMESTAMP AS OF 'yesterday'", { dataDir }),
      /QUERY_INVALID|is not a timestamp/,
    );
    await assert.rejects(runQuery('SELECT * FROM orders VERSION AS OF 99', { dataDir }), (err: unknown) => {
      assert.ok(isTributaryError(err, 'TABLE_VERSION_NOT_FOUND'), String(err));
      return true;
    });
  });

  test('a table in a store without local paths (memory://) is staged for DuckDB', async () => {
    // A data directory that is a URL: tables at memory://query-test/tables/<name>.
    const store = openStore(REMOTE);
    const table = await DeltaTable.create(store, { schema: SCHEMA, partitionColumns: ['day'] });
    await append(table, {
      rows: [{ id: 7n, day: '2026-02-01', hour: null, amount: '7.00', note: 'remote' }],
    });
    const named = await runQuery('SELECT id, day, note FROM remote', { dataDir: 'memory://query-test' });
    assert.deepEqual(named.rows, [{ id: 7n, day: '2026-02-01', note: 'remote' }]);
    const byUrl = await runQuery("SELECT count(*) AS n FROM 'memory://query-test/tables/remote'", {
      dataDir,
    });
    assert.deepEqual(byUrl.rows, [{ n: 1n }]);
  });

  test('output formats keep values exact', async () => {
    const r = await runQuery('SELECT id, amount, note FROM orders ORDER BY id', { dataDir });
    assert.equal(
      formatResult(r, 'json'),
      '[\n{"id":3,"amount":"1.00","note":"c"},\n{"id":9007199254740993,"amount":"10.50","note":"a"}\n]',
    );
    assert.equal(formatResult(r, 'csv'), 'id,amount,note\n3,1.00,c\n9007199254740993,10.50,a');
    assert.equal(
      formatResult(r, 'table'),
      [
        '              id | amount | note',
        '-----------------+--------+-----',
        '               3 |   1.00 | c',
        '9007199254740993 |  10.50 | a',
        '(2 rows)',
      ].join('\n'),
    );
  });

  test('parseAsOfTimestamp reads UTC by default and honours offsets', () => {
    assert.equal(parseAsOfTimestamp('2026-01-01'), Date.UTC(2026, 0, 1));
    assert.equal(parseAsOfTimestamp('2026-01-01 10:30:00'), Date.UTC(2026, 0, 1, 10, 30));
    assert.equal(parseAsOfTimestamp('2026-01-01T10:30:00.250+02:00'), Date.UTC(2026, 0, 1, 8, 30, 0, 250));
    assert.throws(() => parseAsOfTimestamp('01/02/2026'), /is not a timestamp/);
  });
});
