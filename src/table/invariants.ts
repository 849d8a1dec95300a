/**
 * Column invariants at write time (PROTOCOL.md, "Column Invariants"): a writer of
 * version 2 or higher must check every row it writes against the `delta.invariants`
 * expression of each column that has one, and must fail the write when a row does not
 * satisfy it. Spark fails a row whose expression is false *or null*
 * (DeltaInvariantCheckerExec), so we do the same: only a true result passes.
 *
 * The check runs inside the write query itself: the fitted batch is filtered by a
 * predicate that is true for good rows and raises `error()` for a bad one, so a table
 * with invariants costs no extra pass over the data. Only a failing write runs
 * `findViolation` to name the column, the invariant and a violating value.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { isTributaryError, TributaryError } from '../core/errors.ts';
import { quoteIdent, quoteString } from '../core/sql.ts';
import { duckdbMessage } from './duckdb-errors.ts';
import type { StructType } from './schema.ts';
import { type ColumnInvariant, columnInvariants } from './schema-json.ts';

const MARKER = 'TRIBUTARY_INVARIANT:';

export interface InvariantCheck {
  invariants: ColumnInvariant[];
  /** The fitted batch, filtered so that a row breaking an invariant raises an error. */
  sql: string;
  /** After a failed write: the first violation, as TABLE_SCHEMA_MISMATCH, if any. */
  findViolation(conn: DuckDBConnection): Promise<TributaryError | undefined>;
  /** A message of a failed write that names an invariant: that invariant's error. */
  fromMessage(message: string): TributaryError | undefined;
}

/** `address.zip` → `"address"."zip"` (struct field access in DuckDB). */
function columnRef(path: string): string {
  return path.split('.').map(quoteIdent).join('.');
}

function violation(inv: ColumnInvariant, table: string, value: unknown, row?: number): TributaryError {
  const shown = value === undefined ? '' : ` (value ${value === null ? 'null' : JSON.stringify(value)})`;
  const at = row === undefined ? '' : ` at row ${row} of the batch`;
  return new TributaryError(
    'TABLE_SCHEMA_MISMATCH',
    `column '${inv.column}' breaks its invariant '${inv.expression}'${at}${shown} (table ${table}); ` +
      'fix or filter the source rows (nothing was written)',
    { column: inv.column, invariant: inv.expression, ...(row === undefined ? {} : { row, value }) },
  );
}

/**
 * Wraps `fittedSql` (rows already in the table's schema) with the invariant checks of
 * `schema`, or returns undefined when the schema has none. Fails with
 * TABLE_INVALID_SCHEMA when an expression cannot be evaluated here: writing without the
 * check would break the protocol, so such a table is refused rather than written.
 */
export async function invariantCheck(
  conn: DuckDBConnection,
  fittedSql: string,
  schema: StructType,
  table: string,
): Promise<InvariantCheck | undefined> {
  const invariants = columnInvariants(schema);
  if (invariants.length === 0) return undefined;
  for (const inv of invariants) {
    try {
      await conn.run(`SELECT (${inv.expression}) FROM (${fittedSql}) AS __t LIMIT 0`);
    } catch (err) {
      if (isTributaryError(err) && err.retryable) throw err;
      throw new TributaryError(
        'TABLE_INVALID_SCHEMA',
        `column '${inv.column}' of table ${table} has the invariant '${inv.expression}', which Tributary cannot evaluate (${duckdbMessage(err).split('\n')[0]}); writes are refused so the invariant is never skipped — rewrite it as a DuckDB SQL boolean expression`,
        { column: inv.column, invariant: inv.expression },
        err,
      );
    }
  }
  // `IS TRUE`: a false or null result is a violation (see the header).
  const guards = invariants.map(
    (inv, i) =>
      `(CASE WHEN (${inv.expression}) IS TRUE THEN true ELSE error(${quoteString(MARKER + i)}) END)`,
  );
  const sql = `SELECT * FROM (${fittedSql}) AS __t WHERE ${guards.join(' AND ')}`;

  const findViolation = async (c: DuckDBConnection): Promise<TributaryError | undefined> => {
    for (const inv of invariants) {
      const q = `SELECT __row, CAST(${columnRef(inv.column)} AS VARCHAR) AS __v FROM (SELECT row_number() OVER () AS __row, * FROM (${fittedSql}) AS __s) AS __t WHERE (${inv.expression}) IS NOT TRUE LIMIT 1`;
      const rows = (await c.runAndReadAll(q)).getRowObjectsJson() as Record<string, unknown>[];
      if (rows.length > 0) return violation(inv, table, rows[0].__v, Number(rows[0].__row));
    }
    return undefined;
  };
  const fromMessage = (message: string): TributaryError | undefined => {
    const at = message.indexOf(MARKER);
    if (at < 0) return undefined;
    const inv = invariants[Number.parseInt(message.slice(at + MARKER.length), 10)];
    return inv === undefined ? undefined : violation(inv, table, undefined);
  };
  return { invariants, sql, findViolation, fromMessage };
}
