/**
 * The DuckDB a sandboxed query runs on: a fresh in-memory instance per query, locked
 * down before the user's SQL reaches it, so the engine itself refuses what the parse-tree
 * check (sandbox-tree.ts) might ever let through:
 *
 * - `allowed_paths` = exactly the Parquet files of the snapshots the query reads, then
 *   `enable_external_access = false`: no other file, no network, no ATTACH, no
 *   INSTALL/LOAD (extension autoloading is off too);
 * - `temp_directory = ''`: nothing spills to disk (DuckDB would otherwise allow its temp
 *   directory even without external access), so `max_memory` is a hard limit;
 * - `threads`, `max_memory`, TimeZone = UTC (as `tributary query`), then
 *   `lock_configuration = true`: no SET, RESET or PRAGMA changes any of it.
 *
 * The lake tables are mounted as views over those files after the lock (the views need
 * no more than the allowed files), and the plan of the query is checked before it runs:
 * every scan must be of a file, a VALUES list, a CTE or an allowed table function — not
 * of DuckDB's catalog views (duckdb_settings, information_schema, ...).
 */
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { TributaryError } from '../core/errors.ts';
import { quoteIdent, quoteString } from '../core/sql.ts';
import { type FileRef, filesRelation } from '../table/index.ts';
import type { StructType } from '../table/schema.ts';

export interface EngineLimits {
  /** DuckDB's max_memory, e.g. '256MB'. */
  memoryLimit: string;
  threads: number;
}

export interface SandboxEngine {
  instance: DuckDBInstance;
  conn: DuckDBConnection;
  close(): void;
}

const MEMORY_RE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;
const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Bytes of a DuckDB size ('256MB' is 256,000,000, '1GiB' 2^30), or undefined when it is none. */
export function sizeBytes(size: string): number | undefined {
  const m = MEMORY_RE.exec(size.trim());
  return m ? Number(m[1]) * UNIT_BYTES[m[2].toLowerCase()] : undefined;
}

function checkLimits(limits: EngineLimits): void {
  if (sizeBytes(limits.memoryLimit) === undefined) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `memory limit '${limits.memoryLimit}' is not a size; write it like '256MB' or '1GB'`,
      { memoryLimit: limits.memoryLimit },
    );
  }
  if (!Number.isInteger(limits.threads) || limits.threads < 1) {
    throw new TributaryError('CONFIG_INVALID', `threads must be a whole number ≥ 1, got ${limits.threads}`, {
      threads: limits.threads,
    });
  }
}

/** A locked-down instance that may read `files` and nothing else. */
export async function openEngine(files: string[], limits: EngineLimits): Promise<SandboxEngine> {
  checkLimits(limits);
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(limits.threads),
    max_memory: limits.memoryLimit,
    temp_directory: '',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    allow_community_extensions: 'false',
  });
  let conn: DuckDBConnection | undefined;
  try {
    conn = await instance.connect();
    await conn.run("SET TimeZone = 'UTC'");
    const paths = [...new Set(files)].map(quoteString).join(', ');
    await conn.run(`SET allowed_paths = [${paths}]`);
    await conn.run('SET enable_external_access = false');
    await conn.run('SET lock_configuration = true');
  } catch (err) {
    conn?.closeSync();
    instance.closeSync();
    throw err;
  }
  const open = conn;
  let closed = false;
  return {
    instance,
    conn: open,
    close() {
      if (closed) return;
      closed = true;
      open.closeSync();
      instance.closeSync();
    },
  };
}

/** Mounts one snapshot (its files, schema and partition columns) as the view `view`. */
export async function mountView(
  conn: DuckDBConnection,
  view: string,
  files: FileRef[],
  schema: StructType,
  partitionColumns: string[],
): Promise<void> {
  const relation = await filesRelation(conn, files, schema, partitionColumns);
  await conn.run(`CREATE TEMP VIEW ${quoteIdent(view)} AS ${relation}`);
}

/**
 * Table functions a plan may scan (in EXPLAIN's JSON, an operator that runs one names it
 * in `extra_info.Function`): the lake views' Parquet reader (which can open only the
 * allowed files) and the functions of ALLOWED_TABLE_FUNCTIONS. DuckDB's catalog views
 * (information_schema, duckdb_databases, sqlite_master, ...) are table functions too
 * (DUCKDB_TABLES, DUCKDB_SETTINGS, ...), and refused.
 */
const SCAN_FUNCTIONS = new Set([
  'READ_PARQUET',
  'RANGE',
  'GENERATE_SERIES',
  'UNNEST',
  'JSON_EACH',
  'JSON_TREE',
]);
/** Scans of DuckDB tables: there are none in the sandbox, and none may be read. */
const TABLE_SCANS = new Set(['SEQ_SCAN', 'TABLE_SCAN', 'INDEX_SCAN']);

interface PlanNode {
  name: string;
  children?: PlanNode[];
  extra_info?: Record<string, unknown>;
}

/** What a plan reads besides SCAN_FUNCTIONS. */
function foreignScans(nodes: PlanNode[], out: Set<string> = new Set()): Set<string> {
  for (const n of nodes) {
    const fn = n.extra_info?.Function;
    if (typeof fn === 'string' && !SCAN_FUNCTIONS.has(fn)) out.add(fn);
    if (TABLE_SCANS.has(n.name)) out.add(`${n.name} ${String(n.extra_info?.Table ?? '')}`.trim());
    foreignScans(n.children ?? [], out);
  }
  return out;
}

/**
 * The plan's scans, or a description of what else it reads. DuckDB plans without
 * running; a query it cannot bind fails here with DuckDB's message.
 */
export async function planReads(conn: DuckDBConnection, sql: string): Promise<string[]> {
  const rows = (await conn.runAndReadAll(`EXPLAIN (FORMAT json) ${sql}`)).getRows();
  const out = new Set<string>();
  for (const [, plan] of rows) foreignScans(JSON.parse(String(plan)) as PlanNode[], out);
  return [...out];
}
