/**
 * Filters for scans, and the two ways they skip files: partition pruning (a file's
 * partition values compared as typed values) and data skipping on `add.stats` min/max
 * and null counts (PROTOCOL.md, "Per-file Statistics"). Both are conservative: a file
 * is skipped only when no row in it can match. Truncated string maxima and rounded
 * timestamp bounds are still valid bounds, so comparisons stay correct.
 */
import { TributaryError } from '../../core/errors.ts';
import type { Add } from '../actions.ts';
import type { DataType, StructType } from '../schema.ts';
import { parseStats, parseTimestampMicros, statText } from '../stats.ts';
import { parseDecimal } from '../types.ts';

export type FilterOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'is null' | 'is not null';

export interface Filter {
  column: string;
  op: FilterOp;
  /** The comparison value (an array for 'in'); strings, numbers, bigints, booleans, Dates. */
  value?: unknown;
}

/** Canonical text of a filter value for a column type. */
function valueText(type: DataType, v: unknown): string {
  if (v instanceof Date) {
    return type === 'date' ? v.toISOString().slice(0, 10) : v.toISOString();
  }
  if (typeof v === 'number' && type === 'timestamp') return new Date(v).toISOString();
  return String(v);
}

function decimalParts(text: string): { neg: boolean; digits: bigint; scale: number } | undefined {
  const m = /^(-)?(\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (!m) return undefined;
  const frac = m[3] ?? '';
  return { neg: m[1] === '-', digits: BigInt(`${m[2] || '0'}${frac}`), scale: frac.length };
}

/** -1 / 0 / 1, or undefined when the values cannot be compared (then nothing is skipped). */
export function compareTyped(type: DataType, a: string, b: string): number | undefined {
  const sign = (x: number | bigint) => (x < 0 ? -1 : x > 0 ? 1 : 0);
  try {
    switch (type) {
      case 'long':
      case 'integer':
      case 'short':
      case 'byte':
        return sign(BigInt(a) - BigInt(b));
      case 'double':
      case 'float': {
        const x = Number(a);
        const y = Number(b);
        if (Number.isNaN(x) || Number.isNaN(y)) return undefined;
        return sign(x - y);
      }
      case 'date':
        return a < b ? -1 : a > b ? 1 : 0;
      case 'timestamp': {
        const x = parseTimestampMicros(a);
        const y = parseTimestampMicros(b);
        if (x === undefined || y === undefined) return undefined;
        return sign(x - y);
      }
      case 'string':
        // Delta and Parquet order strings by their UTF-8 bytes.
        return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
      case 'boolean':
        return a === b ? 0 : undefined;
      default: {
        if (typeof type === 'string' && parseDecimal(type)) {
          const x = decimalParts(a);
          const y = decimalParts(b);
          if (!x || !y) return undefined;
          const scale = Math.max(x.scale, y.scale);
          const xv = (x.neg ? -1n : 1n) * x.digits * 10n ** BigInt(scale - x.scale);
          const yv = (y.neg ? -1n : 1n) * y.digits * 10n ** BigInt(scale - y.scale);
          return sign(xv - yv);
        }
        return undefined;
      }
    }
  } catch {
    return undefined;
  }
}

/** Whether a (possibly null) value satisfies a filter; undefined = cannot tell. */
function matchesValue(type: DataType, value: string | null, f: Filter): boolean | undefined {
  if (f.op === 'is null') return value === null;
  if (f.op === 'is not null') return value !== null;
  if (value === null) return false; // SQL: comparisons with NULL are not true
  const values = f.op === 'in' ? (f.value as unknown[]) : [f.value];
  for (const v of values) {
    if (v === null || v === undefined) continue;
    const c = compareTyped(type, value, valueText(type, v));
    if (c === undefined) return undefined;
    const ok =
      f.op === '=' || f.op === 'in'
        ? c === 0
        : f.op === '!='
          ? c !== 0
          : f.op === '<'
            ? c < 0
            : f.op === '<='
              ? c <= 0
              : f.op === '>'
                ? c > 0
                : c >= 0;
    if (ok) return true;
  }
  return false;
}

/**
 * The upper bound a timestamp `maxValues` entry stands for. PROTOCOL.md ("Per-file
 * Statistics", footnote 1): timestamp stats are truncated down to milliseconds, and Spark
 * writes them so — a file whose largest value is `…56.123456` has max `…56.123Z`. Read
 * as written, that max would skip the file for its own largest row; it covers up to
 * `…56.123999`. (Our writer already rounds its maxima up; widening those is harmless.)
 */
export function timestampMaxBound(max: string): string {
  const micros = parseTimestampMicros(max);
  if (micros === undefined) return max;
  const upper = micros + 999n;
  const ms = upper >= 0n || upper % 1000n === 0n ? upper / 1000n : upper / 1000n - 1n;
  const rest = String(upper - ms * 1000n).padStart(3, '0');
  return `${new Date(Number(ms)).toISOString().slice(0, 23)}${rest}Z`;
}

/** Whether rows with values in [min, max] (and these null counts) can satisfy a filter. */
function statsMayMatch(
  type: DataType,
  min: string | undefined,
  max: string | undefined,
  nulls: number | undefined,
  records: number | undefined,
  f: Filter,
): boolean {
  if (f.op === 'is null') return nulls === undefined || nulls > 0;
  if (f.op === 'is not null') return nulls === undefined || records === undefined || nulls < records;
  if (records !== undefined && nulls !== undefined && records > 0 && nulls === records) return false;
  if (min === undefined || max === undefined) return true;
  if (f.op === '!=') return true;
  const values = f.op === 'in' ? (f.value as unknown[]) : [f.value];
  for (const v of values) {
    if (v === null || v === undefined) continue;
    const t = valueText(type, v);
    const cMin = compareTyped(type, t, min);
    const cMax = compareTyped(type, t, max);
    if (cMin === undefined || cMax === undefined) return true;
    switch (f.op) {
      case '=':
      case 'in':
        if (cMin >= 0 && cMax <= 0) return true;
        break;
      case '<':
        if (cMin > 0) return true; // some row may be below v when min < v
        break;
      case '<=':
        if (cMin >= 0) return true;
        break;
      case '>':
        if (cMax < 0) return true;
        break;
      case '>=':
        if (cMax <= 0) return true;
        break;
    }
  }
  return false;
}

function fieldType(schema: StructType, column: string, table: string): DataType {
  const f =
    schema.fields.find((x) => x.name === column) ??
    schema.fields.find((x) => x.name.toLowerCase() === column.toLowerCase());
  if (!f) {
    throw new TributaryError(
      'TABLE_INVALID_ARGUMENT',
      `filter on column '${column}', which table ${table} does not have (columns: ${schema.fields.map((x) => x.name).join(', ')})`,
      { column },
    );
  }
  return f.type;
}

/** Whether a file may hold rows matching every filter (partition values first, then stats). */
export function fileMayMatch(
  add: Add,
  schema: StructType,
  partitionColumns: string[],
  filters: Filter[],
  table: string,
): boolean {
  let stats: ReturnType<typeof parseStats> | null = null;
  for (const f of filters) {
    const type = fieldType(schema, f.column, table);
    const pcol = partitionColumns.find((c) => c.toLowerCase() === f.column.toLowerCase());
    if (pcol !== undefined) {
      const raw = add.partitionValues[pcol] ?? null;
      const value = raw === '' && type !== 'string' ? null : raw;
      if (matchesValue(type, value, f) === false) return false;
      continue;
    }
    if (typeof type !== 'string') continue; // no stats for nested columns
    if (stats === null) stats = parseStats(add.stats);
    if (!stats) continue;
    const name = schema.fields.find((x) => x.name.toLowerCase() === f.column.toLowerCase())!.name;
    const nullsText = statText(stats.nullCount[name]);
    const max = statText(stats.maxValues[name]);
    if (
      !statsMayMatch(
        type,
        statText(stats.minValues[name]),
        type === 'timestamp' && max !== undefined ? timestampMaxBound(max) : max,
        nullsText === undefined ? undefined : Number(nullsText),
        stats.numRecords,
        f,
      )
    ) {
      return false;
    }
  }
  return true;
}

/** SQL WHERE text for filters (applied to rows after file skipping). */
export function filtersToSql(
  filters: Filter[],
  schema: StructType,
  quote: (n: string) => string,
  cast: (t: DataType) => string,
): string {
  const lit = (type: DataType, v: unknown) => {
    if (typeof v === 'number' || typeof v === 'bigint') return `CAST(${String(v)} AS ${cast(type)})`;
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    return `CAST('${valueText(type, v).replaceAll("'", "''")}' AS ${cast(type)})`;
  };
  return filters
    .map((f) => {
      const type = fieldType(schema, f.column, '');
      const col = quote(f.column);
      if (f.op === 'is null') return `${col} IS NULL`;
      if (f.op === 'is not null') return `${col} IS NOT NULL`;
      if (f.op === 'in') return `${col} IN (${(f.value as unknown[]).map((v) => lit(type, v)).join(', ')})`;
      const op = f.op === '!=' ? '<>' : f.op;
      return `${col} ${op} ${lit(type, f.value)}`;
    })
    .join(' AND ');
}
