/**
 * What a capture needs to know about the table it reads, from PostgreSQL's catalog: its
 * columns with their type OIDs (a domain as its base type, so change.ts encodes its
 * values as the base type's), its primary key, whether the capture's user may read it,
 * and whether an index serves the polling query. Every gap is a CAPTURE_TABLE_INVALID
 * error that says what to change.
 */
import { TributaryError } from '../../../core/errors.ts';
import type { PgSession } from '../client.ts';
import { displayName, type PgTableName, qualified } from '../tables.ts';

export interface CapturedColumn {
  name: string;
  /** pg_type.oid of the column's type (of the base type for a domain). */
  typeOid: number;
  /** The type as PostgreSQL writes it (`timestamp with time zone`, `numeric(10,2)`). */
  type: string;
  notNull: boolean;
}

const COLUMNS = `SELECT a.attname AS name,
    (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END)::int AS "typeOid",
    format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull"
  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
  WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`;

const PRIMARY_KEY = `SELECT a.attname AS name
  FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
  WHERE i.indrelid = to_regclass($1) AND i.indisprimary
  ORDER BY array_position(i.indkey::int2[], a.attnum)`;

/** Leading columns of each valid index of the table, in index order. */
const INDEXES = `SELECT array_agg(a.attname::text ORDER BY k.n) AS cols
  FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
  WHERE i.indrelid = to_regclass($1) AND i.indisvalid GROUP BY i.indexrelid`;

/**
 * `name` or `schema.name` (schema `public` when absent). Unlike a sink's table, a name
 * may start with a digit (the seed's `2025em1100102_orders`): PostgreSQL takes it quoted,
 * and the capture always quotes.
 */
export function parseCapturedTable(text: string): PgTableName {
  const parts = text.split('.');
  if (parts.length > 2 || parts.some((p) => !/^[A-Za-z0-9_][A-Za-z0-9_$]*$/.test(p))) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `'${text}' is not a table name to capture: expected name or schema.name (letters, digits, _)`,
    );
  }
  return parts.length === 2 ? { schema: parts[0], name: parts[1] } : { schema: 'public', name: parts[0] };
}

export function tableInvalid(table: PgTableName, message: string): TributaryError {
  return new TributaryError('CAPTURE_TABLE_INVALID', message, { table: displayName(table) });
}

/** The table's columns, or a CAPTURE_TABLE_INVALID error when it is missing or unreadable. */
export async function describeColumns(
  session: PgSession,
  table: PgTableName,
  target: string,
): Promise<CapturedColumn[]> {
  const name = qualified(table);
  const { rows } = await session.query<CapturedColumn>(COLUMNS, [name]);
  if (rows.length > 0) return rows;
  const exists = (await session.query<{ r: string | null }>('SELECT to_regclass($1)::text AS r', [name]))
    .rows[0].r;
  if (exists !== null) return rows; // a table without columns
  const others = (
    await session.query<{ t: string }>(
      `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1 LIMIT 12`,
      [table.schema],
    )
  ).rows.map((r) => r.t);
  throw tableInvalid(
    table,
    `there is no table ${displayName(table)} in ${target} to capture: check source.capture.table (schema.name; ` +
      `a name with capitals or starting with a digit is written as it is, e.g. 2025em1100102_orders) and the database in the URL. ` +
      (others.length > 0
        ? `Tables in schema ${table.schema}: ${others.join(', ')}${others.length === 12 ? ', …' : ''}`
        : `Schema ${table.schema} has no tables (or the user may not see them)`),
  );
}

export async function primaryKey(session: PgSession, table: PgTableName): Promise<string[]> {
  const { rows } = await session.query<{ name: string }>(PRIMARY_KEY, [qualified(table)]);
  return rows.map((r) => r.name);
}

/** Whether the capture's user may SELECT the table. */
export async function canRead(session: PgSession, table: PgTableName): Promise<boolean> {
  const { rows } = await session.query<{ ok: boolean }>("SELECT has_table_privilege($1, 'SELECT') AS ok", [
    qualified(table),
  ]);
  return rows[0].ok;
}

/** Whether some index starts with exactly `columns` (in order): the polling query's ORDER BY and range. */
export async function hasIndexOn(
  session: PgSession,
  table: PgTableName,
  columns: readonly string[],
): Promise<boolean> {
  const { rows } = await session.query<{ cols: string[] }>(INDEXES, [qualified(table)]);
  return rows.some((r) => columns.every((c, i) => r.cols[i] === c));
}
