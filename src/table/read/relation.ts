/**
 * A DuckDB query over a set of data files that yields the table's rows: data columns
 * read from Parquet (by name, so files written before a column was added read it as
 * NULL) and partition columns added back from each file's `partitionValues`, typed
 * (PROTOCOL.md, "Partition Value Serialization": readers take partition values from the
 * log, not from the directory names).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteIdent, quoteString } from '../../core/sql.ts';
import { partitionValueCastSql } from '../partition-path.ts';
import type { StructField, StructType } from '../schema.ts';
import { duckType } from '../types.ts';

export interface FileRef {
  /** `add.path` as in the log. */
  path: string;
  /** Where DuckDB reads the file. */
  localPath: string;
  partitionValues: Record<string, string | null>;
}

export const FILE_COLUMN = '__tributary_file';
/** The row's position in its file (0-based), with `withRowNumber`. */
export const ROW_COLUMN = '__tributary_row';

export interface RelationOptions {
  /** Also output the file's `add.path` as FILE_COLUMN. */
  withFile?: boolean;
  /**
   * Also output the row's position in its file as ROW_COLUMN: with FILE_COLUMN, an
   * identity for each row of a snapshot that stays the same across reads of it (the
   * order of pages in the HTTP API).
   */
  withRowNumber?: boolean;
}

/** SQL yielding the rows of `files`, columns in schema order (plus FILE_COLUMN if asked). */
export async function filesRelation(
  conn: DuckDBConnection,
  files: FileRef[],
  schema: StructType,
  partitionColumns: string[],
  opts: RelationOptions = {},
): Promise<string> {
  const part = new Set(partitionColumns);
  if (files.length === 0) {
    const cols = schema.fields.map((f) => `CAST(NULL AS ${duckType(f.type)}) AS ${quoteIdent(f.name)}`);
    if (opts.withFile) cols.push(`CAST(NULL AS VARCHAR) AS ${FILE_COLUMN}`);
    if (opts.withRowNumber) cols.push(`CAST(NULL AS BIGINT) AS ${ROW_COLUMN}`);
    return `SELECT ${cols.join(', ')} WHERE false`;
  }
  const pfields = partitionColumns.map((c) => schema.fields.find((f) => f.name === c)!);
  if (partitionColumns.length > 0 && !opts.withFile) {
    return byPartition(conn, files, schema, pfields, opts.withRowNumber ?? false);
  }
  const list = `[${files.map((f) => quoteString(f.localPath)).join(', ')}]`;
  const rowNumber = opts.withRowNumber ? ', file_row_number=true' : '';
  const source = `read_parquet(${list}, union_by_name=true, filename=${quoteString(FILE_COLUMN)}${rowNumber})`;
  const present = await presentColumns(conn, source);
  const cols = columnsSql(schema, part, present);
  if (opts.withRowNumber) cols.push(`__d.file_row_number AS ${ROW_COLUMN}`);
  const needPaths = opts.withFile || partitionColumns.length > 0;
  if (!needPaths) return `SELECT ${cols.join(', ')} FROM ${source} AS __d`;
  if (opts.withFile) cols.push(`__p.__path AS ${FILE_COLUMN}`);
  const values = files
    .map((f) => {
      const pv = pfields.map((pf) => partitionValueCastSql(f.partitionValues[pf.name] ?? null, pf.type));
      return `(${[quoteString(f.localPath), quoteString(f.path), ...pv].join(', ')})`;
    })
    .join(', ');
  const names = ['__local', '__path', ...partitionColumns.map(quoteIdent)].join(', ');
  return `SELECT ${cols.join(', ')} FROM ${source} AS __d JOIN (VALUES ${values}) AS __p(${names}) ON __d.${FILE_COLUMN} = __p.__local`;
}

/** The names (lower case) of the columns the files of `source` have, from their footers. */
async function presentColumns(conn: DuckDBConnection, source: string): Promise<Set<string>> {
  return new Set(
    (await conn.runAndReadAll(`SELECT * FROM ${source} LIMIT 0`)).columnNames().map((n) => n.toLowerCase()),
  );
}

/** The table's columns in schema order: partition columns from `__p`, data columns from `__d` (NULL when no file has one). */
function columnsSql(schema: StructType, part: Set<string>, present: Set<string>): string[] {
  const cols: string[] = [];
  for (const f of schema.fields) {
    const t = duckType(f.type);
    if (part.has(f.name)) cols.push(`CAST(__p.${quoteIdent(f.name)} AS ${t}) AS ${quoteIdent(f.name)}`);
    else if (present.has(f.name.toLowerCase()))
      cols.push(`CAST(__d.${quoteIdent(f.name)} AS ${t}) AS ${quoteIdent(f.name)}`);
    else cols.push(`CAST(NULL AS ${t}) AS ${quoteIdent(f.name)}`);
  }
  return cols;
}

/**
 * A partitioned table's rows without the file of each: one scan per set of partition
 * values, its partition columns constants, the scans joined by UNION ALL. (Joining every
 * row to its file's values on the file name cost a hash join over all the rows read,
 * even for a query that reads no partition column; a constant costs nothing.)
 */
async function byPartition(
  conn: DuckDBConnection,
  files: FileRef[],
  schema: StructType,
  pfields: StructField[],
  withRowNumber: boolean,
): Promise<string> {
  const groups = new Map<string, { values: string[]; paths: string[] }>();
  for (const f of files) {
    const values = pfields.map((pf) => partitionValueCastSql(f.partitionValues[pf.name] ?? null, pf.type));
    const key = JSON.stringify(values);
    let g = groups.get(key);
    if (g === undefined) {
      g = { values, paths: [] };
      groups.set(key, g);
    }
    g.paths.push(f.localPath);
  }
  const part = new Set(pfields.map((pf) => pf.name));
  const names = pfields.map((pf) => quoteIdent(pf.name));
  const scans: string[] = [];
  for (const g of groups.values()) {
    const list = `[${g.paths.map(quoteString).join(', ')}]`;
    const rowNumber = withRowNumber ? ', file_row_number=true' : '';
    const source = `read_parquet(${list}, union_by_name=true${rowNumber})`;
    // Per group: files written before a column was added read it as NULL.
    const cols = columnsSql(schema, part, await presentColumns(conn, source));
    if (withRowNumber) cols.push(`__d.file_row_number AS ${ROW_COLUMN}`);
    const values = g.values.map((v, i) => `${v} AS ${names[i]}`).join(', ');
    scans.push(`SELECT ${cols.join(', ')} FROM ${source} AS __d, (SELECT ${values}) AS __p`);
  }
  return scans.join(' UNION ALL ');
}
