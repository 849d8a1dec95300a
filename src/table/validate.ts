/**
 * Fitting a batch to the table schema: every schema column cast to its type, in schema
 * order, with the checks Delta writers must make (PROTOCOL.md, "Column Invariants" and
 * Spark's write-time schema enforcement): a missing non-nullable column, a null in a
 * non-nullable column, a value that does not convert, or a column the table does not
 * have are all TABLE_SCHEMA_MISMATCH naming the column. With schemaMode 'merge', new
 * columns are added to the schema as nullable ("schema evolution").
 *
 * The checks run inside the write query itself (CAST fails, `error()` raises), so the
 * common case costs no extra pass; only a failing write runs `diagnose` to say which
 * row and value broke it.
 */
import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import { isTributaryError, TributaryError } from '../core/errors.ts';
import { quoteIdent, quoteString } from '../core/sql.ts';
import { duckdbMessage, isDuckdbError } from './duckdb-errors.ts';
import { invariantCheck } from './invariants.ts';
import type { StructField, StructType } from './schema.ts';
import { deltaTypeOf, duckType, isIntegral } from './types.ts';

export type SchemaMode = 'strict' | 'merge';

export interface PreparedSelect {
  /** SELECT of the table's columns (schema order, typed) from the source. */
  sql: string;
  /** The schema written: the table's, or the table's plus new nullable columns. */
  schema: StructType;
  /** Fields that schema evolution added. */
  added: StructField[];
  /** Runs after a failed write: a TABLE_SCHEMA_MISMATCH for the first bad value, if any. */
  diagnose(conn: DuckDBConnection): Promise<TributaryError | undefined>;
  /** The column-invariant error a failed write's message names, if it names one. */
  invariantError(message: string): TributaryError | undefined;
}

const NULL_MARKER = 'TRIBUTARY_NOT_NULL:';

/** Column names and DuckDB types of a query, without running it fully. */
export async function describeQuery(
  conn: DuckDBConnection,
  sql: string,
): Promise<Array<{ name: string; type: DuckDBType }>> {
  const r = await conn.runAndReadAll(`SELECT * FROM (${sql}) LIMIT 0`);
  const names = r.columnNames();
  const types = r.columnTypes();
  return names.map((name, i) => ({ name, type: types[i] }));
}

function isFractional(t: DuckDBType): boolean {
  const s = t.toString();
  return s === 'DOUBLE' || s === 'FLOAT' || s.startsWith('DECIMAL');
}

export async function prepareSelect(
  conn: DuckDBConnection,
  sourceSql: string,
  schema: StructType,
  opts: { schemaMode?: SchemaMode; table?: string } = {},
): Promise<PreparedSelect> {
  const where = opts.table ? ` (table ${opts.table})` : '';
  const cols = await describeQuery(conn, sourceSql);
  const byLower = new Map<string, { name: string; type: DuckDBType }>();
  for (const c of cols) {
    const key = c.name.toLowerCase();
    if (byLower.has(key)) {
      throw new TributaryError(
        'TABLE_SCHEMA_MISMATCH',
        `the batch has columns '${byLower.get(key)!.name}' and '${c.name}', which differ only in case${where}; Delta column names are case-insensitive, rename one`,
        { column: c.name },
      );
    }
    byLower.set(key, c);
  }
  const known = new Set(schema.fields.map((f) => f.name.toLowerCase()));
  const extra = cols.filter((c) => !known.has(c.name.toLowerCase()));
  const added: StructField[] = [];
  if (extra.length > 0) {
    if (opts.schemaMode !== 'merge') {
      throw new TributaryError(
        'TABLE_SCHEMA_MISMATCH',
        `the batch has column(s) ${extra.map((c) => `'${c.name}'`).join(', ')} that the table schema does not have${where}; drop them from the batch, or write with schemaMode 'merge' to add them as nullable columns`,
        { columns: extra.map((c) => c.name) },
      );
    }
    for (const c of extra)
      added.push({ name: c.name, type: deltaTypeOf(c.type, c.name), nullable: true, metadata: {} });
  }
  const target: StructType = added.length ? { type: 'struct', fields: [...schema.fields, ...added] } : schema;

  const exprs: string[] = [];
  for (const field of target.fields) {
    const src = byLower.get(field.name.toLowerCase());
    const t = duckType(field.type);
    if (!src) {
      if (!field.nullable) {
        throw new TributaryError(
          'TABLE_SCHEMA_MISMATCH',
          `the batch has no column '${field.name}', which the table requires (not nullable)${where}; add it to the batch`,
          { column: field.name },
        );
      }
      exprs.push(`CAST(NULL AS ${t}) AS ${quoteIdent(field.name)}`);
      continue;
    }
    const ref = quoteIdent(src.name);
    let expr = `CAST(${ref} AS ${t})`;
    if (isIntegral(field.type) && isFractional(src.type)) {
      // CAST would round 1.5 to 2; a fraction in an integer column is a data error.
      expr = `CASE WHEN ${ref} <> trunc(${ref}) THEN error(${quoteString(`value with a fraction in integer column '${field.name}'`)}) ELSE ${expr} END`;
    }
    if (!field.nullable) {
      expr = `CASE WHEN ${ref} IS NULL THEN error(${quoteString(NULL_MARKER + field.name)}) ELSE ${expr} END`;
    }
    exprs.push(`${expr} AS ${quoteIdent(field.name)}`);
  }
  const fitted = `SELECT ${exprs.join(', ')} FROM (${sourceSql}) AS __src`;
  const invariants = await invariantCheck(conn, fitted, target, opts.table ?? '(being written)');
  const sql = invariants?.sql ?? fitted;

  const diagnose = async (dconn: DuckDBConnection): Promise<TributaryError | undefined> => {
    for (const field of target.fields) {
      const src = byLower.get(field.name.toLowerCase());
      if (!src) continue;
      const ref = quoteIdent(src.name);
      const t = duckType(field.type);
      // Conditions over `__v`, the column's source value.
      const checks: Array<[string, string]> = [];
      if (!field.nullable) checks.push(['__v IS NULL', 'null in a non-nullable column']);
      if (src.type.toString() !== t) {
        checks.push([`__v IS NOT NULL AND TRY_CAST(__v AS ${t}) IS NULL`, `value does not convert to ${t}`]);
      }
      if (isIntegral(field.type) && isFractional(src.type)) {
        checks.push(['__v <> trunc(__v)', 'value has a fraction but the column is an integer']);
      }
      for (const [cond, problem] of checks) {
        const shown = src.type.alias === 'JSON' ? `(__v->>'$')` : 'CAST(__v AS VARCHAR)';
        const q = `SELECT __row, ${shown} AS v FROM (SELECT row_number() OVER () AS __row, ${ref} AS __v FROM (${sourceSql}) AS __s) WHERE ${cond} LIMIT 1`;
        let rows: Record<string, unknown>[];
        try {
          rows = (await dconn.runAndReadAll(q)).getRowObjectsJson() as Record<string, unknown>[];
        } catch (err) {
          // A cast DuckDB refuses at bind time (e.g. a struct into a long) fails here too.
          // Only a refusal to bind the cast says the types do not convert; a failure while
          // running (an error() in the batch's own SQL) is the batch's, reported as it is.
          if (cond.includes('TRY_CAST') && /Binder Error|Conversion Error/i.test(duckdbMessage(err))) {
            return new TributaryError(
              'TABLE_SCHEMA_MISMATCH',
              `column '${field.name}': the batch's type ${src.type.toString()} cannot be converted to ${JSON.stringify(field.type)} (${t})${where}; cast it in the source`,
              { column: field.name, problem: 'type not convertible', sourceType: src.type.toString() },
              err,
            );
          }
          continue;
        }
        if (rows.length > 0) {
          const row = Number(rows[0].__row);
          const value = rows[0].v;
          return new TributaryError(
            'TABLE_SCHEMA_MISMATCH',
            `column '${field.name}' (${JSON.stringify(field.type)}${field.nullable ? '' : ', not nullable'}): ${problem} at row ${row} of the batch${value === null ? '' : ` (value ${JSON.stringify(value)})`}${where}; fix or filter the source rows`,
            { column: field.name, row, value, problem },
          );
        }
      }
    }
    // Values fit their columns: the failure, if it is ours, is a broken invariant.
    return invariants?.findViolation(dconn);
  };
  const invariantError = (message: string) => invariants?.fromMessage(message);
  return { sql, schema: target, added, diagnose, invariantError };
}

/** Turns a DuckDB error of the write query into the clearest error we can give. */
export async function explainWriteError(
  err: unknown,
  prepared: PreparedSelect,
  conn: DuckDBConnection,
  table: string,
): Promise<Error> {
  // Ours, or DuckDB's transient failures (out of memory, I/O): a retry may succeed.
  if (isTributaryError(err) && (!isDuckdbError(err) || err.retryable || err.code === 'DUCKDB_FAILED'))
    return err;
  const message = duckdbMessage(err);
  const found = await prepared.diagnose(conn).catch(() => undefined);
  if (found) return found;
  const broken = prepared.invariantError(message);
  if (broken) return broken;
  const nullCol = message.indexOf(NULL_MARKER);
  if (nullCol >= 0) {
    const column = message.slice(nullCol + NULL_MARKER.length).split(/\s/)[0];
    return new TributaryError(
      'TABLE_SCHEMA_MISMATCH',
      `column '${column}' is not nullable but the batch has a null in it (table ${table}); fix or filter the source rows`,
      { column },
      err,
    );
  }
  if (/Conversion Error|Could not convert|Failed to cast|transform error/i.test(message)) {
    return new TributaryError(
      'TABLE_SCHEMA_MISMATCH',
      `the batch does not fit the schema of table ${table}: ${message}`,
      {},
      err,
    );
  }
  return new TributaryError(
    'TABLE_INVALID_ARGUMENT',
    `writing to table ${table} failed: ${message}`,
    {},
    err,
  );
}
