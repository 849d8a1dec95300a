/**
 * The SQL of a panel over a time window anchored at a table's newest row (the last hour
 * up to the newest event), rather than at the wall clock: a lake whose pipeline stopped
 * still shows its last activity, and over a running one the newest row is seconds old.
 *
 * The window is written twice: `{{newest table.column}}` (sql-panels.ts, resolveNewest)
 * lets DuckDB skip the row groups that are all older, and the exact condition against the
 * newest value gives the answer. `recentSource` also declares the window (the panel's
 * `windows`), so only the files whose statistics reach it are read at all.
 */

export interface RecentSqlOptions {
  /** The table (`orders_events`, `food.orders`); its rows are `e` in the query. */
  table: string;
  /** Its timestamp column the window is over (a plain name; quoted in the query). */
  column: string;
  /** How far back from the newest value (`5 MINUTE`, `24 HOUR`). */
  span: `${number} ${'MINUTE' | 'HOUR'}`;
  /** The select list, over `e`: `epoch(date_trunc('minute', e.ts))::BIGINT AS t, count(*) AS n`. */
  select: string;
  /** More conditions on `e`, and-ed with the window. */
  where?: string;
  /** The ORDER BY list (the rows are grouped by every column that is not an aggregate). */
  orderBy: string;
}

export function recentSql(o: RecentSqlOptions): string {
  const bound = `{{newest ${o.table}.${o.column}}}`;
  const column = `"${o.column}"`;
  const conditions = [
    ...(o.where === undefined ? [] : [o.where]),
    `e.${column} >= ${bound} - INTERVAL ${o.span}`,
    `e.${column} > newest.t - INTERVAL ${o.span}`,
  ];
  return `WITH newest AS (
  SELECT max(${column}) AS t FROM ${o.table} WHERE ${column} >= ${bound})
SELECT ${o.select}
FROM ${o.table} AS e, newest
WHERE ${conditions.join('\n  AND ')}
GROUP BY ALL ORDER BY ${o.orderBy}`;
}

/** A panel's SQL source over the window: the query, and the window it keeps to. */
export function recentSource(o: RecentSqlOptions): {
  type: 'sql';
  sql: string;
  windows: Array<{ table: string; column: string; minutes: number }>;
} {
  const [n, unit] = o.span.split(' ');
  const minutes = Number(n) * (unit === 'HOUR' ? 60 : 1);
  return { type: 'sql', sql: recentSql(o), windows: [{ table: o.table, column: o.column, minutes }] };
}
