/**
 * What a failure of PostgreSQL means for a pipeline, from node-postgres' errors: a
 * connection that could not be made or was lost (the server is down, restarting, out of
 * connections) is POSTGRES_UNAVAILABLE and is waited out; a refused login is
 * POSTGRES_AUTH; anything else the server refused (with its SQLSTATE) is POSTGRES_FAILED.
 */
import { TributaryError } from '../../core/errors.ts';
import { quoteIdent } from '../../core/sql.ts';

/** Socket errors of Node.js that mean "not reachable now". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
]);

/**
 * SQLSTATEs worth a retry: connection exceptions (class 08), the server shutting down or
 * starting (57P01-57P03), too many connections (53300), a statement cancelled by a
 * timeout (57014), serialization failures and deadlocks (40001, 40P01), locks not
 * available (55P03).
 */
function retryableState(state: string): boolean {
  return (
    state.startsWith('08') ||
    ['57P01', '57P02', '57P03', '53300', '57014', '40001', '40P01', '55P03'].includes(state)
  );
}

/** node-postgres' own messages for a connection that broke or timed out. */
const LOST_CONNECTION =
  /Connection terminated|connection error|not queryable|timeout expired|Query read timeout|timeout exceeded when trying to connect|Client was closed|socket hang up/i;

interface PgErrorLike {
  code?: string;
  message?: string;
  severity?: string;
  detail?: string;
  hint?: string;
  errors?: unknown[];
}

/** The SQLSTATE of a server error (five characters), or the Node.js error code. */
export function errorCode(err: unknown): string | undefined {
  const e = err as PgErrorLike;
  if (typeof e?.code === 'string') return e.code;
  // AggregateError of several connection attempts (IPv4 and IPv6).
  if (Array.isArray(e?.errors)) return errorCode(e.errors[0]);
  return undefined;
}

export function isUnavailable(err: unknown): boolean {
  if (err instanceof TributaryError) return err.code === 'POSTGRES_UNAVAILABLE';
  const code = errorCode(err);
  if (code !== undefined && NETWORK_CODES.has(code)) return true;
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code) && retryableState(code)) return true;
  const message = (err as PgErrorLike)?.message ?? '';
  return code === undefined && LOST_CONNECTION.test(message);
}

/** node-postgres' own message when the server asks for a password and none was given. */
const NO_PASSWORD = /client password must be a (?:non-empty )?string|Password must be a string/i;

/**
 * Wraps a node-postgres error for `target` (host:port/database, no password) and `what`
 * (the operation, a gerund phrase: `connecting`, `writing batch 3 of sink 'x' into t`).
 * A TributaryError passes through unchanged. Messages never hold the password: neither
 * the server's nor node-postgres' texts include it, and `target` has none.
 */
export function postgresError(err: unknown, target: string, what: string): TributaryError {
  if (err instanceof TributaryError) return err;
  const e = err as PgErrorLike;
  const code = errorCode(err);
  const text =
    e?.message || (Array.isArray(e?.errors) ? String((e.errors[0] as Error)?.message) : String(err));
  const details = { target, ...(code && { sqlstate: code }) };
  const state = code ? ` [${code}]` : '';
  if (isUnavailable(err)) {
    return new TributaryError(
      'POSTGRES_UNAVAILABLE',
      `PostgreSQL at ${target} is unavailable (${what}): ${text}${state}`,
      details,
      err,
    );
  }
  if (code === '28P01') {
    return new TributaryError(
      'POSTGRES_AUTH',
      `PostgreSQL at ${target} refused the login: ${text}${state}. Check the user and password in the connection URL (or $PGPASSWORD when the URL has none).`,
      details,
      err,
    );
  }
  if (code === '28000') {
    return new TributaryError(
      'POSTGRES_AUTH',
      `PostgreSQL at ${target} refused the login: ${text}${state}. The server's pg_hba.conf does not let this user connect from here to this database (or the role does not exist): check the user and database in the connection URL, or ask the server's administrator.`,
      details,
      err,
    );
  }
  if (code === undefined && NO_PASSWORD.test(text)) {
    return new TributaryError(
      'POSTGRES_AUTH',
      `PostgreSQL at ${target} asks for a password and none was given: put it in the connection URL (postgres://user:password@host:port/database) or in $PGPASSWORD.`,
      details,
      err,
    );
  }
  if (code === '3D000') {
    const db = target.slice(target.indexOf('/') + 1);
    return new TributaryError(
      'POSTGRES_FAILED',
      `PostgreSQL at ${target} has no database '${db}'${state}: correct the database name at the end of the connection URL, or create it (CREATE DATABASE ${/^[a-z_][a-z0-9_]*$/.test(db) ? db : quoteIdent(db)}).`,
      details,
      err,
    );
  }
  if (code === undefined && /does not support SSL/i.test(text)) {
    return new TributaryError(
      'POSTGRES_FAILED',
      `PostgreSQL at ${target} does not support SSL connections, which the connection URL asks for (sslmode): remove sslmode from the URL, or enable SSL on the server.`,
      details,
      err,
    );
  }
  const extra = [e?.detail, e?.hint].filter(Boolean).join(' ');
  return new TributaryError(
    'POSTGRES_FAILED',
    `PostgreSQL at ${target} returned an error (${what}): ${text}${state}${extra ? ` (${extra})` : ''}`,
    details,
    err,
  );
}
