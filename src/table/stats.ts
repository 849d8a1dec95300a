/**
 * `add.stats` (PROTOCOL.md, "Per-file Statistics"): numRecords, minValues, maxValues and
 * nullCount, nested like the schema, built from what DuckDB's `COPY ... RETURN_STATS`
 * reports for the file it wrote (no second read of the file).
 *
 * Rules that readers depend on (delta-writer-facts, Spark's StatisticsCollection):
 * - Partition columns are excluded; only the first 32 leaf columns get statistics
 *   (`delta.dataSkippingNumIndexedCols`, default 32).
 * - Strings: a 32-character prefix; a truncated max gets U+10FFFD appended so it stays
 *   an upper bound.
 * - Timestamps: millisecond ISO-8601 UTC, min floored and max rounded up to the next
 *   millisecond when it had sub-millisecond digits (delta-rs #2571, #3133: readers
 *   otherwise skip files that hold matching rows).
 * - No min/max for floats holding NaN/±Infinity, nor for boolean, binary, array or map
 *   columns.
 * - long and decimal values are written as the exact digits DuckDB reports, never through
 *   a JS number (which would round above 2^53).
 * - Decimals with more than 15 significant digits: min rounded down and max rounded up to
 *   15 significant digits (omitted when that no longer fits the type). Trino's Delta Lake
 *   connector parses statistics' JSON numbers as doubles, so 999999999999999999990.000001
 *   reads as 1e21, above every value in the file, and it skipped files holding matching
 *   rows; a decimal of at most 15 significant digits reads back exactly as a double.
 */
import { quoteIdent } from '../core/sql.ts';
import type { DataType, StructType } from './schema.ts';
import { parseDecimal } from './types.ts';

export const STATS_STRING_PREFIX = 32;
export const DEFAULT_INDEXED_COLUMNS = 32;
const TRUNCATED_MAX_SUFFIX = '\u{10FFFD}';

/** One file's column statistics as RETURN_STATS gives them: key path → stat name → text. */
export type ColumnStatistics = Map<string, Map<string, string>>;

/** A JSON number written from its exact source text. */
class RawNumber {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

type StatTree = { [key: string]: StatTree | RawNumber | string };

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** Converts RETURN_STATS' `column_statistics` (MAP as JSON key/value pairs) into a lookup. */
export function columnStatisticsFromJson(raw: unknown): ColumnStatistics {
  const out: ColumnStatistics = new Map();
  if (!Array.isArray(raw)) return out;
  for (const entry of raw as Array<{ key: string; value: Array<{ key: string; value: string }> }>) {
    const inner = new Map<string, string>();
    for (const kv of entry.value ?? []) inner.set(kv.key, kv.value);
    out.set(entry.key, inner);
  }
  return out;
}

/** DuckDB's key for a nested column: each segment quoted, joined by dots. */
function statKey(path: string[]): string {
  return path.map(quoteIdent).join('.');
}

/** A 32-character prefix, counting Unicode code points (not UTF-16 units). */
function truncateString(value: string): { text: string; truncated: boolean } {
  const chars = Array.from(value);
  if (chars.length <= STATS_STRING_PREFIX) return { text: value, truncated: false };
  return { text: chars.slice(0, STATS_STRING_PREFIX).join(''), truncated: true };
}

const TS_RE =
  /^(\d{4,})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([+-])(\d{2})(?::?(\d{2}))?|Z)?$/;

/** Microseconds since the epoch of DuckDB's TIMESTAMPTZ text, or undefined if unparsable. */
export function parseTimestampMicros(text: string): bigint | undefined {
  const m = TS_RE.exec(text.trim());
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (!Number.isFinite(ms)) return undefined;
  const frac = (m[7] ?? '').padEnd(6, '0').slice(0, 6);
  let micros = BigInt(ms) * 1000n + BigInt(frac);
  if (m[8]) {
    const offsetMin = Number(m[9]) * 60 + Number(m[10] ?? '0');
    micros -= BigInt((m[8] === '-' ? -1 : 1) * offsetMin) * 60_000_000n;
  }
  return micros;
}

/** Millisecond ISO-8601 UTC text of a microsecond instant, floored or rounded up. */
export function timestampStat(micros: bigint, round: 'floor' | 'ceil'): string {
  let ms = micros / 1000n;
  const rem = micros % 1000n;
  if (rem < 0n) ms -= 1n; // BigInt division truncates toward zero
  if (round === 'ceil' && rem !== 0n) ms += 1n;
  return new Date(Number(ms)).toISOString();
}

/** Significant digits every double represents exactly, whatever the exponent. */
export const DOUBLE_EXACT_DIGITS = 15;

/**
 * A decimal statistic as written: `text` (DuckDB's plain decimal text, scale digits after
 * the point) when it has at most 15 significant digits, else rounded down (min) or up (max)
 * to 15 significant digits, keeping its scale; undefined when the rounded value needs more
 * integer digits than `decimal(precision, scale)` holds, or the text is not a plain decimal.
 */
export function decimalStat(
  text: string,
  round: 'floor' | 'ceil',
  precision: number,
  scale: number,
): string | undefined {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return undefined;
  const frac = m[3] ?? '';
  const unscaled = BigInt(`${m[1]}${m[2]}${frac}`);
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString().length;
  if (digits <= DOUBLE_EXACT_DIGITS) return text;
  const unit = 10n ** BigInt(digits - DOUBLE_EXACT_DIGITS);
  let q = unscaled / unit; // truncates toward zero
  const exact = q * unit === unscaled;
  if (!exact && round === 'floor' && unscaled < 0n) q -= 1n;
  if (!exact && round === 'ceil' && unscaled > 0n) q += 1n;
  const bound = q * unit;
  const abs = (bound < 0n ? -bound : bound).toString().padStart(frac.length + 1, '0');
  const int = abs.slice(0, abs.length - frac.length);
  if (int.replace(/^0+(?=\d)/, '').length > precision - scale) return undefined;
  return `${bound < 0n ? '-' : ''}${int}${frac ? `.${abs.slice(int.length)}` : ''}`;
}

function minMax(
  type: DataType,
  stat: Map<string, string>,
): { min?: RawNumber | string; max?: RawNumber | string } | undefined {
  const min = stat.get('min');
  const max = stat.get('max');
  if (min === undefined || max === undefined) return undefined;
  switch (type) {
    case 'string': {
      const lo = truncateString(min);
      const hi = truncateString(max);
      return { min: lo.text, max: hi.truncated ? hi.text + TRUNCATED_MAX_SUFFIX : hi.text };
    }
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
      if (!/^-?\d+$/.test(min) || !/^-?\d+$/.test(max)) return undefined;
      return { min: new RawNumber(min), max: new RawNumber(max) };
    case 'double':
    case 'float':
      if (stat.get('has_nan') === 'true') return undefined;
      if (!JSON_NUMBER.test(min) || !JSON_NUMBER.test(max)) return undefined; // inf, nan
      return { min: new RawNumber(min), max: new RawNumber(max) };
    case 'date':
      if (!/^\d{4}-\d{2}-\d{2}$/.test(min) || !/^\d{4}-\d{2}-\d{2}$/.test(max)) return undefined;
      return { min, max };
    case 'timestamp': {
      const lo = parseTimestampMicros(min);
      const hi = parseTimestampMicros(max);
      if (lo === undefined || hi === undefined) return undefined;
      return { min: timestampStat(lo, 'floor'), max: timestampStat(hi, 'ceil') };
    }
    default:
      if (typeof type === 'string' && parseDecimal(type)) {
        const { precision, scale } = parseDecimal(type)!;
        const lo = decimalStat(min, 'floor', precision, scale);
        const hi = decimalStat(max, 'ceil', precision, scale);
        return {
          min: lo === undefined ? undefined : new RawNumber(lo),
          max: hi === undefined ? undefined : new RawNumber(hi),
        };
      }
      return undefined; // boolean, binary
  }
}

function serialize(tree: StatTree | RawNumber | string | number): string {
  if (tree instanceof RawNumber) return tree.text;
  if (typeof tree === 'string') return JSON.stringify(tree);
  if (typeof tree === 'number') return String(tree);
  return `{${Object.entries(tree)
    .map(([k, v]) => `${JSON.stringify(k)}:${serialize(v)}`)
    .join(',')}}`;
}

/**
 * The `add.stats` JSON string for a file of `numRecords` rows with the given column
 * statistics. `schema` is the table schema; partition columns are left out.
 */
export function buildStats(
  schema: StructType,
  partitionColumns: string[],
  numRecords: number,
  columns: ColumnStatistics,
  indexedColumns = DEFAULT_INDEXED_COLUMNS,
): string {
  const minValues: StatTree = {};
  const maxValues: StatTree = {};
  const nullCount: StatTree = {};
  const partition = new Set(partitionColumns);
  let leaves = 0;

  const visit = (struct: StructType, path: string[], mins: StatTree, maxs: StatTree, nulls: StatTree) => {
    for (const field of struct.fields) {
      if (leaves >= indexedColumns) return;
      if (path.length === 0 && partition.has(field.name)) continue;
      const p = [...path, field.name];
      const t = field.type;
      if (typeof t === 'object' && t.type === 'struct') {
        const m: StatTree = {};
        const x: StatTree = {};
        const n: StatTree = {};
        visit(t, p, m, x, n);
        if (Object.keys(m).length) mins[field.name] = m;
        if (Object.keys(x).length) maxs[field.name] = x;
        if (Object.keys(n).length) nulls[field.name] = n;
        continue;
      }
      leaves++;
      // Arrays and maps get no statistics: DuckDB reports element-level counts only.
      if (typeof t === 'object') continue;
      const stat = columns.get(statKey(p));
      if (!stat) continue;
      const nc = stat.get('null_count');
      if (nc !== undefined && /^\d+$/.test(nc)) nulls[field.name] = new RawNumber(nc);
      const mm = minMax(t, stat);
      if (mm?.min !== undefined) mins[field.name] = mm.min;
      if (mm?.max !== undefined) maxs[field.name] = mm.max;
    }
  };
  visit(schema, [], minValues, maxValues, nullCount);
  return serialize({ numRecords: new RawNumber(String(numRecords)), minValues, maxValues, nullCount });
}

/** Parsed `add.stats`: numbers kept as their exact source text (lossless above 2^53). */
export interface ParsedStats {
  numRecords?: number;
  minValues: Record<string, unknown>;
  maxValues: Record<string, unknown>;
  nullCount: Record<string, unknown>;
}

/**
 * Parsed statistics by their text: a snapshot's files are skipped by their statistics on
 * every read of a table (each query, each dashboard panel), and a file's statistics never
 * change; parsing them each time was most of the CPU of a query over a few recent files of
 * a table with hundreds. Bounded (20,000 files' statistics, some tens of MB at most): the
 * oldest entries go first. Callers must not change what they are given.
 */
const parsed = new Map<string, ParsedStats | undefined>();
const MAX_PARSED = 20_000;

/** Parses an `add.stats` string; numeric leaves become `{ raw: '<digits>' }`. Shared: do not modify it. */
export function parseStats(stats: string | null | undefined): ParsedStats | undefined {
  if (!stats) return undefined;
  if (parsed.has(stats)) return parsed.get(stats);
  const result = parseStatsText(stats);
  if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value!);
  parsed.set(stats, result);
  return result;
}

function parseStatsText(stats: string): ParsedStats | undefined {
  try {
    const parsed = JSON.parse(stats, (_key, value, context?: { source?: string }) =>
      typeof value === 'number' && context?.source !== undefined ? { raw: context.source } : value,
    ) as Record<string, unknown>;
    const num = parsed.numRecords as { raw: string } | undefined;
    return {
      numRecords: num ? Number(num.raw) : undefined,
      minValues: (parsed.minValues as Record<string, unknown>) ?? {},
      maxValues: (parsed.maxValues as Record<string, unknown>) ?? {},
      nullCount: (parsed.nullCount as Record<string, unknown>) ?? {},
    };
  } catch {
    return undefined; // statistics are optional: a file without usable ones is never skipped
  }
}

/** A top-level stat value as text (number source text or string), or undefined. */
export function statText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'raw' in value) return String((value as { raw: string }).raw);
  return undefined;
}
