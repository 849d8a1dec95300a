/**
 * One sandboxed query, run in this process (the worker process of sandbox-pool.ts runs
 * it; see sandbox.ts for the whole design). Three layers, each enough to stop a file
 * read on its own:
 *
 * 1. the decision on the parse tree (sandbox-check.ts, sandbox-tree.ts);
 * 2. the engine (sandbox-engine.ts): a DuckDB instance that may open the snapshot's
 *    Parquet files and nothing else, its settings locked;
 * 3. the plan: every scan a lake file, a VALUES list, a CTE or an allowed table function.
 *
 * Limits: the time limit interrupts the statement; DuckDB's memory limit (nothing spills
 * to disk) stops what its buffer manager allocates; reading stops after maxRows + 1 rows.
 * What DuckDB cannot interrupt or does not count (one huge value from one function call)
 * is the worker process's watchdog's to stop.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { isTributaryError, TributaryError } from '../core/errors.ts';
import { DeltaTable, type FileRef, scan } from '../table/index.ts';
import { exactValueConverter, type QueryColumn } from './results.ts';
import { parseAsOfTimestamp } from './run.ts';
import {
  type CheckedQuery,
  checkSandboxedQuery,
  locateLakeTable,
  refused,
  type SandboxTable,
} from './sandbox-check.ts';
import { mountView, openEngine, planReads, type SandboxEngine } from './sandbox-engine.ts';

export interface SandboxedQueryOptions {
  sql: string;
  /** The lake: tables are `<dataDir>/tables/<name>`. */
  dataDir: string;
  /** Rows returned at most; more make `truncated` true. */
  maxRows: number;
  /** The whole query (table snapshots, planning, running, reading rows) in milliseconds. */
  timeoutMs: number;
  /** DuckDB's memory limit for the query (default '256MB'). */
  memoryLimit?: string;
  /** DuckDB threads for the query (default 2). */
  threads?: number;
}

export interface SandboxedQueryResult {
  columns: QueryColumn[];
  /** Values as `runQuery` gives them: bigint for BIGINT/HUGEINT, strings for DECIMAL, DATE, TIMESTAMP. */
  rows: unknown[][];
  /** True when the query had more than maxRows rows (only maxRows are returned). */
  truncated: boolean;
}

export const DEFAULT_MEMORY_LIMIT = '256MB';

interface Snapshot {
  table: SandboxTable;
  files: FileRef[];
  schema: Parameters<typeof mountView>[3];
  partitionColumns: string[];
}

/** A lake table's snapshot and its files; a name that is no table of the lake is refused. */
async function resolve(t: SandboxTable, opts: SandboxedQueryOptions, sql: string): Promise<Snapshot> {
  const { store } = await locateLakeTable(t.name, opts.dataDir, sql);
  const table = await DeltaTable.open(store);
  const spec =
    t.asOf === undefined
      ? undefined
      : 'version' in t.asOf
        ? { version: t.asOf.version }
        : { timestamp: parseAsOfTimestamp(t.asOf.timestamp) };
  const snapshot = await table.snapshot(spec);
  const files = await scan(table, snapshot);
  return { table: t, files, schema: snapshot.schema, partitionColumns: snapshot.partitionColumns };
}

/** Reads at most maxRows + 1 rows of the query's result, chunk by chunk. */
async function readRows(
  conn: DuckDBConnection,
  sql: string,
  maxRows: number,
  expired: () => void,
): Promise<SandboxedQueryResult> {
  const result = await conn.stream(sql);
  const names = result.columnNames();
  const types = result.columnTypes();
  const columns = names.map((name, i) => ({ name, type: types[i].toString() }));
  const rows: unknown[][] = [];
  let truncated = false;
  for (;;) {
    expired();
    const chunk = await result.fetchChunk();
    if (chunk === null || chunk.rowCount === 0) break;
    for (const row of chunk.convertRows(exactValueConverter)) {
      if (rows.length === maxRows) {
        truncated = true;
        break;
      }
      rows.push(row);
    }
    if (truncated) break;
  }
  return { columns, rows, truncated };
}

function failure(err: unknown, sql: string, opts: SandboxedQueryOptions, timedOut: boolean): unknown {
  if (timedOut) {
    return new TributaryError(
      'QUERY_TIMEOUT',
      `the query ran longer than its limit of ${opts.timeoutMs} ms and was stopped; filter or aggregate more so it reads less, or ask for a longer limit`,
      { sql, timeoutMs: opts.timeoutMs },
      err,
    );
  }
  if (isTributaryError(err)) return err;
  const message = (err as Error)?.message ?? String(err);
  if (message.startsWith('Out of Memory Error')) {
    return new TributaryError(
      'QUERY_MEMORY_LIMIT',
      `the query needed more than its memory limit of ${opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT}; filter or aggregate more, or ask for a higher limit (${message.split('\n')[0]})`,
      { sql, memoryLimit: opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT },
      err,
    );
  }
  // The engine's own lock (layer 2) speaks in Permission errors.
  if (message.startsWith('Permission Error')) return refused(message.split('\n')[0], sql, err);
  return new TributaryError('QUERY_INVALID', `DuckDB rejected the query: ${message}`, { sql }, err);
}

function checkOptions(opts: SandboxedQueryOptions): void {
  for (const key of ['maxRows', 'timeoutMs'] as const) {
    const v = opts[key];
    if (!Number.isInteger(v) || v < (key === 'maxRows' ? 0 : 1)) {
      throw new TributaryError('CONFIG_INVALID', `${key} must be a whole number (got ${v})`, { [key]: v });
    }
  }
}

/**
 * Runs one read-only query over the lake's tables in this process. Rejects with
 * QUERY_REFUSED (a rule broken; the message says which), QUERY_INVALID (does not parse
 * or bind), QUERY_TIMEOUT, QUERY_MEMORY_LIMIT, or the table layer's errors
 * (TABLE_VERSION_NOT_FOUND for time travel out of reach, ...).
 */
export async function runInProcess(opts: SandboxedQueryOptions): Promise<SandboxedQueryResult> {
  checkOptions(opts);
  const started = Date.now();
  const checked = await checkSandboxedQuery(opts.sql);
  return runChecked(checked, { ...opts, timeoutMs: Math.max(1, opts.timeoutMs - (Date.now() - started)) });
}

/**
 * Runs a query the parse-tree check has passed (`checked`: its SQL with lake tables as
 * view names): snapshots, the locked engine, the plan check, the limits. The tests call
 * it without the check, to show the layers under it hold on their own.
 */
export async function runChecked(
  checked: CheckedQuery,
  opts: SandboxedQueryOptions,
): Promise<SandboxedQueryResult> {
  const { sql } = opts;
  let engine: SandboxEngine | undefined;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    engine?.conn.interrupt();
  }, opts.timeoutMs);
  const expired = () => {
    if (timedOut) throw new Error('timed out');
  };
  try {
    const snapshots: Snapshot[] = [];
    for (const t of checked.tables) {
      snapshots.push(await resolve(t, opts, sql));
      expired();
    }
    engine = await openEngine(
      snapshots.flatMap((s) => s.files.map((f) => f.localPath)),
      { memoryLimit: opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT, threads: opts.threads ?? 2 },
    );
    for (const s of snapshots) {
      expired();
      await mountView(engine.conn, s.table.view, s.files, s.schema, s.partitionColumns);
    }
    expired();
    const foreign = await planReads(engine.conn, checked.sql);
    if (foreign.length > 0) {
      const what = foreign.length === 1 ? 'which is not a lake table' : 'which are not lake tables';
      throw refused(`the query's plan reads ${foreign.join(', ')}, ${what}`, sql);
    }
    return await readRows(engine.conn, checked.sql, opts.maxRows, expired);
  } catch (err) {
    throw failure(err, sql, opts, timedOut);
  } finally {
    clearTimeout(timer);
    engine?.close();
  }
}
