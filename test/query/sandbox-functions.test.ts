import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { ALLOWED_FUNCTIONS, ALLOWED_TABLE_FUNCTIONS, asciiLower } from '../../src/query/sandbox-functions.ts';

/** Functions that reach outside a query: never to be allowed, whatever else changes. */
const NEVER = [
  'read_csv',
  'read_csv_auto',
  'read_parquet',
  'parquet_scan',
  'read_json',
  'read_json_auto',
  'read_text',
  'read_blob',
  'read_duckdb',
  'glob',
  'query',
  'query_table',
  'sniff_csv',
  'parquet_metadata',
  'delta_scan',
  'getenv',
  'current_setting',
  'getvariable',
  'json_serialize_plan',
  'json_execute_serialized_sql',
  'sleep_ms',
  'pg_sleep',
  'write_log',
  'duckdb_settings',
  'duckdb_secrets',
  'list_aggregate',
];

describe('the sandbox allow-lists', () => {
  test('name functions this DuckDB has, of the right kind (no typo admits nothing, nothing stale)', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    const rows = (
      await conn.runAndReadAll('SELECT DISTINCT lower(function_name), function_type FROM duckdb_functions()')
    ).getRows() as [string, string][];
    conn.closeSync();
    instance.closeSync();
    const kinds = new Map<string, Set<string>>();
    for (const [name, kind] of rows) kinds.set(name, (kinds.get(name) ?? new Set()).add(kind));
    // unnest in a select list is the binder's, not a catalog scalar.
    const scalars = [...ALLOWED_FUNCTIONS].filter((n) => n !== 'unnest');
    assert.deepEqual(
      scalars.filter((n) => !['scalar', 'aggregate', 'macro'].some((k) => kinds.get(n)?.has(k))),
      [],
    );
    assert.deepEqual(
      [...ALLOWED_TABLE_FUNCTIONS].filter((n) => !kinds.get(n)?.has('table')),
      [],
    );
  });

  test('never admit what reaches outside the query', () => {
    for (const name of NEVER) {
      assert.ok(!ALLOWED_FUNCTIONS.has(name), name);
      assert.ok(!ALLOWED_TABLE_FUNCTIONS.has(name), name);
    }
  });

  test('names are compared the way DuckDB folds them (ASCII only)', () => {
    assert.equal(asciiLower('READ_Csv'), 'read_csv');
    assert.equal(
      asciiLower('\u212Aurtosis'),
      '\u212Aurtosis',
      'the Kelvin sign stays, JS toLowerCase would make it k',
    );
  });
});
