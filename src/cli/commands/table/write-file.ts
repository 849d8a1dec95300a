/**
 * `tributary table write`: one NDJSON, CSV or Parquet file into a table, appended,
 * overwriting, or merged on key columns. When the table does not exist yet its schema is
 * inferred from the file by DuckDB and the write creates it (with --partition-by): as
 * with Spark and delta-rs, version 0 holds the table's protocol, metaData and the file's
 * rows.
 *
 * Nothing changes on bad input: the whole file is read once before anything is
 * written, so a malformed line is reported with the file's name and no table, commit or
 * data file appears.
 */
import { promises as fs } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { isTributaryError, TributaryError } from '../../../core/errors.ts';
import { quoteString } from '../../../core/sql.ts';
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
import { deltaTypeOf } from '../../../table/types.ts';
import { sourceQuery } from '../../../table/write/source.ts';
import { assertEmptyLocation } from './empty-location.ts';

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
  /** Add the file's columns that the table lacks as nullable columns (schema evolution). */
  mergeSchema?: boolean;
}

export interface WriteFileResult {
  version: number;
  rows: number;
  created: boolean;
  /** False when the write changed nothing (no rows to append, or a merge changing no row). */
  committed: boolean;
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

/**
 * Reads the whole file once (DuckDB sniffs types from every row) and returns its schema
 * as Delta types, and the query that reads the file from then on. For NDJSON that query
 * names the sniffed column types (`columns={...}`), because every query over a bare
 * `read_json(..., sample_size=-1)` sniffs the whole file again: ~1.3 s for a
 * 1,000,000-line, 115 MB file, paid by each of the schema check and the write. The row
 * count comes from the write itself (counting here was another full read).
 *
 * `textColumns` are the existing table's `string` columns (lower-cased): those are read
 * as text, never sniffed. Sniffed, `1.50` became DOUBLE and was stored as `1.5`,
 * `2026-01-01T10:00:00Z` became a timestamp stored as `2026-01-01 10:00:00+00`, and
 * `TRUE` became `true` — the table must hold the file's text as it is.
 */
async function inspectFile(
  conn: DuckDBConnection,
  file: string,
  format: FileFormat,
  textColumns: Set<string>,
  jsonFormat: 'array' | 'newline_delimited',
): Promise<{ schema: StructType; data: DataSource }> {
  const f = quoteString(file);
  const source =
    format === 'ndjson'
      ? {
          sql: `SELECT * FROM read_json(${f}, format='${jsonFormat}', sample_size=-1)`,
          cleanup: async () => {},
        }
      : await sourceQuery({ file, format });
  try {
    const reader = await conn.runAndReadAll(`SELECT * FROM (${source.sql}) LIMIT 0`);
    const names = reader.columnNames();
    const types = reader.columnTypes();
    const fields = names.map((name, i) => ({
      name,
      type: deltaTypeOf(types[i], name),
      nullable: true,
      metadata: {},
    }));
    const typeOf = (i: number) => (textColumns.has(names[i].toLowerCase()) ? 'VARCHAR' : types[i].toString());
    const spec = (only: (i: number) => boolean) =>
      names
        .map((n, i) => (only(i) ? `${quoteString(n)}: ${quoteString(typeOf(i))}` : undefined))
        .filter((x) => x !== undefined)
        .join(', ');
    let data: DataSource = { file, format };
    if (format === 'ndjson') {
      data = { sql: `SELECT * FROM read_json(${f}, format='${jsonFormat}', columns={${spec(() => true)}})` };
    } else if (format === 'csv' && names.some((n) => textColumns.has(n.toLowerCase()))) {
      const text = spec((i) => textColumns.has(names[i].toLowerCase()));
      data = { sql: `SELECT * FROM read_csv(${f}, header=true, sample_size=-1, types={${text}})` };
    }
    return { schema: { type: 'struct', fields }, data };
  } catch (err) {
    // DuckDB failing to read the file is the file's fault; anything else (a transient
    // DuckDB or storage failure, our own errors) passes through as it is.
    const duckdbRead = isTributaryError(err) && (err.code === 'DUCKDB_DATA' || err.code === 'DUCKDB_SQL');
    if (isTributaryError(err) && !duckdbRead) throw err;
    const original = duckdbRead && err.cause instanceof Error ? err.cause : (err as Error);
    throw new TributaryError(
      'INPUT_INVALID',
      `'${file}' is not a valid ${format.toUpperCase()} file: ${original.message.split('\n')[0]}; fix the file and write it again (nothing was written)`,
      { file, format },
      err,
    );
  } finally {
    await source.cleanup();
  }
}

/** The first byte of a text file that is not whitespace, or undefined for a blank file. */
async function firstNonBlankByte(file: string): Promise<number | undefined> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return undefined;
      for (let i = 0; i < bytesRead; i++) {
        const b = buf[i];
        if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return b;
      }
    }
  } finally {
    await fh.close();
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
  if (opts.mode === 'merge' && opts.mergeSchema) {
    throw new TributaryError(
      'INPUT_INVALID',
      '--merge-schema works with --mode append or overwrite; MERGE keeps the table schema',
      { file },
    );
  }
  if (opts.mode !== 'merge' && opts.keys.length > 0) {
    throw new TributaryError(
      'INPUT_INVALID',
      `--key is for --mode merge; --mode ${opts.mode} does not match rows by key (drop --key, or use --mode merge)`,
      { file },
    );
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
  // DuckDB reads an empty NDJSON file as one column named `json`, which no table has:
  // such a file is an empty batch (overwrite with it still empties the table).
  const first = format === 'ndjson' ? await firstNonBlankByte(file) : 0;
  const blank = first === undefined;
  // A .json file holding one JSON array of objects: a row per element, not one row.
  const jsonFormat = first === 0x5b ? 'array' : 'newline_delimited';
  const exists = await DeltaTable.exists(store);
  if (!exists && blank) {
    throw new TributaryError(
      'INPUT_INVALID',
      `'${file}' has no rows, so there is nothing to infer the columns of table ${display} from; create the table first with 'tributary table create ${display} --schema ...' (nothing was written)`,
      { file, table: display },
    );
  }
  const textColumns = new Set<string>();
  if (exists) {
    const current = (await (await DeltaTable.open(store)).snapshot()).schema;
    for (const f of current.fields) if (f.type === 'string') textColumns.add(f.name.toLowerCase());
  }
  const inspected = blank
    ? undefined
    : await withConnection((conn) => inspectFile(conn, file, format, textColumns, jsonFormat));
  const data: DataSource = inspected?.data ?? { rows: [] };
  let table: DeltaTable;
  if (exists) {
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
    await assertEmptyLocation(store, display);
    // Created by the write's own commit: version 0 holds the table and the file's rows.
    table = await DeltaTable.open(store, {
      createIfMissing: { schema: inspected!.schema, partitionColumns: opts.partitionBy },
    });
  }
  const created = !(await table.exists());
  try {
    let res: WriteFileResult;
    // Merge even into a table not created yet: it checks the keys (exist, one row each).
    if (opts.mode === 'merge') {
      const merged = await merge(table, data, {
        on: opts.keys,
        whenMatched: 'update',
        whenNotMatched: 'insert',
      });
      // No version when nothing changed (every row already there as it is).
      res = {
        version: merged.version ?? (await table.snapshot()).version,
        rows: merged.metrics.numSourceRows,
        created,
        committed: merged.version !== undefined,
      };
    } else {
      const schemaMode = opts.mergeSchema ? 'merge' : 'strict';
      const written =
        opts.mode === 'overwrite' && !created
          ? await overwrite(table, data, { schemaMode })
          : await append(table, data, { schemaMode });
      res = { version: written.version, rows: written.rows, created, committed: written.noop !== true };
    }
    if (created && !res.committed) {
      // A file with columns and no rows (a header-only CSV) still makes the table, empty.
      await DeltaTable.create(store, { schema: inspected!.schema, partitionColumns: opts.partitionBy });
      res.version = 0;
    }
    // Lost the race to create it to another writer, and appended after its version 0.
    res.created = created && res.version === 0;
    return res;
  } catch (err) {
    if (isTributaryError(err, 'TABLE_SCHEMA_MISMATCH') && err.message.includes("schemaMode 'merge'")) {
      // Say it the way a command-line user can act on it.
      err.message = err.message.replace("write with schemaMode 'merge'", 'write with --merge-schema');
    }
    // Nothing was committed; a local store may keep the folders the write made.
    if (created && !(await table.exists())) await removeEmptyDirs(store);
    throw err;
  }
}

/**
 * After a failed first write: a local store keeps the folders the write made (the log's,
 * partitions'), which `listTables` and a user would take for a table. rmdir removes
 * only empty folders, so a file someone else wrote meanwhile is never lost.
 */
async function removeEmptyDirs(store: ObjectStore): Promise<void> {
  const root = store.localPath?.('x');
  if (root === undefined) return;
  const prune = async (dir: string): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory()) await prune(join(dir, e.name));
    await fs.rmdir(dir).catch(() => {});
  };
  const top = await fs.readdir(dirname(root), { withFileTypes: true }).catch(() => []);
  for (const e of top) if (e.isDirectory()) await prune(join(dirname(root), e.name));
}
