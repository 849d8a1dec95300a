/**
 * The SQL sandbox: read-only SQL over the lake for callers that are not trusted with
 * the machine (the HTTP API's `POST /sql`, the dashboard's SQL box). docs/sql.md,
 * "SQL sandbox", says what is allowed and what is refused; the layers:
 *
 * - sandbox-check.ts / sandbox-tree.ts: the decision, on DuckDB's parse of the statement;
 * - sandbox-engine.ts: a DuckDB instance per query that may open the snapshot's files
 *   and nothing else, settings locked, memory limited, no spilling;
 * - sandbox-run.ts: tables resolved to snapshots, the plan checked, the time limit, the
 *   row cap;
 * - sandbox-pool.ts: worker processes, killed on a memory or time overrun that DuckDB
 *   itself cannot stop.
 */
import { TributaryError } from '../core/errors.ts';
import { sizeBytes } from './sandbox-engine.ts';
import { SandboxPool } from './sandbox-pool.ts';
import {
  DEFAULT_MEMORY_LIMIT,
  type SandboxedQueryOptions,
  type SandboxedQueryResult,
} from './sandbox-run.ts';

export { type CheckedQuery, checkSandboxedQuery, type SandboxTable } from './sandbox-check.ts';
export {
  DEFAULT_MEMORY_LIMIT,
  runInProcess,
  type SandboxedQueryOptions,
  type SandboxedQueryResult,
} from './sandbox-run.ts';

/** Worker processes by default: one per core of a small machine. */
export const DEFAULT_WORKERS = 2;

let pool: SandboxPool | undefined;

/**
 * Sets how many queries run at once (each in a worker process of its own; later ones
 * wait), and with `warm` starts the workers now rather than on the first query.
 */
export function configureSandbox(opts: { workers: number; warm?: boolean }): void {
  const next = new SandboxPool(opts.workers);
  pool?.close();
  pool = next;
  if (opts.warm) pool.warm();
}

/** Stops the sandbox's worker processes (the next query starts them again). */
export function closeSandbox(): void {
  pool?.close();
  pool = undefined;
}

function checkOptions(opts: SandboxedQueryOptions): void {
  for (const key of ['maxRows', 'timeoutMs'] as const) {
    const v = opts[key];
    if (!Number.isInteger(v) || v < (key === 'maxRows' ? 0 : 1)) {
      throw new TributaryError('CONFIG_INVALID', `${key} must be a whole number (got ${v})`, { [key]: v });
    }
  }
  const memory = opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
  if (sizeBytes(memory) === undefined) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `memory limit '${memory}' is not a size; write it like '256MB' or '1GB'`,
      { memoryLimit: memory },
    );
  }
}

/**
 * Runs one read-only query over the lake's tables in the sandbox: at most `maxRows`
 * rows (`truncated` says there were more), within `timeoutMs` and `memoryLimit`.
 * Rejects with QUERY_REFUSED (a rule broken; the message says which), QUERY_INVALID
 * (does not parse or bind), QUERY_TIMEOUT, QUERY_MEMORY_LIMIT, or the table layer's
 * errors (TABLE_VERSION_NOT_FOUND for time travel out of reach, ...).
 */
export async function runSandboxedQuery(opts: SandboxedQueryOptions): Promise<SandboxedQueryResult> {
  checkOptions(opts);
  pool ??= new SandboxPool(DEFAULT_WORKERS);
  return pool.run({
    sql: opts.sql,
    dataDir: opts.dataDir,
    maxRows: opts.maxRows,
    timeoutMs: opts.timeoutMs,
    memoryLimit: opts.memoryLimit,
    threads: opts.threads,
  });
}
