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
import { quoteIdent, quoteString } from '../../core/sql.ts';
import type { StructType } from '../schema.ts';

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

/** A map value as a JSON list of {key, value} entries. */
function mapEntries(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v as Record<string, unknown>);
  return `[${entries
    .filter(([, x]) => x !== undefined)
    .map(([k, x]) => `{"key":${JSON.stringify(String(k))},"value":${jsonValue(x)}}`)
    .join(',')}]`;
}

/**
 * NDJSON for JS rows. Top-level map columns (named in `mapColumns`) are written as
 * lists of {key, value} entries: as JSON objects, DuckDB would infer one STRUCT holding
 * the keys of every row in the batch, and each map would gain the other rows' keys.
 */
export function rowsToNdjson(rows: Record<string, unknown>[], mapColumns: Set<string> = new Set()): string {
  if (mapColumns.size === 0) return rows.map((r) => jsonValue(r)).join('\n') + '\n';
  return (
    rows
      .map((r) => {
        const parts: string[] = [];
        for (const [k, x] of Object.entries(r)) {
          const j = mapColumns.has(k) ? mapEntries(x) : jsonValue(x);
          if (j !== undefined) parts.push(`${JSON.stringify(k)}:${j}`);
        }
        return `{${parts.join(',')}}`;
      })
      .join('\n') + '\n'
  );
}

/** `schema`, when given, is the target table's: it tells which JS row fields are maps. */
export async function sourceQuery(data: DataSource, schema?: StructType): Promise<SourceQuery> {
  const noop = async () => {};
  if ('sql' in data) return { sql: data.sql, conn: data.conn, empty: false, cleanup: noop };
  if ('file' in data) {
    const f = quoteString(data.file);
    switch (data.format) {
      case 'ndjson':
        return {
          sql: `SELECT * FROM read_json(${f}, format='newline_delimited', sample_size=-1)`,
          empty: false,
          cleanup: noop,
        };
      case 'csv':
        // sample_size=-1: sniff types from every row, as for NDJSON; with DuckDB's
        // default sample a value past the first ~20,000 rows that does not fit the
        // guessed type fails the whole write.
        return {
          sql: `SELECT * FROM read_csv(${f}, header=true, sample_size=-1)`,
          empty: false,
          cleanup: noop,
        };
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
  const mapColumns = new Set(
    (schema?.fields ?? [])
      .filter((f) => typeof f.type === 'object' && f.type.type === 'map')
      .map((f) => f.name),
  );
  const present = [...mapColumns].filter((c) => data.rows.some((r) => r[c] !== undefined && r[c] !== null));
  await fs.writeFile(file, rowsToNdjson(data.rows, mapColumns));
  // sample_size=-1: infer types from every row, so a value late in the batch is not
  // forced into a type guessed from the first ones.
  const read = `read_json(${quoteString(file)}, format='newline_delimited', sample_size=-1)`;
  const replace = present.map((c) => `map_from_entries(${quoteIdent(c)}) AS ${quoteIdent(c)}`);
  return {
    sql:
      replace.length > 0 ? `SELECT * REPLACE (${replace.join(', ')}) FROM ${read}` : `SELECT * FROM ${read}`,
    empty: false,
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
}
