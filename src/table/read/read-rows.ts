/**
 * Reading a snapshot's rows as JS objects (tests, the CLI, small results). Values come
 * in DuckDB's JSON-safe form: bigints and decimals as strings, timestamps as text in
 * UTC, nested values as objects and arrays.
 */
import { quoteIdent } from '../../core/sql.ts';
import type { Snapshot } from '../snapshot.ts';
import { duckType } from '../types.ts';
import type { TableHandle } from '../write/table-handle.ts';
import { queryJson, withConnection } from './connection.ts';
import { type Filter, filtersToSql } from './filter.ts';
import { filesRelation } from './relation.ts';
import { scan } from './scan.ts';

export interface ReadOptions {
  columns?: string[];
  filter?: Filter[];
  /** SQL ORDER BY text, e.g. `id` or `ts DESC, id`. */
  orderBy?: string;
  limit?: number;
}

/** The SQL text over a snapshot's files (after skipping); for the query layer and readRows. */
export async function snapshotQuery(
  table: TableHandle,
  snapshot: Snapshot,
  conn: Parameters<typeof filesRelation>[0],
  opts: ReadOptions = {},
): Promise<string> {
  const files = await scan(table, snapshot, { filter: opts.filter });
  const rel = await filesRelation(conn, files, snapshot.schema, snapshot.partitionColumns);
  const cols = opts.columns?.length ? opts.columns.map(quoteIdent).join(', ') : '*';
  const where = opts.filter?.length
    ? ` WHERE ${filtersToSql(opts.filter, snapshot.schema, quoteIdent, duckType)}`
    : '';
  const order = opts.orderBy ? ` ORDER BY ${opts.orderBy}` : '';
  const limit = opts.limit !== undefined ? ` LIMIT ${Math.floor(opts.limit)}` : '';
  return `SELECT ${cols} FROM (${rel}) AS __t${where}${order}${limit}`;
}

export async function readRows(
  table: TableHandle,
  snapshot: Snapshot,
  opts: ReadOptions = {},
): Promise<Record<string, unknown>[]> {
  return withConnection(async (conn) => queryJson(conn, await snapshotQuery(table, snapshot, conn, opts)));
}
