/**
 * Tables used by the interop tests, with rows written in the normal form of helpers.ts
 * (int64 and decimals as strings, timestamps ISO micros UTC, binary hex). `toJsRows`
 * turns them into the JS values a Tributary user passes to append().
 */
import type { DataType, StructField, StructType } from '../../src/table/schema.ts';

export function field(name: string, type: DataType, nullable = true): StructField {
  return { name, type, nullable, metadata: {} };
}

export function struct(...fields: StructField[]): StructType {
  return { type: 'struct', fields };
}

/** Every primitive type, a nested struct and an array of structs; partitioned by `region`. */
export const ALL_TYPES = struct(
  field('id', 'long'),
  field('region', 'string'),
  field('i32', 'integer'),
  field('i16', 'short'),
  field('i8', 'byte'),
  field('f64', 'double'),
  field('f32', 'float'),
  field('flag', 'boolean'),
  field('name', 'string'),
  field('raw', 'binary'),
  field('day', 'date'),
  field('ts', 'timestamp'),
  field('amount', 'decimal(10,2)'),
  field('big', 'decimal(38,6)'),
  field(
    'address',
    struct(field('city', 'string'), field('geo', struct(field('lat', 'double'), field('lon', 'double')))),
  ),
  field('tags', { type: 'array', elementType: 'string', containsNull: true }),
  field('items', {
    type: 'array',
    elementType: struct(field('sku', 'string'), field('qty', 'integer')),
    containsNull: true,
  }),
);

/** Partition values that need escaping in paths, plus unicode and null. */
export const AWKWARD_REGIONS = ['us east', 'a:b', 'x/y', 'k=v', '100%', 'zürich 東京', null, 'plain'];

/** Row `n` of ALL_TYPES in normal form; `region` cycles through AWKWARD_REGIONS. */
export function allTypesRow(
  n: number,
  region = AWKWARD_REGIONS[n % AWKWARD_REGIONS.length],
): Record<string, unknown> {
  const odd = n % 2 === 1;
  return {
    id: String(9007199254740993n + BigInt(n)), // above 2^53: exactness matters
    region,
    i32: -2147483648 + n,
    i16: odd ? -32768 : 32767,
    i8: odd ? -128 : 127,
    f64: n + 0.25,
    f32: n + 0.5,
    flag: odd,
    name: odd ? `name "${n}", with 'quotes'\nand a newline` : `名前 ${n}`,
    raw: n % 3 === 0 ? null : Buffer.from([0, 255, n & 255, 10]).toString('hex'),
    day: `2026-0${1 + (n % 9)}-1${n % 10}`,
    ts: `2026-01-0${1 + (n % 9)}T12:34:56.${String(123456 + n).padStart(6, '0')}Z`,
    amount: `${n % 2 === 0 ? '' : '-'}${12345678 + n}.${String(n % 100).padStart(2, '0')}`,
    big: `${'9'.repeat(20)}${n}.000001`,
    address: n % 4 === 0 ? null : { city: `city ${n}`, geo: { lat: n / 8, lon: -n / 4 } },
    tags: n % 5 === 0 ? [] : ['a', null, `t${n}`],
    items: [
      { sku: `s${n}`, qty: n },
      { sku: null, qty: null },
    ],
  };
}

/** Normal-form rows as the JS values a user hands to append(): bigint, bytes. */
export function toJsRows(rows: Record<string, unknown>[], schema: StructType): Record<string, unknown>[] {
  return rows.map((r) => Object.fromEntries(schema.fields.map((f) => [f.name, toJs(r[f.name], f.type)])));
}

function toJs(v: unknown, type: DataType): unknown {
  if (v === null || v === undefined) return null;
  if (typeof type === 'object') {
    if (type.type === 'struct') {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(type.fields.map((f) => [f.name, toJs(o[f.name], f.type)]));
    }
    if (type.type === 'array') return (v as unknown[]).map((x) => toJs(x, type.elementType));
    return v;
  }
  if (type === 'long') return BigInt(v as string);
  if (type === 'binary') return new Uint8Array(Buffer.from(v as string, 'hex'));
  return v;
}
