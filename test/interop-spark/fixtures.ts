/**
 * The interop fixtures (test/interop/fixtures.ts) plus a map column, which Spark both
 * reads and writes: every Delta type in one table, rows in the normal form.
 */
import type { StructType } from '../../src/table/schema.ts';
import { ALL_TYPES, allTypesRow, field, struct, toJsRows } from '../interop/fixtures.ts';
import type { RowKind } from '../interop/histories.ts';

type Row = Record<string, unknown>;

/** ALL_TYPES (every primitive, nested struct, arrays) + `attrs map<string, long>`. */
export const SCHEMA: StructType = struct(
  ...ALL_TYPES.fields,
  field('attrs', { type: 'map', keyType: 'string', valueType: 'long', valueContainsNull: true }),
);

/** Row `n` of SCHEMA in normal form; `region` defaults to the awkward values' cycle. */
export function row(n: number, region?: string | null): Row {
  const r = region === undefined ? allTypesRow(n) : allTypesRow(n, region);
  // Map values above 2^53 too, a null value, and (n % 3 === 0) a null map.
  const attrs = n % 3 === 0 ? null : { k1: String(9007199254740993n * BigInt(n + 1)), 'k 2': null };
  return { ...r, attrs };
}

/** Normal-form rows of SCHEMA as the JS values a Tributary user appends. */
export function jsRows(rows: Row[]): Row[] {
  return toJsRows(rows, SCHEMA).map((r) => ({
    ...r,
    attrs:
      r.attrs === null
        ? null
        : Object.fromEntries(
            Object.entries(r.attrs as Record<string, string | null>).map(([k, v]) => [
              k,
              v === null ? null : BigInt(v),
            ]),
          ),
  }));
}

/** SCHEMA's rows for the table histories of test/interop/histories.ts. */
export const SCHEMA_ROWS: RowKind = { schema: SCHEMA, row, jsRows };
