/**
 * DuckDB connections for the table layer. Every connection runs with TimeZone=UTC:
 * Delta timestamps are UTC instants, and DuckDB renders and parses TIMESTAMPTZ text in
 * the session time zone (partition values, statistics, casts from plain TIMESTAMP).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { connect } from '../duckdb.ts';

export async function openConnection(): Promise<DuckDBConnection> {
  const conn = await connect();
  await conn.run("SET TimeZone = 'UTC'");
  return conn;
}

/** Runs `fn` with a fresh connection (UTC), closing it afterwards. */
export async function withConnection<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const conn = await openConnection();
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
  }
}

/** Rows of a query as JSON-safe objects (bigints and decimals as strings). */
export async function queryJson(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await conn.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}
