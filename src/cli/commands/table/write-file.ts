/**
 * `tributary table write`: one NDJSON, CSV or Parquet file into a table, appended,
 * overwriting, or merged on key columns. When the table does not exist yet its schema is
 * inferred from the file by DuckDB and it is created (with --partition-by).
 *
 * Nothing changes on bad input: the whole file is read once before anything is
 * written, so a malformed line is reported with the file's name and no table, commit or
 * data file appears.
 */
import { promises as fs } from 'node:fs';
import { extname } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { isTributaryError, TributaryError } from '../../../core/errors.ts';
import type { ObjectStore } from '../../../storage/object-store.ts';
import {
  append,
  type DataSource,
  DeltaTable,
  merge,
  overwrite,
  type StructType,
  withConnection,
} from '../../../table/index.ts';
import { commitPath } from '../../../table/log-files.ts';
import { deltaTypeOf } from '../../../table/types.ts';
import { sourceQuery } from '../../../table/write/source.ts';

export type FileFormat = 'ndjson' | 'csv' | 'parquet';
export type WriteMode = 'append' | 'overwrite' | 'merge';

const EXTENSIONS: Record<string, FileFormat> = {
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
  '.json': 'ndjson',
  '.csv': 'csv',
  '.parquet': 'parquet',
  '.pq': 'parquet',
};

export interface WriteFileOptions {
  format?: FileFormat;
  mode: WriteMode;
  keys: string[];
  partitionBy: string[];
}

export interface WriteFileResult {
  version: number;
  rows: number;
  created: boolean;
}

export function formatOf(file: string, given?: string): FileFormat {
  if (given !== undefined) {
    if (given === 'ndjson' || given === 'csv' || given === 'parquet') return given;
    throw new TributaryError('INPUT_INVALID', `unknown --format '${given}'; use ndjson, csv or parquet`, {
      file,
    });
  }
  const format = EXTENSIONS[extname(file).toLowerCase()];
  if (format === undefined) {
    throw new TributaryError(
      'INPUT_INVALID',
      `cannot tell the format of '${file}' from its extension; add --format ndjson|csv|parquet`,
      { file },
    );
  }
  return format;
}

/** Reads the whole file once; returns its schema as Delta types and its row count. */
async function inspectFile(
  conn: DuckDBConnection,
  file: string,
  format: FileFormat,
): Promise<{ schema: StructType; rows: number }> {
  const source = await sourceQuery({ file, format });
  try {
    const reader = await conn.runAndReadAll(`SELECT * FROM (${source.sql}) LIMIT 0`);
    const names = reader.columnNames();
    const types = reader.columnTypes();
    const count = await conn.runAndReadAll(`SELECT count(*) AS n FROM (${source.sql})`);
    const fields = names.map((name, i) => ({
      name,
      type: deltaTypeOf(types[i], name),
      nullable: true,
      metadata: {},
    }));
    return { schema: { type: 'struct', fields }, rows: Number(count.getRowsJS()[0][0]) };
  } catch (err) {
    if (isTributaryError(err)) throw err;
    throw new TributaryError(
      'INPUT_INVALID',
      `'${file}' is not a valid ${format.toUpperCase()} file: ${(err as Error).message.split('\n')[0]}; fix the file and write it again (nothing was written)`,
      { file, format },
      err,
    );
  } finally {
    await source.cleanup();
  }
}

export async function writeFile(
  store: ObjectStore,
  display: string,
  file: string,
  opts: WriteFileOptions,
): Promise<WriteFileResult> {
  const format = formatOf(file, opts.format);
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat?.isFile()) {
    throw new TributaryError('INPUT_INVALID', `input file '${file}' does not exist or is not a file`, {
      file,
    });
  }
  if (opts.mode === 'merge' && opts.keys.length === 0) {
    throw new TributaryError(
      'INPUT_INVALID',
      '--mode merge needs --key with the columns that identify a row',
      {
        file,
      },
    );
  }
  const inspected = await withConnection((conn) => inspectFile(conn, file, format));
  const data: DataSource = { file, format };
  let created = false;
  let table: DeltaTable;
  if (await DeltaTable.exists(store)) {
    table = await DeltaTable.open(store);
    const current = (await table.snapshot()).partitionColumns;
    if (opts.partitionBy.length > 0 && opts.partitionBy.join(',') !== current.join(',')) {
      throw new TributaryError(
        'TABLE_INVALID_ARGUMENT',
        `table ${display} is partitioned by [${current.join(', ')}], not [${opts.partitionBy.join(', ')}]; drop --partition-by when writing to an existing table`,
        { table: display },
      );
    }
  } else {
    table = await DeltaTable.create(store, { schema: inspected.schema, partitionColumns: opts.partitionBy });
    created = true;
  }
  try {
    if (opts.mode === 'merge' && !created) {
      const res = await merge(table, data, {
        on: opts.keys,
        whenMatched: 'update',
        whenNotMatched: 'insert',
      });
      // No version when nothing changed (every row already there as it is).
      return { version: res.version ?? (await table.snapshot()).version, rows: inspected.rows, created };
    }
    const res =
      opts.mode === 'overwrite' && !created ? await overwrite(table, data) : await append(table, data);
    return { version: res.version, rows: inspected.rows, created };
  } catch (err) {
    // The table was made for this file: take it away again, so a failed write leaves nothing.
    if (created && (await table.snapshot()).version === 0) await store.delete(commitPath(0));
    throw err;
  }
}
