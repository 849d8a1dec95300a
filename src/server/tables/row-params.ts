/**
 * The rows endpoint's parameters checked against the table's schema: column selection,
 * filters and ordering. Every column must exist and every value must parse as its
 * column's type before any SQL is built; the SQL then quotes names with quoteIdent and
 * values as typed literals (core/sql.ts), so no text of a request reaches DuckDB as SQL.
 *
 *   columns=id,amount          the columns to answer (default all)
 *   filter=status:eq:paid      repeatable; all must hold. Operators: eq ne lt lte gt gte,
 *   filter=amount:gte:10.5     in (values separated by commas), is_null, not_null
 *   filter=status:in:paid,new
 *   order=-amount,id           sort columns, `-` for descending (nulls last)
 */
import type { Filter, FilterOp } from '../../table/read/filter.ts';
import type { DataType, StructField, StructType } from '../../table/schema.ts';
import { parseDecimal } from '../../table/types.ts';
import { requestInvalid } from '../http-errors.ts';

export interface OrderKey {
  column: string;
  type: DataType;
  desc: boolean;
}

const OPS: Record<string, FilterOp> = {
  eq: '=',
  ne: '!=',
  lt: '<',
  lte: '<=',
  gt: '>',
  gte: '>=',
  in: 'in',
  is_null: 'is null',
  not_null: 'is not null',
};

export const FILTER_OPERATORS = Object.keys(OPS);

/** The schema's field for a name: exact match, else the one case-insensitive match. */
function field(schema: StructType, name: string, where: string): StructField {
  const exact = schema.fields.find((f) => f.name === name);
  if (exact) return exact;
  const folded = schema.fields.filter((f) => f.name.toLowerCase() === name.toLowerCase());
  if (folded.length === 1) return folded[0];
  throw requestInvalid(
    where,
    `the table has no column '${name}' (columns: ${schema.fields.map((f) => f.name).join(', ')})`,
  );
}

/** `columns=a,b`: the schema names, in the order asked; undefined for all. */
export function parseColumns(text: string | undefined, schema: StructType): string[] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const names = text.split(',').map((s) => s.trim());
  if (names.some((n) => n === '')) throw requestInvalid('querystring.columns', 'an empty column name');
  const out = names.map((n) => field(schema, n, 'querystring.columns').name);
  const dup = out.find((n, i) => out.indexOf(n) !== i);
  if (dup !== undefined) throw requestInvalid('querystring.columns', `column '${dup}' is named twice`);
  return out;
}

const INT_RANGE: Record<string, [bigint, bigint]> = {
  byte: [-(2n ** 7n), 2n ** 7n - 1n],
  short: [-(2n ** 15n), 2n ** 15n - 1n],
  integer: [-(2n ** 31n), 2n ** 31n - 1n],
  long: [-(2n ** 63n), 2n ** 63n - 1n],
};

const TIMESTAMP_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** `Z`, `+02`, `+0200`, `+02:00` → `Z` or `+02:00`. */
function offset(text: string | undefined): string {
  if (text === undefined || text.toUpperCase() === 'Z') return 'Z';
  const m = /^([+-]\d{2}):?(\d{2})?$/.exec(text)!;
  return `${m[1]}:${m[2] ?? '00'}`;
}

/** A value's text as its column's type wants it, or a reason it is not one. */
function typedValue(type: DataType, text: string): string | { error: string } {
  if (typeof type !== 'string' || type === 'binary') return { error: 'cannot filter on this column type' };
  const range = INT_RANGE[type];
  if (range !== undefined) {
    if (!/^-?\d+$/.test(text)) return { error: `'${text}' is not a whole number` };
    const n = BigInt(text);
    if (n < range[0] || n > range[1]) return { error: `${text} is out of range for ${type}` };
    return n.toString();
  }
  switch (type) {
    case 'string':
      return text;
    case 'boolean':
      return text === 'true' || text === 'false' ? text : { error: `'${text}' is not true or false` };
    case 'double':
    case 'float':
      if (/^(nan|-?inf(inity)?)$/i.test(text)) return text;
      return text.trim() !== '' && Number.isFinite(Number(text))
        ? text
        : { error: `'${text}' is not a number` };
    case 'date': {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
      const ok = m && new Date(`${text}T00:00:00Z`).toISOString().slice(0, 10) === text;
      return ok ? text : { error: `'${text}' is not a date (yyyy-mm-dd)` };
    }
    case 'timestamp': {
      const m = TIMESTAMP_RE.exec(text.trim());
      const ms = m
        ? Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4] ?? '00'}:${m[5] ?? '00'}:${m[6] ?? '00'}${offset(m[8])}`)
        : Number.NaN;
      if (!m || Number.isNaN(ms)) {
        return { error: `'${text}' is not a timestamp (2026-01-01T12:00:00Z; without an offset it is UTC)` };
      }
      // The instant in UTC with microseconds: the form file skipping compares.
      return `${new Date(ms).toISOString().slice(0, 19)}.${(m[7] ?? '').padEnd(6, '0')}Z`;
    }
  }
  const dec = parseDecimal(type);
  if (dec) {
    const m = /^-?(\d+)(?:\.(\d+))?$/.exec(text);
    if (!m) return { error: `'${text}' is not a decimal number` };
    const intDigits = m[1].replace(/^0+(?=\d)/, '').length;
    if ((m[2] ?? '').length > dec.scale || intDigits > dec.precision - dec.scale) {
      return { error: `${text} does not fit ${type}` };
    }
    return text;
  }
  return { error: 'cannot filter on this column type' };
}

/** `filter=column:op[:value]`, each checked against the schema. */
export function parseFilters(texts: string[] | undefined, schema: StructType): Filter[] {
  return (texts ?? []).map((text, i) => {
    const where = `querystring.filter[${i}]`;
    const first = text.indexOf(':');
    if (first < 1) {
      throw requestInvalid(where, `'${text}' is not column:operator[:value] (for instance status:eq:paid)`);
    }
    const second = text.indexOf(':', first + 1);
    const opName = text.slice(first + 1, second < 0 ? undefined : second);
    const valueText = second < 0 ? undefined : text.slice(second + 1);
    const f = field(schema, text.slice(0, first), where);
    const op = OPS[opName];
    if (op === undefined) {
      throw requestInvalid(
        where,
        `'${opName}' is not an operator; use one of ${FILTER_OPERATORS.join(', ')}`,
      );
    }
    if (op === 'is null' || op === 'is not null') {
      if (valueText !== undefined) throw requestInvalid(where, `${opName} takes no value`);
      return { column: f.name, op };
    }
    if (valueText === undefined)
      throw requestInvalid(where, `${opName} needs a value (${f.name}:${opName}:VALUE)`);
    const texts = op === 'in' ? valueText.split(',') : [valueText];
    const values = texts.map((t) => {
      const v = typedValue(f.type, t);
      if (typeof v !== 'string') throw requestInvalid(where, `column '${f.name}': ${v.error}`);
      return v;
    });
    return { column: f.name, op, value: op === 'in' ? values : values[0] };
  });
}

/** `order=-amount,id`: sort keys of primitive, comparable columns. */
export function parseOrder(text: string | undefined, schema: StructType): OrderKey[] {
  if (text === undefined || text.trim() === '') return [];
  const keys = text.split(',').map((part) => {
    const t = part.trim();
    const desc = t.startsWith('-');
    const name = desc ? t.slice(1) : t.startsWith('+') ? t.slice(1) : t;
    if (name === '') throw requestInvalid('querystring.order', 'an empty column name');
    const f = field(schema, name, 'querystring.order');
    if (typeof f.type !== 'string' || f.type === 'binary') {
      throw requestInvalid(
        'querystring.order',
        `column '${f.name}' (${JSON.stringify(f.type)}) cannot be ordered by`,
      );
    }
    return { column: f.name, type: f.type, desc };
  });
  const names = keys.map((k) => k.column);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw requestInvalid('querystring.order', `column '${dup}' is named twice`);
  return keys;
}
