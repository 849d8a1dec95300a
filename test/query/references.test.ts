import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findTableRefs, SqlReferenceError } from '../../src/query/references.ts';

/** The references as [kind, target, asOf, implicitAlias, text replaced]. */
function refs(sql: string) {
  return findTableRefs(sql).map((r) => [
    r.kind,
    r.target,
    r.asOf,
    r.implicitAlias,
    sql.slice(r.start, r.end),
  ]);
}

describe('findTableRefs', () => {
  test('plain names after FROM and JOIN, with and without aliases', () => {
    assert.deepEqual(refs('SELECT count(*) FROM orders_events'), [
      ['name', 'orders_events', undefined, 'orders_events', 'orders_events'],
    ]);
    assert.deepEqual(refs('select * from a x join "B" as y on x.id = y.id left join gold.daily using (d)'), [
      ['name', 'a', undefined, undefined, 'a'],
      ['name', 'B', undefined, undefined, '"B"'],
      ['name', 'gold.daily', undefined, 'daily', 'gold.daily'],
    ]);
  });

  test('comma lists, DuckDB FROM-first, subqueries and CTEs', () => {
    assert.deepEqual(
      refs('SELECT * FROM a, b AS bb, (SELECT * FROM c) s WHERE a.x = bb.x').map((r) => r[1]),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(
      refs('FROM orders LIMIT 3').map((r) => r[1]),
      ['orders'],
    );
    assert.deepEqual(
      refs(
        'WITH recent AS (SELECT * FROM orders WHERE x > 1), r2(a) AS (SELECT 1) SELECT * FROM recent, r2',
      ).map((r) => r[1]),
      ['orders'],
    );
  });

  test('paths, delta_scan() and time travel in both spellings', () => {
    assert.deepEqual(refs("SELECT * FROM 'data/tables/orders' VERSION AS OF 3"), [
      ['path', 'data/tables/orders', { version: 3 }, 'orders', "'data/tables/orders' VERSION AS OF 3"],
    ]);
    assert.deepEqual(refs("select * from delta_scan('s3://b/t') t"), [
      ['path', 's3://b/t', undefined, undefined, "delta_scan('s3://b/t')"],
    ]);
    assert.deepEqual(refs("SELECT * FROM o TIMESTAMP AS OF '2026-01-01 00:00:00' AS x"), [
      [
        'name',
        'o',
        { timestamp: '2026-01-01 00:00:00' },
        undefined,
        "o TIMESTAMP AS OF '2026-01-01 00:00:00'",
      ],
    ]);
    assert.deepEqual(
      refs("SELECT * FROM o AT (VERSION => 7) JOIN p AT (TIMESTAMP => TIMESTAMP '2026-01-02') ON true"),
      [
        ['name', 'o', { version: 7 }, 'o', 'o AT (VERSION => 7)'],
        ['name', 'p', { timestamp: '2026-01-02' }, 'p', "p AT (TIMESTAMP => TIMESTAMP '2026-01-02')"],
      ],
    );
  });

  test('FROM that is not a table FROM, strings, comments and functions are left alone', () => {
    const sql = `
      SELECT extract(year FROM ts), trim(both 'x' from s), a IS DISTINCT FROM b,
             'FROM fake' AS lit, "from" -- FROM commented
      /* JOIN nothing */
      FROM events, range(10) r, read_parquet('x.parquet'), information_schema.tables`;
    assert.deepEqual(
      refs(sql).map((r) => r[1]),
      ['events'],
    );
  });

  test('DESCRIBE and SUMMARIZE of a table, but not of a query', () => {
    assert.deepEqual(
      refs('DESCRIBE orders').map((r) => r[1]),
      ['orders'],
    );
    assert.deepEqual(
      refs('SUMMARIZE orders VERSION AS OF 2; DESCRIBE SELECT * FROM b').map((r) => [r[1], r[2]]),
      [
        ['orders', { version: 2 }],
        ['b', undefined],
      ],
    );
  });

  test('malformed time travel and unterminated quotes are reported', () => {
    assert.throws(() => findTableRefs('SELECT * FROM o VERSION AS OF x'), SqlReferenceError);
    assert.throws(() => findTableRefs('SELECT * FROM o TIMESTAMP AS OF 5'), /needs a quoted timestamp/);
    assert.throws(
      () => findTableRefs("SELECT 'abc FROM o"),
      /unterminated string literal starting at character 8/,
    );
  });
});
