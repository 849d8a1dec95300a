/**
 * The lake against the source: the mirror table (food.orders_current) compared row by
 * row with the food-orders table as PostgreSQL holds it now (the seed's columns, and any
 * column added to the table that the mirror has too: numbers compared as numbers), and
 * the change log (food.orders) checked for changes landed twice. What `tributary demo
 * cdc` prints at the end; tests make their own comparison.
 */
import type { PgConnector } from '../../connectors/postgres/client.ts';
import { type PgTableName, qualified } from '../../connectors/postgres/tables.ts';
import { isTributaryError } from '../../core/errors.ts';
import { quoteIdent } from '../../core/sql.ts';
import { runQuery } from '../../query/run.ts';
import { COLUMNS, FOOD_ORDERS_TABLE } from './schema.ts';

export interface LakeComparison {
  sourceRows: number;
  mirrorRows: number;
  /** Orders whose every column is the same in both. */
  equal: number;
  /** Orders in both whose columns differ (e.g. an update not captured yet). */
  differing: number[];
  /** Orders in the source and not in the mirror. */
  missing: number[];
  /** Orders in the mirror and no longer in the source (a delete not captured: polling never sees one). */
  extra: number[];
  /** Rows of the change log, and how many of them repeat a change id (must be 0). */
  changeLogRows: number;
  changeLogDuplicates: number;
  failedRows: number;
}

/** The seed's columns compared, besides the key. */
const FIELDS: readonly string[] = COLUMNS.filter((c) => c !== 'order_id');

const ts = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${col}`;

/** Columns of the source table beyond the seed's, with whether each is a timestamp. */
async function addedColumns(
  db: PgConnector,
  table: PgTableName,
): Promise<Array<{ name: string; ts: boolean }>> {
  const s = await db.connect();
  try {
    const { rows } = await s.query<{ name: string; type: string }>(
      `SELECT column_name AS name, data_type AS type FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
      [table.schema, table.name],
    );
    return rows
      .filter(
        (r) => r.name !== 'order_id' && !FIELDS.includes(r.name) && /^[A-Za-z_][A-Za-z0-9_]*$/.test(r.name),
      )
      .map((r) => ({ name: r.name, ts: r.type.startsWith('timestamp') }));
  } finally {
    s.release();
  }
}

/** The source table's rows by order id, every value as text in the lake's form. */
export async function sourceRows(
  db: PgConnector,
  table: PgTableName = FOOD_ORDERS_TABLE,
  extra: ReadonlyArray<{ name: string; ts: boolean }> = [],
): Promise<Map<number, Record<string, string | null>>> {
  const more = extra.map(
    (c) => `, ${c.ts ? ts(quoteIdent(c.name)) : `${quoteIdent(c.name)}::text AS ${quoteIdent(c.name)}`}`,
  );
  const s = await db.connect();
  try {
    const { rows } = await s.query<Record<string, string | null>>(
      `SELECT order_id::text, customer_name, restaurant_name, item, amount::text, order_status, ${ts('created_at')}, ${ts('updated_at')}${more.join('')} FROM ${qualified(table)}`,
    );
    return new Map(rows.map((r) => [Number(r.order_id), r]));
  } finally {
    s.release();
  }
}

/** The mirror's rows by order id, in the same form (`extra`: further columns). */
export async function mirrorRows(
  dataDir: string,
  table = 'food.orders_current',
  extra: readonly string[] = [],
): Promise<Map<number, Record<string, string | null>>> {
  const fields = [...FIELDS, ...extra];
  let rows: Record<string, unknown>[];
  try {
    ({ rows } = await runQuery(
      `SELECT order_id, ${fields.map((f) => (f === 'amount' ? 'amount::VARCHAR AS amount' : quoteIdent(f))).join(', ')} FROM ${table}`,
      { dataDir },
    ));
  } catch (err) {
    if (isTributaryError(err, 'TABLE_NOT_FOUND')) return new Map();
    throw err;
  }
  return new Map(
    rows.map((r) => [
      Number(r.order_id),
      Object.fromEntries(fields.map((f) => [f, r[f] === null ? null : String(r[f])])),
    ]),
  );
}

/** Whether two values in text form are the same: equal text, or equal numbers (2.50 and 2.5). */
function same(a: string | null | undefined, b: string | null | undefined): boolean {
  if (a === b) return true;
  if (a == null || b == null) return false;
  const x = Number(a);
  return a.trim() !== '' && b.trim() !== '' && Number.isFinite(x) && x === Number(b);
}

/** The columns of the mirror table (none when it does not exist yet). */
async function mirrorColumns(dataDir: string, table: string): Promise<Set<string>> {
  try {
    const { columns } = await runQuery(`SELECT * FROM ${table} LIMIT 0`, { dataDir });
    return new Set(columns.map((c) => c.name));
  } catch (err) {
    if (isTributaryError(err, 'TABLE_NOT_FOUND')) return new Set();
    throw err;
  }
}

export async function compareLake(
  db: PgConnector,
  dataDir: string,
  table: PgTableName = FOOD_ORDERS_TABLE,
): Promise<LakeComparison> {
  const inMirror = await mirrorColumns(dataDir, 'food.orders_current');
  const extra = (await addedColumns(db, table)).filter((c) => inMirror.has(c.name));
  const fields = [...FIELDS, ...extra.map((c) => c.name)];
  const source = await sourceRows(db, table, extra);
  const mirror = await mirrorRows(
    dataDir,
    'food.orders_current',
    extra.map((c) => c.name),
  );
  const out: LakeComparison = {
    sourceRows: source.size,
    mirrorRows: mirror.size,
    equal: 0,
    differing: [],
    missing: [],
    extra: [],
    changeLogRows: 0,
    changeLogDuplicates: 0,
    failedRows: 0,
  };
  for (const [id, row] of source) {
    const m = mirror.get(id);
    if (!m) out.missing.push(id);
    else if (fields.every((f) => same(m[f], row[f]))) out.equal++;
    else out.differing.push(id);
  }
  for (const id of mirror.keys()) if (!source.has(id)) out.extra.push(id);
  const log = await maybeQuery(
    'SELECT count(*) AS n, count(*) - count(DISTINCT (order_id, __pos, __seq)) AS dup FROM food.orders',
    dataDir,
  );
  out.changeLogRows = Number(log?.n ?? 0);
  out.changeLogDuplicates = Number(log?.dup ?? 0);
  out.failedRows = Number(
    (await maybeQuery('SELECT count(*) AS n FROM food.orders_failed', dataDir))?.n ?? 0,
  );
  return out;
}

/** The first row of a query, or undefined when its table does not exist (yet). */
async function maybeQuery(sql: string, dataDir: string): Promise<Record<string, unknown> | undefined> {
  try {
    return (await runQuery(sql, { dataDir })).rows[0];
  } catch (err) {
    if (isTributaryError(err, 'TABLE_NOT_FOUND')) return undefined;
    throw err;
  }
}
