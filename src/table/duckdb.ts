/**
 * One in-process DuckDB instance for the table layer: Parquet encoding and decoding of
 * data files and checkpoints. DuckDB is the fastest Parquet reader and writer reachable
 * from Node here (see ARCHITECTURE.md); it reads and writes local files, so remote
 * stores stage through a temporary directory.
 */
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { mapDuckdbErrors } from './duckdb-errors.ts';

let instance: Promise<DuckDBInstance> | undefined;

export function duckdb(): Promise<DuckDBInstance> {
  instance ??= DuckDBInstance.create(':memory:', { threads: '2' });
  return instance;
}

/**
 * A new connection to the shared instance; close it with `conn.closeSync()` when done.
 * Its failures are TributaryErrors with a DUCKDB_* code (duckdb-errors.ts).
 */
export async function connect(): Promise<DuckDBConnection> {
  return mapDuckdbErrors(await (await duckdb()).connect());
}
