/**
 * Escape attempts against the SQL sandbox (test/query/sandbox.test.ts runs them). Each
 * is SQL a reader might send to `POST /sql`, built from the test's directories:
 *
 * - `outside`: a directory next to the lake holding canary files (text, CSV, JSON,
 *   Parquet, a DuckDB database, a Delta table) whose content must never come back;
 * - `scratch`: where a write would land (the test checks it stays empty);
 * - `lake`: the data directory (tables under `lake/tables`).
 *
 * `expect` is what the sandbox must do: refuse (QUERY_REFUSED, the message matching
 * `reason`), fail to parse (QUERY_INVALID), stop it (QUERY_TIMEOUT, QUERY_MEMORY_LIMIT),
 * or bound it (`truncated`). `proof` says how the test shows the attempt is real: the
 * same SQL on a DuckDB without the sandbox returns the canary (`read`) or writes the
 * file (`write`), or `tributary query`'s engine returns the canary (`tributary`).
 */
export interface Dirs {
  outside: string;
  scratch: string;
  lake: string;
}

export type Expect =
  | { refused: RegExp }
  | { invalid: RegExp }
  | { code: 'QUERY_TIMEOUT' | 'QUERY_MEMORY_LIMIT' }
  | { truncated: number };

export interface Attempt {
  name: string;
  sql: (d: Dirs) => string;
  expect: Expect;
  proof?: 'read' | 'write' | 'tributary';
  /** The time limit for this attempt, when not the suite's. */
  timeoutMs?: number;
}

const a = (name: string, sql: (d: Dirs) => string, expect: Expect, proof?: Attempt['proof']): Attempt => ({
  name,
  sql,
  expect,
  proof,
});

export const FILE_READERS: Attempt[] = [
  a(
    'read_text',
    (d) => `SELECT * FROM read_text('${d.outside}/canary.txt')`,
    { refused: /table function read_text is not allowed/ },
    'read',
  ),
  a('read_text on /etc/passwd', () => `SELECT content FROM read_text('/etc/passwd')`, {
    refused: /function read_text/,
  }),
  a(
    'read_blob',
    (d) => `SELECT * FROM read_blob('${d.outside}/canary.txt')`,
    { refused: /function read_blob/ },
    'read',
  ),
  a(
    'read_csv',
    (d) => `SELECT * FROM read_csv('${d.outside}/canary.csv')`,
    { refused: /function read_csv is not allowed/ },
    'read',
  ),
  a(
    'read_csv_auto',
    (d) => `SELECT * FROM read_csv_auto('${d.outside}/canary.csv')`,
    { refused: /function read_csv_auto/ },
    'read',
  ),
  a(
    'read_json',
    (d) => `SELECT * FROM read_json('${d.outside}/canary.json')`,
    { refused: /function read_json/ },
    'read',
  ),
  a(
    'read_ndjson_objects',
    (d) => `SELECT * FROM read_ndjson_objects('${d.outside}/canary.json')`,
    { refused: /function read_ndjson_objects/ },
    'read',
  ),
  a(
    'read_parquet',
    (d) => `SELECT * FROM read_parquet('${d.outside}/canary.parquet')`,
    { refused: /function read_parquet/ },
    'read',
  ),
  a(
    'parquet_scan with a glob',
    (d) => `SELECT * FROM parquet_scan('${d.outside}/*.parquet')`,
    { refused: /function parquet_scan/ },
    'read',
  ),
  a('parquet_metadata', (d) => `SELECT * FROM parquet_metadata('${d.outside}/canary.parquet')`, {
    refused: /function parquet_metadata/,
  }),
  a(
    'read_duckdb',
    (d) => `SELECT * FROM read_duckdb('${d.outside}/canary.duckdb', table_name => 'secret')`,
    { refused: /function read_duckdb/ },
    'read',
  ),
  a('glob lists files', (d) => `SELECT * FROM glob('${d.outside}/*')`, { refused: /function glob/ }),
  a('sniff_csv', (d) => `SELECT * FROM sniff_csv('${d.outside}/canary.csv')`, {
    refused: /function sniff_csv/,
  }),
  a(
    'replacement scan of a CSV path',
    (d) => `SELECT * FROM '${d.outside}/canary.csv'`,
    { refused: /is not a lake table/ },
    'read',
  ),
  a(
    'replacement scan of a Parquet path, FROM first',
    (d) => `FROM '${d.outside}/canary.parquet'`,
    { refused: /is not a lake table/ },
    'read',
  ),
  a(
    'a Delta table outside the lake by path',
    (d) => `SELECT * FROM '${d.outside}/secret'`,
    { refused: /is not a lake table/ },
    'tributary',
  ),
  a(
    'delta_scan of a path outside the lake',
    (d) => `SELECT * FROM delta_scan('${d.outside}/secret')`,
    { refused: /function delta_scan/ },
    'tributary',
  ),
  a(
    'a path with time travel',
    (d) => `SELECT * FROM '${d.outside}/secret' VERSION AS OF 1`,
    { refused: /is not a lake table/ },
    'tributary',
  ),
  a('a path as a quoted identifier', (d) => `SELECT * FROM "${d.outside}/secret"`, {
    refused: /is not a lake table/,
  }),
  a('a lake table name climbing out', () => `SELECT * FROM "..".secret`, { refused: /is not a lake table/ }),
  a(
    "the lake's own log by path",
    (d) => `SELECT * FROM read_json_auto('${d.lake}/tables/orders/_delta_log/*.json')`,
    { refused: /function read_json_auto/ },
  ),
  a('DESCRIBE a file', (d) => `DESCRIBE '${d.outside}/canary.csv'`, { refused: /is not a lake table/ }),
  a('SUMMARIZE a file reader', (d) => `SUMMARIZE SELECT * FROM read_csv('${d.outside}/canary.csv')`, {
    refused: /function read_csv/,
  }),
];

export const HIDDEN_READERS: Attempt[] = [
  a(
    'in a CTE',
    (d) => `WITH x AS (SELECT * FROM read_text('${d.outside}/canary.txt')) SELECT * FROM x`,
    { refused: /function read_text/ },
    'read',
  ),
  a(
    'in a scalar subquery',
    (d) => `SELECT (SELECT content FROM read_text('${d.outside}/canary.txt')) AS c`,
    { refused: /function read_text/ },
    'read',
  ),
  a(
    'in EXISTS over a lake table',
    (d) => `SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM read_csv('${d.outside}/canary.csv'))`,
    { refused: /function read_csv/ },
  ),
  a(
    'in a LATERAL join',
    (d) => `SELECT * FROM orders, LATERAL (SELECT * FROM read_text('${d.outside}/canary.txt')) t`,
    { refused: /function read_text/ },
  ),
  a(
    'in a UNION branch',
    (d) => `SELECT 'x' AS c UNION ALL SELECT content FROM read_text('${d.outside}/canary.txt')`,
    { refused: /function read_text/ },
    'read',
  ),
  a(
    'in ORDER BY',
    (d) => `SELECT id FROM orders ORDER BY (SELECT count(*) FROM read_text('${d.outside}/canary.txt'))`,
    { refused: /function read_text/ },
  ),
  a(
    'in a recursive CTE',
    (d) =>
      `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r, read_text('${d.outside}/canary.txt') WHERE n < 2) SELECT * FROM r`,
    { refused: /function read_text/ },
  ),
  a(
    'in DuckDB time travel AT (...) on a CTE',
    (d) =>
      `WITH x AS (SELECT 1) SELECT * FROM x AT (VERSION => (SELECT length(content) FROM read_text('${d.outside}/canary.txt')))`,
    { refused: /time travel on 'x'/ },
  ),
  a(
    'quoted function name',
    (d) => `SELECT * FROM "read_text"('${d.outside}/canary.txt')`,
    { refused: /function read_text/ },
    'read',
  ),
  a(
    'upper-case quoted function name',
    (d) => `SELECT * FROM "READ_TEXT"('${d.outside}/canary.txt')`,
    { refused: /function read_text is not allowed/ },
    'read',
  ),
  a(
    'qualified function name',
    (d) => `SELECT * FROM system.main.read_text('${d.outside}/canary.txt')`,
    { refused: /read_text is not allowed/ },
    'read',
  ),
  a('look-alike unicode name', (d) => `SELECT * FROM ｒｅａｄ_text('${d.outside}/canary.txt')`, {
    refused: /function ｒｅａｄ_text/,
  }),
  a(
    'comments inside the call',
    (d) => `SELECT/**/*/**/FROM/**/read_text/**/('${d.outside}/canary.txt')`,
    { refused: /function read_text/ },
    'read',
  ),
  a(
    'a table function taking SQL text',
    (d) => `SELECT * FROM query('SELECT * FROM read_text(''${d.outside}/canary.txt'')')`,
    { refused: /function query is not allowed/ },
    'read',
  ),
  a('query_table', () => `SELECT * FROM query_table('orders')`, { refused: /function query_table/ }),
  a(
    'json_execute_serialized_sql',
    () => `SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))`,
    { refused: /json_execute_serialized_sql/ },
  ),
  a(
    'a scalar planning SQL text',
    (d) => `SELECT json_serialize_plan('SELECT * FROM read_text(''${d.outside}/canary.txt'')')`,
    { refused: /function json_serialize_plan/ },
  ),
  a('a lambda calling a refused function', () => `SELECT list_transform(['HOME'], v -> getvariable(v))`, {
    refused: /function getvariable/,
  }),
];

export const STATEMENTS: Attempt[] = [
  a(
    'COPY TO a file',
    (d) => `COPY (SELECT 42 AS x) TO '${d.scratch}/out.csv'`,
    { refused: /COPY is not allowed/ },
    'write',
  ),
  a('COPY a lake table out', (d) => `COPY orders TO '${d.scratch}/orders.parquet' (FORMAT parquet)`, {
    refused: /COPY is not allowed/,
  }),
  a('COPY FROM a file', (d) => `COPY orders FROM '${d.outside}/canary.csv'`, {
    refused: /COPY is not allowed/,
  }),
  a(
    'EXPORT DATABASE',
    (d) => `EXPORT DATABASE '${d.scratch}/export'`,
    { refused: /EXPORT is not allowed/ },
    'write',
  ),
  a('IMPORT DATABASE', (d) => `IMPORT DATABASE '${d.outside}'`, { refused: /IMPORT is not allowed/ }),
  a('ATTACH a database file', (d) => `ATTACH '${d.outside}/canary.duckdb' AS c`, {
    refused: /ATTACH is not allowed/,
  }),
  a(
    'ATTACH then read it',
    (d) => `ATTACH '${d.outside}/canary.duckdb' AS c; SELECT * FROM c.secret`,
    { refused: /only one statement/ },
    'read',
  ),
  a('INSTALL an extension', () => `INSTALL httpfs`, { refused: /INSTALL is not allowed/ }),
  a('LOAD an extension', () => `LOAD httpfs`, { refused: /LOAD is not allowed/ }),
  a('FORCE INSTALL from a URL', () => `FORCE INSTALL httpfs FROM 'http://127.0.0.1:9/'`, {
    refused: /INSTALL is not allowed/,
  }),
  a('SET enable_external_access', () => `SET enable_external_access = true`, {
    refused: /SET is not allowed/,
  }),
  a('SET memory_limit', () => `SET memory_limit = '100GB'`, { refused: /SET is not allowed/ }),
  a('RESET a setting', () => `RESET threads`, { refused: /RESET is not allowed/ }),
  a('PRAGMA', () => `PRAGMA database_list`, { refused: /PRAGMA is not allowed/ }),
  a('CALL a table function', () => `CALL duckdb_settings()`, { refused: /CALL is not allowed/ }),
  a(
    'CREATE a macro over a file reader',
    (d) => `CREATE MACRO m() AS TABLE SELECT * FROM read_text('${d.outside}/canary.txt')`,
    { refused: /CREATE is not allowed/ },
  ),
  a('CREATE TABLE AS', () => `CREATE TABLE t AS SELECT * FROM orders`, { refused: /CREATE is not allowed/ }),
  a('INSERT', () => `INSERT INTO orders VALUES (1)`, { refused: /INSERT is not allowed/ }),
  a('UPDATE', () => `UPDATE orders SET amount = 0`, { refused: /UPDATE is not allowed/ }),
  a('DELETE', () => `DELETE FROM orders`, { refused: /DELETE is not allowed/ }),
  a('DROP', () => `DROP VIEW orders`, { refused: /DROP is not allowed/ }),
  a(
    'EXPLAIN ANALYZE (it runs the query)',
    (d) => `EXPLAIN ANALYZE SELECT * FROM read_text('${d.outside}/canary.txt')`,
    { refused: /EXPLAIN is not allowed/ },
  ),
  a(
    'a second statement after a SELECT',
    (d) => `SELECT 1; COPY (SELECT 1) TO '${d.scratch}/two.csv'`,
    { refused: /only one statement/ },
    'write',
  ),
  a(
    'a statement hidden after a line comment',
    (d) => `SELECT 1 -- harmless\n; COPY (SELECT 1) TO '${d.scratch}/c.csv'`,
    { refused: /only one statement/ },
    'write',
  ),
  a(
    'a statement hidden around a block comment',
    (d) => `SELECT 1 /* ; */ ; SELECT * FROM read_text('${d.outside}/canary.txt')`,
    { refused: /only one statement/ },
    'read',
  ),
];

export const SETTINGS_AND_CATALOG: Attempt[] = [
  a('getenv', () => `SELECT getenv('HOME')`, { refused: /function getenv is not allowed/ }),
  a('current_setting', () => `SELECT current_setting('allowed_paths')`, {
    refused: /function current_setting/,
  }),
  a('duckdb_settings()', () => `SELECT * FROM duckdb_settings()`, { refused: /function duckdb_settings/ }),
  a('duckdb_secrets()', () => `SELECT * FROM duckdb_secrets()`, { refused: /function duckdb_secrets/ }),
  a('duckdb_extensions()', () => `SELECT * FROM duckdb_extensions()`, {
    refused: /function duckdb_extensions/,
  }),
  a('information_schema', () => `SELECT * FROM information_schema.tables`, {
    refused: /'information_schema.tables' is not a lake table/,
  }),
  a('a catalog view by bare name', () => `SELECT * FROM duckdb_databases`, {
    refused: /'duckdb_databases' is not a lake table/,
  }),
  a(
    'a catalog view behind a later CTE of its name',
    () => `WITH a AS (SELECT * FROM duckdb_databases), duckdb_databases AS (SELECT 1 AS x) SELECT * FROM a`,
    { refused: /'duckdb_databases' is not a lake table/ },
  ),
  a(
    'a catalog view behind a CTE naming itself',
    () => `WITH duckdb_settings AS (SELECT * FROM duckdb_settings) SELECT * FROM duckdb_settings`,
    { refused: /'duckdb_settings' is not a lake table/ },
  ),
  a('SHOW TABLES', () => `SHOW TABLES`, { refused: /SHOW/ }),
  a('a query parameter', () => `SELECT $1`, { refused: /parameters/ }),
  a('sleep_ms', () => `SELECT sleep_ms(600000)`, { refused: /function sleep_ms/ }),
  a('write_log', () => `SELECT write_log('x')`, { refused: /function write_log/ }),
  a(
    'a function split by a comment is a table and an alias',
    (d) => `SELECT * FROM read_/**/text('${d.outside}/canary.txt')`,
    { refused: /'read_' is not a lake table/ },
  ),
  a(
    'a function split by a comment does not parse',
    (d) => `SELECT read_/**/text('${d.outside}/canary.txt')`,
    { invalid: /syntax error/ },
  ),
];

/** A memory bomb: given long enough (20 s) to reach its memory limit before its time limit. */
const bomb = (name: string, sql: string): Attempt => ({
  name,
  sql: () => sql,
  expect: { code: 'QUERY_MEMORY_LIMIT' },
  timeoutMs: 20_000,
});

export const LIMITS: Attempt[] = [
  a('a huge result is cut at the row cap', () => `SELECT * FROM range(100000000)`, { truncated: 1000 }),
  a('a cross join with a lake table is cut too', () => `SELECT * FROM orders, range(10000000)`, {
    truncated: 1000,
  }),
  a('a cross join that runs for ever', () => `SELECT count(*) FROM range(100000000) a, range(100000) b`, {
    code: 'QUERY_TIMEOUT',
  }),
  a(
    'lake tables cross-joined with a billion rows',
    () => `SELECT count(*) FROM orders a, orders b, customers c, range(1000000000) d`,
    { code: 'QUERY_TIMEOUT' },
  ),
  a(
    'an endless recursive CTE',
    () => `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r`,
    { code: 'QUERY_TIMEOUT' },
  ),
  bomb('an aggregate over a billion rows into one list', `SELECT list(range) FROM range(1000000000)`),
  bomb('a hash table of a billion keys', `SELECT count(DISTINCT range) FROM range(1000000000)`),
  bomb('one huge string from one call', `SELECT length(repeat('x', 1000000000))`),
  bomb('one huge list from one call', `SELECT len(range(300000000))`),
  bomb('one huge padded string', `SELECT length(lpad('x', 1000000000, 'y'))`),
  bomb(
    'a string doubled until it is huge',
    `WITH RECURSIVE r(s, n) AS (SELECT 'xxxxxxxx', 0 UNION ALL SELECT s || s, n + 1 FROM r WHERE n < 40) SELECT max(length(s)) FROM r`,
  ),
];

export const ALL_ATTEMPTS: Attempt[] = [
  ...FILE_READERS,
  ...HIDDEN_READERS,
  ...STATEMENTS,
  ...SETTINGS_AND_CATALOG,
  ...LIMITS,
];
