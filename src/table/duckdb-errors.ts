/**
 * DuckDB's failures in the error catalog. The node API throws plain Errors whose message
 * starts with DuckDB's error type ("IO Error: ...", "Out of Memory Error: ...": DuckDB's
 * ExceptionType as text, then " Error: "). The type says whose fault a failure is and
 * whether running the statement again can help:
 *
 * - out of memory, I/O (a scratch or staging file, a spill to the temp directory), an
 *   interrupt, a write-write conflict between connections: transient, retried;
 * - a value that does not convert or breaks a constraint: the data does not fit the SQL
 *   (e.g. a sink's select casts what the contract admits): the user's to fix;
 * - a statement DuckDB cannot parse or bind: SQL Tributary generated (possibly around
 *   SQL the user wrote): a bug unless the user's part is wrong;
 * - DuckDB's own internal or fatal errors: restart; report if it recurs.
 *
 * Every connection of the process's instance (`duckdb.ts`) throws these instead of the
 * plain errors, so the table layer and the runtime need no per-call handling: the
 * pipeline retries what is retryable and stops on the rest with the message.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { type ErrorCode, isTributaryError, TributaryError } from '../core/errors.ts';

type DuckdbCode = Extract<ErrorCode, `DUCKDB_${string}`>;

/** DuckDB's error types (ExceptionTypeToString), by code; any other type: DUCKDB_FAILED. */
export const DUCKDB_ERROR_TYPES: Record<Exclude<DuckdbCode, 'DUCKDB_FAILED'>, readonly string[]> = {
  DUCKDB_OUT_OF_MEMORY: ['Out of Memory'],
  DUCKDB_IO: ['IO', 'HTTP', 'Connection'],
  DUCKDB_INTERRUPTED: ['INTERRUPT'],
  DUCKDB_CONFLICT: ['TransactionContext'],
  DUCKDB_DATA: [
    'Conversion',
    'Out of Range',
    'Decimal',
    'Divide by Zero',
    'Mismatch Type',
    'Invalid Input',
    'Constraint',
    'Object Size',
    'Sequence',
  ],
  DUCKDB_SQL: [
    'Parser',
    'Syntax',
    'Binder',
    'Catalog',
    'Planner',
    'Optimizer',
    'Expression',
    'Not implemented',
    'Invalid type',
    'Unknown Type',
    'Parameter Not Resolved',
    'Parameter Not Allowed',
    'Dependency',
    'Settings',
    'Invalid Configuration',
    'Missing Extension',
    'Extension Autoloading',
    'Permission',
  ],
};

const CODE_OF_TYPE = new Map<string, DuckdbCode>();
for (const [code, types] of Object.entries(DUCKDB_ERROR_TYPES))
  for (const t of types) CODE_OF_TYPE.set(t, code as DuckdbCode);

/** "Binder Error: ..." → "Binder"; undefined when the message has no DuckDB type prefix. */
export function duckdbErrorType(message: string): string | undefined {
  return /^([A-Za-z][A-Za-z -]*?) Error: /.exec(message)?.[1];
}

function guidance(code: DuckdbCode, first: string): string {
  switch (code) {
    case 'DUCKDB_OUT_OF_MEMORY':
      return `DuckDB ran out of memory (${first}). It is retried with back-off; if it persists, make batches smaller (maxRecordsPerBatch, maxBytesPerBatch), run fewer pipelines or queries in the process, or give it more memory`;
    case 'DUCKDB_IO':
      return `DuckDB could not read or write a file (${first}). It is retried with back-off; if it persists, check free space and permissions where the message points (scratch files live in /dev/shm or the temp directory, staged table files in the temp directory)`;
    case 'DUCKDB_INTERRUPTED':
      return `a DuckDB statement was interrupted (${first}); it is retried`;
    case 'DUCKDB_CONFLICT':
      return `a DuckDB statement conflicted with a concurrent one (${first}); it is retried`;
    case 'DUCKDB_DATA':
      return `a value did not fit the SQL that processes it (${first}): make the contract reject such records, or change the SQL you wrote that converts them (a sink's select, a predicate); the records stay in the log and are read again once fixed`;
    case 'DUCKDB_SQL':
      return `DuckDB rejected a statement (${first}): if it holds SQL you wrote (a sink's select, a contract rule, a predicate, a MERGE condition, a column invariant), correct that; otherwise it is a bug in Tributary, please report it with this message`;
    case 'DUCKDB_FAILED':
      return `DuckDB failed (${first}): restart the process; if it happens again, please report it with this message`;
  }
}

/**
 * A DuckDB failure as a TributaryError (unchanged if it already is one). `sql`: the
 * statement, whose start goes into `details` (generated statements can be very long).
 */
export function fromDuckdbError(err: unknown, sql?: string): unknown {
  if (!(err instanceof Error) || isTributaryError(err)) return err;
  const type = duckdbErrorType(err.message);
  if (type === undefined) return err;
  const code = CODE_OF_TYPE.get(type) ?? 'DUCKDB_FAILED';
  const first = err.message.split('\n')[0];
  const details: Record<string, unknown> = { duckdbType: type, duckdbMessage: err.message };
  if (sql !== undefined) details.statement = sql.length > 500 ? `${sql.slice(0, 500)}...` : sql;
  return new TributaryError(code, guidance(code, first), details, err);
}

/** DuckDB's own text of a failure (the message before it was mapped), or the error's message. */
export function duckdbMessage(err: unknown): string {
  if (isTributaryError(err) && typeof err.details.duckdbMessage === 'string')
    return err.details.duckdbMessage;
  return err instanceof Error ? err.message : String(err);
}

/** True for a failure DuckDB raised (mapped or not). */
export function isDuckdbError(err: unknown): boolean {
  return isTributaryError(err)
    ? err.code.startsWith('DUCKDB_')
    : duckdbErrorType(duckdbMessage(err)) !== undefined;
}

/**
 * Makes `conn` throw mapped errors: its `run` (which every `runAndRead*` goes through)
 * and the statements its `prepare` returns (their `run`, likewise) — the ways the table
 * layer and the runtime run SQL. The query command's statements (`extractStatements`)
 * map their own failures.
 */
export function mapDuckdbErrors(conn: DuckDBConnection): DuckDBConnection {
  const run = conn.run.bind(conn);
  conn.run = async (sql, values, types) => {
    try {
      return await run(sql, values, types);
    } catch (err) {
      throw fromDuckdbError(err, sql);
    }
  };
  const prepare = conn.prepare.bind(conn);
  conn.prepare = async (sql) => {
    let prepared: Awaited<ReturnType<typeof prepare>>;
    try {
      prepared = await prepare(sql);
    } catch (err) {
      throw fromDuckdbError(err, sql);
    }
    const runPrepared = prepared.run.bind(prepared);
    prepared.run = async () => {
      try {
        return await runPrepared();
      } catch (err) {
        throw fromDuckdbError(err, sql);
      }
    };
    return prepared;
  };
  return conn;
}
