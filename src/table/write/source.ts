/**
 * A batch to write, as the text of one DuckDB query. SQL passes through (the streaming
 * fast path: SQL over NDJSON bytes); files become DuckDB readers; JS rows are written
 * to a temporary NDJSON file that DuckDB's JSON reader parses (faster and more faithful
 * than binding values one by one: nested values, big integers and timestamps keep
 * their types).
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { TributaryError } from '../../core/errors.ts';
import { sqlString } from '../types.ts';

export type DataSource =
  | { sql: string; conn?: DuckDBConnection }
  | { rows: Record<string, unknown>[] }
  | { file: string; format: 'ndjson' | 'csv' | 'parquet' };

export interface SourceQuery {
  /** A query producing the batch's rows (no trailing semicolon). */
  sql: string;
  /** The connection the query must run on (a caller's connection sees its temp tables). */
  conn?: DuckDBConnection;
  /** True when the batch has no rows at all (JS rows: an empty array). */
  empty: boolean;
  cleanup(): Promise<void>;
}

/** JSON text for one JS value: bigint as exact digits, Date as ISO-8601, bytes as \xHH. */
function jsonValue(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (v === null) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : JSON.stringify(String(v));
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (v instanceof Uint8Array) {
    // DuckDB's VARCHAR → BLOB cast reads \xHH escapes.
    let s = '';
    for (const b of v) s += `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;
    return JSON.stringify(s);
  }
  if (Array.isArray(v)) return `[${v.map((x) => jsonValue(x) ?? 'null').join(',')}]`;
  if (v instanceof Map) {
    return `{${[...v.entries()]
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${JSON.stringify(String(k))}:${jsonValue(x)}`)
      .join(',')}}`;
  }
  if (typeof v === 'object') {
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const j = jsonValue(x);
      if (j !== undefined) parts.push(`${JSON.stringify(k)}:${j}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(v);
}

export function rowsToNdjson(rows: Record<string, unknown>[]): string {
  return rows.map((r) => jsonValue(r)).join('\n') + '\n';
}

export async function sourceQuery(data: DataSource): Promise<SourceQuery> {
  const noop = async () => {};
  if ('sql' in data) return { sql: data.sql, conn: data.conn, empty: false, cleanup: noop };
  if ('file' in data) {
    const f = sqlString(data.file);
    switch (data.format) {
      case 'ndjson':
        return {
          sql: `SELECT * FROM read_json(${f}, format='newline_delimited', sample_size=-1)`,
          empty: false,
          cleanup: noop,
        };
      case 'csv':
        return { sql: `SELECT * FROM read_csv(${f}, header=true)`, empty: false, cleanup: noop };
      case 'parquet':
        return { sql: `SELECT * FROM read_parquet(${f})`, empty: false, cleanup: noop };
      default:
        throw new TributaryError('TABLE_INVALID_ARGUMENT', `unknown file format '${String(data.format)}'`, {
          file: data.file,
        });
    }
  }
  if (!Array.isArray(data.rows)) {
    throw new TributaryError('TABLE_INVALID_ARGUMENT', 'a data source needs one of sql, rows or file', {});
  }
  if (data.rows.length === 0) return { sql: 'SELECT 1 WHERE false', empty: true, cleanup: noop };
  const dir = await fs.mkdtemp(join(tmpdir(), 'tributary-rows-'));
  const file = join(dir, `${randomUUID()}.ndjson`);
  await fs.writeFile(file, rowsToNdjson(data.rows));
  return {
    // sample_size=-1: infer types from every row, so a value late in the batch is not
    // forced into a type guessed from the first ones.
    sql: `SELECT * FROM read_json(${sqlString(file)}, format='newline_delimited', sample_size=-1)`,
    empty: false,
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
}
