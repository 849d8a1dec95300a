/**
 * The PostgreSQL tables a sink writes: created from the definition when absent (schema,
 * columns with their types, the key as primary key), checked when present (every column
 * there with a type the rows fit, the key backed by a unique index, no column the sink
 * leaves empty that may not be), and the progress table where sinks keep their source
 * offsets beside their rows.
 *
 * DDL runs in short transactions under one advisory lock, so sinks opening at once do
 * not race on CREATE ... IF NOT EXISTS.
 */
import { TributaryError } from '../../core/errors.ts';
import { quoteIdent } from '../../core/sql.ts';
import type { PgSession } from './client.ts';

/** A table by schema and name. */
export interface PgTableName {
  schema: string;
  name: string;
}

export interface PgColumn {
  name: string;
  /** A PostgreSQL type as written in DDL: `bigint`, `timestamptz`, `numeric(12,2)`, `text`. */
  type: string;
}

/** The table where sinks keep their progress: one row per marker (`<pipeline>/<sink>/<source>/<partition>`). */
export const PROGRESS_TABLE: PgTableName = { schema: 'tributary', name: 'progress' };

/** Advisory lock key under which DDL runs ('tributar' as an int8). */
const DDL_LOCK = '8390880602192945522';

export function parseTableName(text: string): PgTableName {
  const parts = text.split('.');
  if (parts.length > 2 || parts.some((p) => !/^[A-Za-z_][A-Za-z0-9_$]*$/.test(p))) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `'${text}' is not a PostgreSQL table name: expected name or schema.name (letters, digits, _)`,
    );
  }
  return parts.length === 2 ? { schema: parts[0], name: parts[1] } : { schema: 'public', name: parts[0] };
}

export function qualified(t: PgTableName): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}

export function displayName(t: PgTableName): string {
  return `${t.schema}.${t.name}`;
}

async function ddl(session: PgSession, statements: string[]): Promise<void> {
  await session.query('BEGIN');
  try {
    await session.query(`SELECT pg_advisory_xact_lock(${DDL_LOCK})`);
    for (const s of statements) await session.query(s);
    await session.query('COMMIT');
  } catch (err) {
    await session.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

export async function ensureProgressTable(
  session: PgSession,
  table: PgTableName = PROGRESS_TABLE,
): Promise<void> {
  await ddl(session, [
    `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(table.schema)}`,
    `CREATE TABLE IF NOT EXISTS ${qualified(table)} (
      app_id text PRIMARY KEY,
      version bigint NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`,
  ]);
}

interface ActualColumn {
  name: string;
  type: string;
  notNull: boolean;
  hasDefault: boolean;
}

const ATTRIBUTES = `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
  a.attnotnull AS "notNull", a.atthasdef AS "hasDefault"
  FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`;

/** The types as PostgreSQL spells them (`format_type`), from a table created and rolled back. */
async function canonicalTypes(
  session: PgSession,
  columns: readonly PgColumn[],
): Promise<Map<string, string>> {
  const probe = '__tributary_types';
  await session.query('BEGIN');
  try {
    await session.query(
      `CREATE TEMP TABLE ${probe} (${columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')})`,
    );
    const { rows } = await session.query<ActualColumn>(ATTRIBUTES, [probe]);
    return new Map(rows.map((r) => [r.name, r.type]));
  } finally {
    await session.query('ROLLBACK').catch(() => {});
  }
}

const INTEGERS = ['smallint', 'integer', 'bigint'];

/** Types named, besides the written one, as columns that hold it (`assignable`). */
const WIDER = ['integer', 'bigint', 'numeric', 'double precision', 'character varying', 'json'];

/** Whether values of type `from` are written into a column of type `to` without loss. */
export function assignable(from: string, to: string): boolean {
  if (from === to) return true;
  const numeric = /^numeric(?:\((\d+),(\d+)\))?$/;
  const toNum = numeric.exec(to);
  const fromInt = INTEGERS.indexOf(from);
  if (fromInt >= 0) {
    if (INTEGERS.indexOf(to) > fromInt) return true;
    if (to === 'double precision' && from !== 'bigint') return true;
    if (toNum) {
      const digits = [5, 10, 19][fromInt];
      return toNum[1] === undefined || Number(toNum[1]) - Number(toNum[2]) >= digits;
    }
    return false;
  }
  if (from === 'real' && to === 'double precision') return true;
  const fromNum = numeric.exec(from);
  if (fromNum && toNum) {
    if (toNum[1] === undefined) return true;
    if (fromNum[1] === undefined) return false;
    return (
      Number(toNum[2]) >= Number(fromNum[2]) &&
      Number(toNum[1]) - Number(toNum[2]) >= Number(fromNum[1]) - Number(fromNum[2])
    );
  }
  if (from === 'text' && to === 'character varying') return true;
  if (from === 'jsonb' && to === 'json') return true;
  return false;
}

/**
 * Creates the table if it does not exist; otherwise checks the sink can write it. `key`
 * becomes the primary key; `updatedAt`, if given, a `timestamptz` column set on each write.
 */
export async function ensureTable(
  session: PgSession,
  table: PgTableName,
  columns: readonly PgColumn[],
  key: readonly string[],
  sink: string,
): Promise<void> {
  const name = qualified(table);
  const exists = (await session.query<{ r: string | null }>('SELECT to_regclass($1)::text AS r', [name]))
    .rows[0].r;
  if (exists === null) {
    const keySet = new Set(key);
    const defs = columns.map(
      (c) => `${quoteIdent(c.name)} ${c.type}${keySet.has(c.name) ? ' NOT NULL' : ''}`,
    );
    await ddl(session, [
      `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(table.schema)}`,
      `CREATE TABLE IF NOT EXISTS ${name} (${defs.join(', ')}, PRIMARY KEY (${key.map(quoteIdent).join(', ')}))`,
    ]);
    return;
  }
  const shown = displayName(table);
  const incompatible = (what: string) =>
    new TributaryError(
      'POSTGRES_TABLE_INCOMPATIBLE',
      `sink '${sink}': PostgreSQL table ${shown} exists, but ${what}. No rows were written. Change the table, ` +
        `or let the sink create one under another name (its table in the definition: --set sinks.${sink}.table=${shown}_v2).`,
      { table: shown, sink },
    );
  const actual = (await session.query<ActualColumn>(ATTRIBUTES, [name])).rows;
  const byName = new Map(actual.map((c) => [c.name, c]));
  const wanted = await canonicalTypes(session, columns);
  const problems: string[] = [];
  const alter = `ALTER TABLE ${name}`;
  for (const c of columns) {
    const have = byName.get(c.name);
    const want = wanted.get(c.name)!;
    const col = quoteIdent(c.name);
    if (!have) {
      problems.push(`column ${c.name} (${want}) is missing (${alter} ADD COLUMN ${col} ${want})`);
    } else if (!assignable(want, have.type)) {
      const wider = WIDER.filter((t) => t !== want && assignable(want, t));
      const zone =
        want === 'timestamp with time zone' && have.type.startsWith('timestamp')
          ? " (a timestamp without time zone would hold the UTC instants converted to the session's time zone)"
          : '';
      problems.push(
        `column ${c.name} is ${have.type} and the sink writes ${want}${zone}: make it ${[want, ...wider].join(' or ')} ` +
          `(${alter} ALTER COLUMN ${col} TYPE ${want} USING ${col}::${want})`,
      );
    }
  }
  const written = new Set(columns.map((c) => c.name));
  for (const c of actual) {
    if (!written.has(c.name) && c.notNull && !c.hasDefault) {
      problems.push(
        `column ${c.name} is NOT NULL without a default, and the sink does not write it (${alter} ALTER COLUMN ${quoteIdent(c.name)} DROP NOT NULL, or SET DEFAULT ...)`,
      );
    }
  }
  if (problems.length > 0) {
    throw incompatible(
      `${problems.join('; ')}. The table has: ${actual.map((c) => `${c.name} ${c.type}`).join(', ')}`,
    );
  }
  const { rows } = await session.query<{ cols: string[] }>(
    `SELECT array_agg(a.attname::text ORDER BY a.attname) AS cols
       FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
      WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL
      GROUP BY i.indexrelid`,
    [name],
  );
  const want = [...key].sort().join(',');
  if (!rows.some((r) => [...r.cols].sort().join(',') === want)) {
    throw incompatible(
      `it has no primary key or unique index on exactly (${key.join(', ')}), the key the sink upserts by ` +
        `(${alter} ADD PRIMARY KEY (${key.map(quoteIdent).join(', ')}))`,
    );
  }
}
