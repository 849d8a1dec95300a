/**
 * The SQL panels of a dashboard: each panel's fixed query, pinned to the versions of the
 * tables it reads (so every number on a page comes from one consistent state of the lake,
 * and the query the page shows can be run again to get the same answer), run through the
 * query layer (`runQuery`, what `tributary query` runs).
 */
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import { findTableRefs, microsToIso, runQuery } from '../../query/index.ts';
import type { Filter } from '../../table/index.ts';
import { parseStats, parseTimestampMicros, statText } from '../../table/stats.ts';
import type { TableCache } from '../tables/open.ts';
import type { PanelDef, SqlSource } from './definition.ts';

export interface PanelError {
  code: string;
  message: string;
}

/** A panel's answer: what the SQL endpoint answers, plus the query that made it. */
export interface PanelAnswer {
  columns: Array<{ name: string; type: string }>;
  rows: unknown[][];
  /** The query run, with the versions it read (`FROM orders_current VERSION AS OF 12`). */
  sql?: string;
  /** Why the panel has no numbers in this server (a source it does not have); not an error. */
  note?: string;
  /** What failed computing it: a catalog code (docs/errors.md) and its message. */
  error?: PanelError;
}

/** The latest version of each table; null for a table that does not exist (yet). */
export async function tableVersions(
  tables: TableCache,
  names: readonly string[],
): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  await Promise.all(
    names.map(async (name) => {
      try {
        out[name] = (await tables.snapshot(name)).snapshot.version;
      } catch (err) {
        if (!isTributaryError(err, 'TABLE_NOT_FOUND')) throw err;
        out[name] = null;
      }
    }),
  );
  return Object.fromEntries(names.map((n) => [n, out[n]]));
}

/** The tables a query reads by name (`{{rows table}}` included). */
export function tablesOf(sql: string): string[] {
  return [
    ...new Set([
      ...findTableRefs(sql)
        .filter((r) => r.kind === 'name')
        .map((r) => r.target),
      ...[...sql.matchAll(ROWS)].map((m) => m[1]),
    ]),
  ];
}

/**
 * `sql` with `VERSION AS OF n` after every table named without time travel. A table
 * missing from `versions` (or null there: not created yet) is TABLE_NOT_FOUND.
 */
export function pinVersions(sql: string, versions: Record<string, number | null>): string {
  let out = '';
  let pos = 0;
  for (const ref of findTableRefs(sql)) {
    if (ref.kind !== 'name' || ref.asOf !== undefined) continue;
    const version = versions[ref.target];
    if (version === undefined || version === null) {
      throw new TributaryError(
        'TABLE_NOT_FOUND',
        `the table ${ref.target} does not exist yet: it appears once its pipeline has committed (tributary demo, or tributary run)`,
        { table: ref.target },
      );
    }
    out += `${sql.slice(pos, ref.end)} VERSION AS OF ${version}`;
    pos = ref.end;
  }
  return out + sql.slice(pos);
}

/** `{{rows table}}`: see `resolveRows`. */
const ROWS = /\{\{rows ([A-Za-z_][\w.]*)\}\}/g;

/**
 * Replaces each `{{rows table}}` by the table's row count at its pinned version, summed
 * from the files' `numRecords` statistics: a literal, so counting every row of a large
 * table opens no file. A table one of whose files lacks the statistic (written by
 * another engine without them), or not pinned, gets `(SELECT count(*) FROM table)`
 * instead, which `pinVersions` then pins.
 */
export async function resolveRows(
  sql: string,
  versions: Record<string, number | null>,
  tables: TableCache,
): Promise<string> {
  const counts = new Map<string, string>();
  for (const [, table] of sql.matchAll(ROWS)) {
    if (counts.has(table)) continue;
    const version = versions[table];
    let rows: number | undefined;
    if (version !== undefined && version !== null) {
      const { snapshot } = await tables.snapshot(table, { version });
      rows = 0;
      for (const add of snapshot.files()) {
        const n = parseStats(add.stats)?.numRecords;
        if (n === undefined) {
          rows = undefined;
          break;
        }
        rows += n;
      }
    }
    counts.set(table, rows === undefined ? `(SELECT count(*) FROM ${table})` : `CAST(${rows} AS BIGINT)`);
  }
  return sql.replace(ROWS, (_all, table: string) => counts.get(table)!);
}

/** `{{newest table.column}}`: see `resolveNewest`. */
const NEWEST = /\{\{newest ([A-Za-z_][\w.]*)\.([A-Za-z_]\w*)\}\}/g;

/**
 * Replaces each `{{newest table.column}}` (a timestamp column) by a TIMESTAMPTZ literal
 * at or below the newest value of that column in the table's pinned version, read from
 * the files' statistics (no scan). Panels filter with it besides their exact condition
 * (`WHERE t >= {{newest e.t}} - INTERVAL 5 MINUTE AND t > newest.t - INTERVAL 5 MINUTE`):
 * the answer is the same, and DuckDB skips the row groups that are all older. A bound,
 * not the value: statistics are rounded up to milliseconds, and a file without them
 * only makes the bound lower (`-infinity` when none has any).
 */
export async function resolveNewest(
  sql: string,
  versions: Record<string, number | null>,
  tables: TableCache,
): Promise<string> {
  const bounds = new Map<string, string>();
  for (const [, table, column] of sql.matchAll(NEWEST)) {
    const key = `${table}.${column}`;
    if (bounds.has(key)) continue;
    const newest = await newestBound(table, column, versions, tables);
    bounds.set(
      key,
      newest === undefined ? `'-infinity'::TIMESTAMPTZ` : `TIMESTAMPTZ '${microsToIso(newest, true)}'`,
    );
  }
  return sql.replace(NEWEST, (_all, table: string, column: string) => bounds.get(`${table}.${column}`)!);
}

/**
 * What `{{newest table.column}}` stands for, in microseconds: at or below the newest
 * value of the column in the table's pinned version, from the files' statistics;
 * undefined when no file has them.
 */
async function newestBound(
  table: string,
  column: string,
  versions: Record<string, number | null>,
  tables: TableCache,
): Promise<bigint | undefined> {
  const version = versions[table];
  if (version === undefined || version === null) return undefined;
  let newest: bigint | undefined;
  const { snapshot } = await tables.snapshot(table, { version });
  for (const add of snapshot.files()) {
    const text = statText(parseStats(add.stats)?.maxValues[column]);
    const micros = text === undefined ? undefined : parseTimestampMicros(text);
    if (micros !== undefined && (newest === undefined || micros > newest)) newest = micros;
  }
  // Statistics are rounded up to the millisecond: the newest value is less than 1 ms below.
  return newest === undefined ? undefined : newest - 1000n;
}

/**
 * The rows of each table a panel's `windows` keep (`column >= {{newest}} - minutes`), as
 * the query layer's `restrict`: the same bound its SQL compares with.
 */
async function windowFilters(
  source: SqlSource,
  versions: Record<string, number | null>,
  tables: TableCache,
): Promise<Record<string, Filter[]>> {
  const out: Record<string, Filter[]> = {};
  for (const w of source.windows ?? []) {
    const newest = await newestBound(w.table, w.column, versions, tables);
    if (newest === undefined) continue;
    const from = newest - BigInt(Math.round(w.minutes * 60)) * 1_000_000n;
    out[w.table] = [...(out[w.table] ?? []), { column: w.column, op: '>=', value: microsToIso(from, true) }];
  }
  return out;
}

export async function runSqlPanel(
  panel: PanelDef & { source: SqlSource },
  versions: Record<string, number | null>,
  dataDir: string,
  tables: TableCache,
): Promise<PanelAnswer> {
  let sql: string | undefined;
  try {
    const counted = await resolveRows(panel.source.sql, versions, tables);
    sql = await resolveNewest(pinVersions(counted, versions), versions, tables);
    const result = await runQuery(sql, {
      dataDir,
      // The tables kept open by the server: a new version reads only the commits since.
      openTable: (name, at) => tables.snapshotAt(name, at),
      restrict: await windowFilters(panel.source, versions, tables),
    });
    return {
      columns: result.columns,
      rows: result.rows.map((row) => result.columns.map((c) => row[c.name])),
      sql,
    };
  } catch (err) {
    // A table its pipeline has not created yet: expected on a new lake, not a failure.
    if (isTributaryError(err, 'TABLE_NOT_FOUND')) return { columns: [], rows: [], note: err.message };
    return { columns: [], rows: [], sql, error: panelError(err) };
  }
}

/** An error as a panel shows it. */
export function panelError(err: unknown): PanelError {
  if (err instanceof TributaryError) return { code: err.code, message: err.message };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}
