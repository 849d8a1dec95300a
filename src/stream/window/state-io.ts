/**
 * Saving and restoring a window operator's state: each state table as one Parquet file
 * (zstd) put through the ObjectStore, and a small JSON descriptor put last, so a
 * descriptor that exists names files that are complete. Column types are recorded and
 * restored by cast: a Parquet round trip may widen a type (an ENUM comes back VARCHAR),
 * and the restored operator must produce the same output types as one never stopped.
 */
import { promises as fs } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { TributaryError } from '../../core/errors.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { scratchFile, writeScratch } from '../scratch.ts';
import { quoteIdent, quoteString } from './sql.ts';

export interface SavedTable {
  /** Object path in the store. */
  path: string;
  rows: number;
  columns: Array<{ name: string; type: string }>;
}

/** What `WindowOperator.save` returns and `open` restores from: small and JSON-able. */
export interface SavedWindowState {
  format: 1;
  /** The operator's name. */
  name: string;
  /** The spec's state shape (spec.ts `stateShape`): a restore under another shape is refused. */
  shape: string;
  /** Watermark in µs since the epoch; null before the first on-time row. */
  watermarkUs: number | null;
  /** null until the first batch created the state tables. */
  tables: { main: SavedTable; distinct: SavedTable[] } | null;
}

/** Object path of the descriptor for operator `name` under `prefix`. */
export function descriptorPath(prefix: string, name: string): string {
  return `${prefix.replace(/\/+$/, '')}/${name}.json`;
}

export async function writeTable(
  conn: DuckDBConnection,
  table: string,
  store: ObjectStore,
  path: string,
): Promise<SavedTable> {
  const columns = (await conn.runAndReadAll(`DESCRIBE ${table}`))
    .getRowObjectsJson()
    .map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  const rows = Number((await conn.runAndReadAll(`SELECT count(*) FROM ${table}`)).getRows()[0][0]);
  const file = scratchFile('window', 'parquet');
  try {
    await conn.run(`COPY ${table} TO ${quoteString(file)} (FORMAT parquet, COMPRESSION zstd)`);
    await store.put(path, await fs.readFile(file));
  } finally {
    await fs.rm(file, { force: true });
  }
  return { path, rows, columns };
}

export async function readTable(
  conn: DuckDBConnection,
  saved: SavedTable,
  store: ObjectStore,
  into: string,
): Promise<void> {
  const local = store.localPath?.(saved.path);
  const file = local ?? scratchFile('window', 'parquet');
  try {
    if (local === undefined) await writeScratch(file, await store.get(saved.path));
    const cols = saved.columns.map((c) => `${quoteIdent(c.name)}::${c.type} AS ${quoteIdent(c.name)}`);
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE ${into} AS SELECT ${cols.join(', ')} FROM read_parquet(${quoteString(file)})`,
    );
  } finally {
    if (local === undefined) await fs.rm(file, { force: true });
  }
  const rows = Number((await conn.runAndReadAll(`SELECT count(*) FROM ${into}`)).getRows()[0][0]);
  if (rows !== saved.rows) {
    throw new TributaryError(
      'INPUT_INVALID',
      `window state file ${saved.path} in ${store.url} holds ${rows} rows where its descriptor says ${saved.rows}: it was replaced or damaged; restore from an older state version`,
      { path: saved.path, rows, expected: saved.rows },
    );
  }
}

/** Reads the descriptor `save` wrote for operator `name` under `prefix`. */
export async function readDescriptor(
  store: ObjectStore,
  prefix: string,
  name: string,
): Promise<SavedWindowState> {
  const path = descriptorPath(prefix, name);
  const bytes = await store.get(path);
  let state: SavedWindowState;
  try {
    state = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new TributaryError(
      'INPUT_INVALID',
      `window state descriptor ${path} in ${store.url} is not JSON: ${(err as Error).message}`,
      { path },
      err,
    );
  }
  if (state?.format !== 1) {
    throw new TributaryError(
      'INPUT_INVALID',
      `window state descriptor ${path} in ${store.url} has format ${String(state?.format)}; this version reads format 1`,
      { path },
    );
  }
  return state;
}
