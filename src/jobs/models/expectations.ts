/**
 * Expectations, each one SQL over a view of the rows checked (a model's table, or a
 * source table; in a run with partitions, those partitions only — except freshness,
 * which always looks at the whole table):
 *
 * | type            | a row fails when                                                   |
 * | not_null        | any of the columns is null                                          |
 * | unique          | its (non-null) values of the columns occur in more than one row     |
 * | accepted_values | the column is not null and not one of the values                    |
 * | range           | the column is below min or above max (nulls pass)                  |
 * | relationships   | the column is not null and no row of `to` has it in `field`         |
 * | sql             | the predicate is not true (false or null)                           |
 * | row_count       | (the table) the row count is outside [min, max]                     |
 * | freshness       | (the table) the newest value of the column is older than max_age,   |
 * |                 | by the run's clock, or the table is empty                           |
 *
 * The failing row count is the number of rows that fail (for `unique`, every copy);
 * the sample is up to N of them, ordered by all columns so it is the same every time.
 * An expectation whose SQL fails (a column it names is missing) fails, with the reason.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Clock } from '../../core/clock.ts';
import { quoteIdent, quoteString } from '../../core/sql.ts';
import type { Check, Expectation, TargetRef } from './config.ts';

export interface ExpectationResult {
  /** The model or source table checked. */
  target: string;
  targetKind: 'model' | 'source';
  expectation: string;
  type: Check['type'];
  severity: Expectation['severity'];
  passed: boolean;
  /** Rows that fail; null for row_count and freshness (which judge the table). */
  failingRows: number | null;
  /** What was measured (row count, newest value), or why the check could not run. */
  observed: string | null;
  /** Up to N failing rows, JSON-safe (bigints and decimals as text). */
  sample: Record<string, unknown>[];
  /** The table version checked. */
  tableVersion: number;
  /** The partitions checked (`event_date=2026-11-29`), null for the whole table. */
  partition: string | null;
}

export interface CheckContext {
  clock: Clock;
  sampleSize: number;
  /** A view over the whole table (freshness reads it when `view` holds only partitions). */
  wholeView: string;
  /** A view over another model or source, for relationships; created on demand. */
  viewOf(to: TargetRef): Promise<string>;
}

const literal = (v: string | number | boolean): string =>
  typeof v === 'string' ? quoteString(v) : typeof v === 'boolean' ? String(v) : String(v);

async function rowsOf(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await conn.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

/** The key values of `columns` (none null) that occur more than once, with their count `__n`. */
function duplicates(columns: string[], view: string): string {
  const cols = columns.map(quoteIdent).join(', ');
  const notNull = columns.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(' AND ');
  return `SELECT ${cols}, count(*) AS __n FROM ${view} WHERE ${notNull} GROUP BY ${cols} HAVING count(*) > 1`;
}

/** The condition a failing row meets (over columns of `v`), for the row-level checks. */
async function failingCondition(check: Check, view: string, ctx: CheckContext): Promise<string | undefined> {
  switch (check.type) {
    case 'not_null':
      return check.columns.map((c) => `${quoteIdent(c)} IS NULL`).join(' OR ');
    case 'unique': {
      const match = check.columns.map((c) => `__d.${quoteIdent(c)} = __v.${quoteIdent(c)}`).join(' AND ');
      return `EXISTS (SELECT 1 FROM (${duplicates(check.columns, view)}) AS __d WHERE ${match})`;
    }
    case 'accepted_values':
      return `${quoteIdent(check.column)} IS NOT NULL AND ${quoteIdent(check.column)} NOT IN (${check.values.map(literal).join(', ')})`;
    case 'range': {
      const c = quoteIdent(check.column);
      const parts: string[] = [];
      if (check.min !== undefined) parts.push(`${c} < ${literal(check.min)}`);
      if (check.max !== undefined) parts.push(`${c} > ${literal(check.max)}`);
      return parts.join(' OR ');
    }
    case 'relationships': {
      const other = await ctx.viewOf(check.to);
      const c = quoteIdent(check.column);
      return `${c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${other} AS __o WHERE __o.${quoteIdent(check.field)} = __v.${c})`;
    }
    case 'sql':
      return `NOT coalesce((${check.predicate}), false)`;
    default:
      return undefined;
  }
}

/** The checks whose failing rows are a plain condition on each row (counted together). */
const ROW_CHECKS = new Set<Check['type']>(['not_null', 'accepted_values', 'range', 'sql']);

/**
 * The failing row counts of the row-level checks among `xs`, in one scan of `view`
 * (a large table is read once, not once per check); undefined for the others, and for
 * all of them when the combined query fails (each is then run alone, to say which).
 */
export async function countTogether(
  conn: DuckDBConnection,
  view: string,
  xs: Expectation[],
  ctx: CheckContext,
): Promise<Array<number | undefined>> {
  const idx = xs.map((x, i) => (ROW_CHECKS.has(x.check.type) ? i : -1)).filter((i) => i >= 0);
  const out: Array<number | undefined> = xs.map(() => undefined);
  if (idx.length < 2) return out;
  try {
    const conds = await Promise.all(idx.map((i) => failingCondition(xs[i].check, view, ctx)));
    const cols = conds.map((c, j) => `count(*) FILTER (WHERE ${c}) AS c${j}`).join(', ');
    const [row] = await rowsOf(conn, `SELECT ${cols} FROM ${view} AS __v`);
    idx.forEach((i, j) => {
      out[i] = Number(row[`c${j}`]);
    });
  } catch {
    // Reported per expectation by checkOne.
  }
  return out;
}

/** Runs one expectation over `view` (a view name, already quoted); `counted`: its failing rows, already counted. */
export async function checkOne(
  conn: DuckDBConnection,
  view: string,
  x: Expectation,
  ctx: CheckContext,
  counted?: number,
): Promise<Pick<ExpectationResult, 'passed' | 'failingRows' | 'observed' | 'sample'>> {
  const check = x.check;
  const sampleSize = x.sample ?? ctx.sampleSize;
  try {
    if (check.type === 'row_count') {
      const n = Number((await rowsOf(conn, `SELECT count(*) AS n FROM ${view}`))[0].n);
      const passed =
        (check.min === undefined || n >= check.min) && (check.max === undefined || n <= check.max);
      return { passed, failingRows: null, observed: `${n} rows`, sample: [] };
    }
    if (check.type === 'freshness') {
      const c = quoteIdent(check.column);
      const [r] = await rowsOf(
        conn,
        `SELECT epoch_ms(CAST(max(${c}) AS TIMESTAMP)) AS ms, CAST(max(${c}) AS VARCHAR) AS v FROM ${ctx.wholeView}`,
      );
      if (r.ms === null) return { passed: false, failingRows: null, observed: 'no rows', sample: [] };
      const age = ctx.clock.now() - Number(r.ms);
      const passed = age <= check.maxAgeMs;
      return {
        passed,
        failingRows: null,
        observed: `newest ${r.v} (${formatAge(age)} old; at most ${check.maxAge})`,
        sample: [],
      };
    }
    const cond = await failingCondition(check, view, ctx);
    const from = `${view} AS __v`;
    // unique: counted from the duplicated keys alone (one aggregation, no join).
    const countSql =
      check.type === 'unique'
        ? `SELECT coalesce(sum(__n), 0) AS n FROM (${duplicates(check.columns, view)})`
        : `SELECT count(*) AS n FROM ${from} WHERE ${cond}`;
    const n = counted ?? Number((await rowsOf(conn, countSql))[0].n);
    const sample =
      n > 0 && sampleSize > 0
        ? await rowsOf(conn, `SELECT __v.* FROM ${from} WHERE ${cond} ORDER BY ALL LIMIT ${sampleSize}`)
        : [];
    return { passed: n === 0, failingRows: n, observed: null, sample };
  } catch (err) {
    return {
      passed: false,
      failingRows: null,
      observed: `the check failed to run: ${(err as Error).message.split('\n')[0]}`,
      sample: [],
    };
  }
}

function formatAge(ms: number): string {
  const neg = ms < 0;
  let s = Math.abs(ms) / 1000;
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (parts.length === 0 || s >= 1) parts.push(`${Math.floor(s)}s`);
  return `${neg ? '-' : ''}${parts.slice(0, 2).join(' ')}`;
}
