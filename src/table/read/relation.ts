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
import type { StructType } from '../schema.ts';
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
  const list = `[${files.map((f) => quoteString(f.localPath)).join(', ')}]`;
  const rowNumber = opts.withRowNumber ? ', file_row_number=true' : '';
  const source = `read_parquet(${list}, union_by_name=true, filename=${quoteString(FILE_COLUMN)}${rowNumber})`;
  const present = new Set(
    (await conn.runAndReadAll(`SELECT * FROM ${source} LIMIT 0`)).columnNames().map((n) => n.toLowerCase()),
  );
  const cols: string[] = [];
  for (const f of schema.fields) {
    const t = duckType(f.type);
    if (part.has(f.name)) cols.push(`CAST(__p.${quoteIdent(f.name)} AS ${t}) AS ${quoteIdent(f.name)}`);
    else if (present.has(f.name.toLowerCase()))
      cols.push(`CAST(__d.${quoteIdent(f.name)} AS ${t}) AS ${quoteIdent(f.name)}`);
    else cols.push(`CAST(NULL AS ${t}) AS ${quoteIdent(f.name)}`);
  }
  if (opts.withRowNumber) cols.push(`__d.file_row_number AS ${ROW_COLUMN}`);
  const needPaths = opts.withFile || partitionColumns.length > 0;
  if (!needPaths) return `SELECT ${cols.join(', ')} FROM ${source} AS __d`;
  if (opts.withFile) cols.push(`__p.__path AS ${FILE_COLUMN}`);
  const pfields = partitionColumns.map((c) => schema.fields.find((f) => f.name === c)!);
  const values = files
    .map((f) => {
      const pv = pfields.map((pf) => partitionValueCastSql(f.partitionValues[pf.name] ?? null, pf.type));
      return `(${[quoteString(f.localPath), quoteString(f.path), ...pv].join(', ')})`;
    })
    .join(', ');
  const names = ['__local', '__path', ...partitionColumns.map(quoteIdent)].join(', ');
  return `SELECT ${cols.join(', ')} FROM ${source} AS __d JOIN (VALUES ${values}) AS __p(${names}) ON __d.${FILE_COLUMN} = __p.__local`;
}
