/**
 * SQL over Delta tables with DuckDB. Each table reference in the text (see
 * references.ts) becomes a temporary view over one snapshot's Parquet files, so time
 * travel and file selection are ours and DuckDB needs no Delta extension. Views live on
 * a connection of their own, closed when the query ends.
 */
import type { DuckDBConnection, DuckDBResult, DuckDBResultReader } from '@duckdb/node-api';
import type { Clock } from '../core/clock.ts';
import { isTributaryError, TributaryError } from '../core/errors.ts';
import { quoteIdent } from '../core/sql.ts';
import { fromDuckdbError } from '../table/duckdb-errors.ts';
import { DeltaTable, type Filter, openConnection, type Snapshot, snapshotQuery } from '../table/index.ts';
import { locateTable } from '../table/locate.ts';
import { type AsOf, findTableRefs, SqlReferenceError, type TableRef } from './references.ts';
import { exactValueConverter, type QueryColumn, type QueryResult, toQueryResult } from './results.ts';

export interface RunQueryOptions {
  /** Tables named without a path live in `<dataDir>/tables/<name>`. */
  dataDir: string;
  clock?: Clock;
  /**
   * Opens a table named without a path at a snapshot (default: found under `dataDir`
   * and its log read afresh). A server passes its tables kept open, whose latest
   * snapshot is refreshed by reading only the commits since (server/tables/open.ts).
   */
  openTable?: (name: string, at: { version?: number; timestamp?: number }) => Promise<OpenedTable>;
  /**
   * Rows each table (by name) is restricted to: every reference to it reads only the
   * rows matching all its filters, from the files whose statistics say they may hold
   * such rows (read/filter.ts). For filters the query's own conditions imply, the
   * answer is the same as without, from fewer files.
   */
  restrict?: Record<string, Filter[]>;
}

export interface OpenedTable {
  table: DeltaTable;
  snapshot: Snapshot;
}

export type { QueryColumn, QueryResult } from './results.ts';

/**
 * `'2026-01-01'`, `'2026-01-01 12:00:00'`, `'2026-01-01T12:00:00.5Z'`, `'...+02:00'`:
 * milliseconds since the epoch; text without an offset is UTC.
 */
export function parseAsOfTimestamp(text: string): number {
  const m =
    /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i.exec(
      text.trim(),
    );
  const ms = m ? Date.parse(`${m[1]}T${m[2] ?? '00:00:00'}${normalizeOffset(m[3])}`) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new TributaryError(
      'QUERY_INVALID',
      `TIMESTAMP AS OF '${text}' is not a timestamp; write it like '2026-01-01 00:00:00' (UTC) or '2026-01-01T00:00:00+02:00'`,
      { timestamp: text },
    );
  }
  return ms;
}

function normalizeOffset(offset: string | undefined): string {
  if (offset === undefined || offset.toUpperCase() === 'Z') return 'Z';
  const m = /^([+-]\d{2}):?(\d{2})?$/.exec(offset)!;
  return `${m[1]}:${m[2] ?? '00'}`;
}

function snapshotSpec(asOf: AsOf | undefined): { version?: number; timestamp?: number } | undefined {
  if (asOf === undefined) return undefined;
  return 'version' in asOf ? { version: asOf.version } : { timestamp: parseAsOfTimestamp(asOf.timestamp) };
}

/** Creates the view over the snapshot one reference names (remote files are cached locally by scan). */
async function createView(
  conn: DuckDBConnection,
  view: string,
  ref: TableRef,
  opts: RunQueryOptions,
): Promise<void> {
  let opened: OpenedTable;
  if (ref.kind === 'name' && opts.openTable !== undefined) {
    opened = await opts.openTable(ref.target, snapshotSpec(ref.asOf) ?? {});
  } else {
    const { store } = await locateTable(ref.target, opts.dataDir);
    const table = await DeltaTable.open(store, { clock: opts.clock });
    opened = { table, snapshot: await table.snapshot(snapshotSpec(ref.asOf)) };
  }
  const filter = ref.kind === 'name' ? opts.restrict?.[ref.target] : undefined;
  const relation = await snapshotQuery(opened.table, opened.snapshot, conn, { filter });
  await conn.run(`CREATE TEMP VIEW ${quoteIdent(view)} AS ${relation}`);
}

/**
 * A connection for queries over tables: UTC, and Parquet footers cached across queries
 * (`parquet_metadata_cache`, DuckDB's bounded object cache: a table's data files never
 * change, so a footer read once serves every later query over the file; without it each
 * query read every file's footer twice, to bind and to scan).
 */
async function openQueryConnection(): Promise<DuckDBConnection> {
  const conn = await openConnection();
  await conn.run('SET parquet_metadata_cache = true');
  return conn;
}

/** Rewrites `sql` so each table reference reads a view; creates the views on `conn`. */
export async function prepareQuery(
  conn: DuckDBConnection,
  sql: string,
  opts: RunQueryOptions,
): Promise<string> {
  let refs: TableRef[];
  try {
    refs = findTableRefs(sql);
  } catch (err) {
    if (err instanceof SyntaxError || err instanceof SqlReferenceError) {
      throw new TributaryError('QUERY_INVALID', `invalid SQL: ${err.message}`, { sql }, err);
    }
    throw err;
  }
  const views = new Map<string, string>();
  let out = '';
  let pos = 0;
  for (const ref of refs) {
    const key = JSON.stringify([ref.kind, ref.target, ref.asOf ?? null]);
    let view = views.get(key);
    if (view === undefined) {
      view = `__tributary_${views.size}`;
      await createView(conn, view, ref, opts);
      views.set(key, view);
    }
    const alias = ref.implicitAlias === undefined ? '' : ` AS ${quoteIdent(ref.implicitAlias)}`;
    out += `${sql.slice(pos, ref.start)}${quoteIdent(view)}${alias}`;
    pos = ref.end;
  }
  return out + sql.slice(pos);
}

/**
 * Runs each statement of `sql` in turn and returns the last one's result: read whole,
 * or (`stream`) as a result its rows are fetched from chunk by chunk. (Given several
 * statements at once, DuckDB's query call returns the *first* result, so
 * `CREATE ...; SELECT ...` printed the CREATE's count instead of the rows.)
 */
async function runStatements(conn: DuckDBConnection, sql: string): Promise<DuckDBResultReader>;
async function runStatements(conn: DuckDBConnection, sql: string, stream: true): Promise<DuckDBResult>;
async function runStatements(
  conn: DuckDBConnection,
  sql: string,
  stream = false,
): Promise<DuckDBResultReader | DuckDBResult> {
  // Comments, blanks and semicolons alone: DuckDB's extractor fails without a message.
  const blank = sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, '').replace(/[\s;]/g, '') === '';
  const statements = blank ? undefined : await conn.extractStatements(sql);
  if (statements === undefined || statements.count === 0) {
    throw new TributaryError('QUERY_INVALID', 'the SQL text holds no statement; give a query like SELECT 1', {
      sql,
    });
  }
  let last: DuckDBResultReader | DuckDBResult | undefined;
  for (let i = 0; i < statements.count; i++) {
    const prepared = await statements.prepare(i);
    try {
      last = stream && i === statements.count - 1 ? await prepared.stream() : await prepared.runAndReadAll();
    } finally {
      prepared.destroySync();
    }
  }
  return last!;
}

function rejected(err: unknown, sql: string): unknown {
  if (isTributaryError(err)) return err;
  // Out of memory, I/O, an interrupt: not the query's fault, and running it again may work.
  const mapped = fromDuckdbError(err, sql);
  if (isTributaryError(mapped) && mapped.retryable) return mapped;
  return new TributaryError(
    'QUERY_INVALID',
    `DuckDB rejected the query: ${(err as Error).message}`,
    { sql },
    err,
  );
}

/** A query's result whose rows arrive chunk by chunk (a large result is never held whole). */
export interface StreamedQuery {
  columns: QueryColumn[];
  /** The rows, a chunk (up to 2,048 rows) at a time; read once. The connection closes when they end. */
  chunks: AsyncIterable<Record<string, unknown>[]>;
  /** Closes the connection early (when the rows are not read to the end). */
  close(): void;
}

/** Like runQuery, with the last statement's rows streamed instead of read whole. */
export async function streamQuery(sql: string, opts: RunQueryOptions): Promise<StreamedQuery> {
  const conn = await openQueryConnection();
  let open = true;
  const close = () => {
    if (open) conn.closeSync();
    open = false;
  };
  try {
    const rewritten = await prepareQuery(conn, sql, opts);
    let result: DuckDBResult;
    try {
      result = await runStatements(conn, rewritten, true);
    } catch (err) {
      throw rejected(err, sql);
    }
    const names = result.columnNames();
    const types = result.columnTypes();
    const columns = names.map((name, i) => ({ name, type: types[i].toString() }));
    async function* chunks(): AsyncGenerator<Record<string, unknown>[]> {
      try {
        for await (const rows of result.yieldConvertedRowObjects(exactValueConverter)) {
          yield rows as Record<string, unknown>[];
        }
      } catch (err) {
        throw rejected(err, sql);
      } finally {
        close();
      }
    }
    return { columns, chunks: chunks(), close };
  } catch (err) {
    close();
    throw err;
  }
}

/** Runs one SQL text (several statements: the last one's result) over the tables. */
export async function runQuery(sql: string, opts: RunQueryOptions): Promise<QueryResult> {
  const conn = await openQueryConnection();
  try {
    const rewritten = await prepareQuery(conn, sql, opts);
    try {
      return toQueryResult(await runStatements(conn, rewritten));
    } catch (err) {
      throw rejected(err, sql);
    }
  } finally {
    conn.closeSync();
  }
}
