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
    const fromPath = valuesInPaths(files, pfields);
    if (fromPath === undefined) return byPartition(conn, files, schema, pfields, opts.withRowNumber ?? false);
    const list = `[${files.map((f) => quoteString(f.localPath)).join(', ')}]`;
    const rowNumber = opts.withRowNumber ? ', file_row_number=true' : '';
    const source = `read_parquet(${list}, union_by_name=true, filename=${quoteString(FILE_COLUMN)}${rowNumber})`;
    const cols = columnsSql(schema, part, await presentColumns(conn, files), fromPath);
    if (opts.withRowNumber) cols.push(`__d.file_row_number AS ${ROW_COLUMN}`);
    return `SELECT ${cols.join(', ')} FROM ${source} AS __d`;
  }
  const list = `[${files.map((f) => quoteString(f.localPath)).join(', ')}]`;
  const rowNumber = opts.withRowNumber ? ', file_row_number=true' : '';
  const source = `read_parquet(${list}, union_by_name=true, filename=${quoteString(FILE_COLUMN)}${rowNumber})`;
  const present = await presentColumns(conn, files);
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

/**
 * The columns (lower case) each data file has, by local path: a file never changes, so
 * its footer is read for this once (a table read again after a commit reads the footers
 * of its new files only). Bounded: the oldest entries go first.
 */
const fileColumns = new Map<string, readonly string[]>();
const MAX_FILE_COLUMNS = 50_000;

/** The names (lower case) of the columns some file of `files` has, from their footers. */
async function presentColumns(conn: DuckDBConnection, files: readonly FileRef[]): Promise<Set<string>> {
  const present = new Set<string>();
  for (const f of files) {
    let cols = fileColumns.get(f.localPath);
    if (cols === undefined) {
      const source = `read_parquet(${quoteString(f.localPath)})`;
      cols = (await conn.runAndReadAll(`SELECT * FROM ${source} LIMIT 0`))
        .columnNames()
        .map((n) => n.toLowerCase());
      if (fileColumns.size >= MAX_FILE_COLUMNS) fileColumns.delete(fileColumns.keys().next().value!);
      fileColumns.set(f.localPath, cols);
    }
    for (const c of cols) present.add(c);
  }
  return present;
}

/**
 * The table's columns in schema order: partition columns from `__p` (or the expressions
 * `partExpr` gives), data columns from `__d` (NULL when no file has one).
 */
function columnsSql(
  schema: StructType,
  part: Set<string>,
  present: Set<string>,
  partExpr?: Map<string, string>,
): string[] {
  const cols: string[] = [];
  for (const f of schema.fields) {
    const t = duckType(f.type);
    if (part.has(f.name)) {
      const expr = partExpr?.get(f.name) ?? `__p.${quoteIdent(f.name)}`;
      cols.push(`CAST(${expr} AS ${t}) AS ${quoteIdent(f.name)}`);
    } else if (present.has(f.name.toLowerCase()))
      cols.push(`CAST(__d.${quoteIdent(f.name)} AS ${t}) AS ${quoteIdent(f.name)}`);
    else cols.push(`CAST(NULL AS ${t}) AS ${quoteIdent(f.name)}`);
  }
  return cols;
}

/**
 * When every file's path holds each of its partition values as written in the log
 * (`/event_hour=2026-11-02-10/`, plain characters that need no escaping, not null),
 * SQL that takes each value from the file's name: one scan of all the files, and a
 * query that reads no partition column pays nothing for them (a join to the values, or
 * a scan per partition joined by UNION ALL, made DuckDB read columns no query asked
 * for). Undefined otherwise: the values then come from the log by `byPartition`.
 */
function valuesInPaths(files: FileRef[], pfields: StructField[]): Map<string, string> | undefined {
  const out = new Map<string, string>();
  for (const pf of pfields) {
    if (!/^[A-Za-z0-9_]+$/.test(pf.name)) return undefined;
    for (const f of files) {
      const v = f.partitionValues[pf.name];
      if (v === null || v === undefined || !/^[A-Za-z0-9_.-]+$/.test(v)) return undefined;
      const path = f.localPath;
      if (path.split(`/${pf.name}=`).length !== 2 || !path.includes(`/${pf.name}=${v}/`)) return undefined;
    }
    out.set(pf.name, `regexp_extract(__d.${FILE_COLUMN}, ${quoteString(`/${pf.name}=([^/]*)/`)}, 1)`);
  }
  return out;
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
  const groups = new Map<string, { values: string[]; files: FileRef[] }>();
  for (const f of files) {
    const values = pfields.map((pf) => partitionValueCastSql(f.partitionValues[pf.name] ?? null, pf.type));
    const key = JSON.stringify(values);
    let g = groups.get(key);
    if (g === undefined) {
      g = { values, files: [] };
      groups.set(key, g);
    }
    g.files.push(f);
  }
  const part = new Set(pfields.map((pf) => pf.name));
  const names = pfields.map((pf) => quoteIdent(pf.name));
  const scans: string[] = [];
  for (const g of groups.values()) {
    const list = `[${g.files.map((f) => quoteString(f.localPath)).join(', ')}]`;
    const rowNumber = withRowNumber ? ', file_row_number=true' : '';
    const source = `read_parquet(${list}, union_by_name=true${rowNumber})`;
    // Per group: files written before a column was added read it as NULL.
    const cols = columnsSql(schema, part, await presentColumns(conn, g.files));
    if (withRowNumber) cols.push(`__d.file_row_number AS ${ROW_COLUMN}`);
    const values = g.values.map((v, i) => `${v} AS ${names[i]}`).join(', ');
    scans.push(`SELECT ${cols.join(', ')} FROM ${source} AS __d, (SELECT ${values}) AS __p`);
  }
  return scans.join(' UNION ALL ');
}
