/**
 * Partition directories and `add.path` strings.
 *
 * Directory names follow Hive/Spark escaping: `%XX` (uppercase hex) for control
 * characters and `" # % ' * / : = ? \ { [ ] ^` and DEL; a null value is
 * `__HIVE_DEFAULT_PARTITION__`. `add.path` is the URI-encoding of the relative path
 * (PROTOCOL.md, "Add File and Remove File": "path: A relative path to a data file from
 * the root of the table or an absolute path ... encoded as a URI"), so a value `a:b`
 * lands in directory `p=a%3Ab` and its add.path reads `p=a%253Ab`. Readers match a
 * `remove` to its `add` by the exact path string (delta-rs #4304, #4624), so every
 * function here is deterministic: the same values always give the same string.
 *
 * Partition values themselves are strings in `partitionValues` (PROTOCOL.md, "Partition
 * Value Serialization"); readers take them from there, never from the directory name.
 */
import { TributaryError } from '../core/errors.ts';
import { quoteIdent, quoteString } from '../core/sql.ts';
import type { DataType } from './schema.ts';
import { duckType } from './types.ts';

export const HIVE_NULL = '__HIVE_DEFAULT_PARTITION__';

function needsEscape(code: number): boolean {
  if (code < 0x20 || code === 0x7f) return true;
  switch (code) {
    case 0x22: // "
    case 0x23: // #
    case 0x25: // %
    case 0x27: // '
    case 0x2a: // *
    case 0x2f: // /
    case 0x3a: // :
    case 0x3d: // =
    case 0x3f: // ?
    case 0x5c: // \
    case 0x7b: // {
    case 0x5b: // [
    case 0x5d: // ]
    case 0x5e: // ^
      return true;
    default:
      return false;
  }
}

/** Hive escaping of one path component (a column name or a value). */
export function escapePartitionComponent(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    out += needsEscape(code) ? `%${code.toString(16).toUpperCase().padStart(2, '0')}` : ch;
  }
  return out;
}

/** Inverse of escapePartitionComponent. */
export function unescapePartitionComponent(value: string): string {
  return value.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

/** `col1=v1/col2=v2` (escaped), in partition column order; '' for unpartitioned tables. */
export function partitionDir(partitionColumns: string[], values: Record<string, string | null>): string {
  return partitionColumns
    .map((col) => {
      const v = values[col];
      if (v === undefined) {
        throw new TributaryError('INTERNAL', `partition value for column '${col}' missing`, { col, values });
      }
      const escaped = v === null ? HIVE_NULL : v === '' ? HIVE_NULL : escapePartitionComponent(v);
      return `${escapePartitionComponent(col)}=${escaped}`;
    })
    .join('/');
}

/** The `add.path` for a store-relative object path: its URI encoding. */
export function toAddPath(objectPath: string): string {
  return encodeURI(objectPath);
}

/** The store-relative object path of an `add.path` (relative URI-encoded path). */
export function fromAddPath(addPath: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(addPath)) {
    throw new TributaryError(
      'TABLE_UNSUPPORTED_PROTOCOL',
      `data file path '${addPath}' is absolute; Tributary reads only files inside the table directory (shallow clones are not supported)`,
      { path: addPath },
    );
  }
  return decodeURIComponent(addPath);
}

/**
 * SQL that renders a column's value as its Delta partition value string
 * (PROTOCOL.md, "Partition Value Serialization"): dates `yyyy-MM-dd`, timestamps
 * `yyyy-MM-dd HH:mm:ss[.ffffff]` in UTC (the connection runs with TimeZone=UTC),
 * booleans `true`/`false`, numbers in their plain decimal form. NULL stays NULL.
 */
export function partitionValueSql(expr: string, type: DataType): string {
  switch (type) {
    case 'date':
      return `strftime(${expr}, '%Y-%m-%d')`;
    case 'timestamp':
      return `CASE WHEN microsecond(${expr}) % 1000000 = 0 THEN strftime(${expr}, '%Y-%m-%d %H:%M:%S') ELSE strftime(${expr}, '%Y-%m-%d %H:%M:%S.%f') END`;
    case 'string':
      return expr;
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
    case 'boolean':
    case 'double':
    case 'float':
      return `CAST(${expr} AS VARCHAR)`;
    default:
      if (typeof type === 'string' && type.startsWith('decimal(')) return `CAST(${expr} AS VARCHAR)`;
      throw new TributaryError(
        'TABLE_INVALID_SCHEMA',
        `a column of type ${JSON.stringify(type)} cannot be a partition column; use a string, number, boolean, date, timestamp or decimal column`,
        { type },
      );
  }
}

/** SQL for the typed value of a partition value string (NULL for null). */
export function partitionValueCastSql(value: string | null, type: DataType): string {
  const t = duckType(type);
  if (value === null) return `CAST(NULL AS ${t})`;
  // An empty string is stored as null by Spark; keep it as text for string columns only.
  if (value === '' && type !== 'string') return `CAST(NULL AS ${t})`;
  return `CAST(${quoteString(value)} AS ${t})`;
}

/** The column list `"a", "b"` for SQL. */
export function identList(columns: string[]): string {
  return columns.map(quoteIdent).join(', ');
}
