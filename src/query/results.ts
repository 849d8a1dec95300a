/**
 * DuckDB results as plain JS values that keep their exact meaning:
 * - BIGINT/HUGEINT stay bigint (JSON numbers would round above 2^53),
 * - DECIMAL becomes its exact decimal text ("12.30"),
 * - TIMESTAMP WITH TIME ZONE becomes ISO-8601 UTC with microseconds,
 *   TIMESTAMP (no zone) the same without the Z,
 * - DATE becomes yyyy-mm-dd, BLOB a Uint8Array,
 * - STRUCT an object, LIST/ARRAY an array, MAP an array of {key, value}.
 */
import {
  createDuckDBValueConverter,
  DuckDBTypeId,
  type DuckDBValue,
  type DuckDBValueConverter,
  type JS,
  JSDuckDBValueConverter,
  stringFromValue,
} from '@duckdb/node-api';

export interface QueryColumn {
  name: string;
  /** DuckDB's name for the type, e.g. BIGINT, DECIMAL(10,2), TIMESTAMP WITH TIME ZONE. */
  type: string;
}

export interface QueryResult {
  columns: QueryColumn[];
  rows: Record<string, unknown>[];
}

const MICROS_PER_SECOND = 1_000_000n;

/** ISO-8601 text of microseconds since the epoch; `zone` appends Z (UTC). */
export function microsToIso(micros: bigint, zone: boolean): string {
  let seconds = micros / MICROS_PER_SECOND;
  let frac = micros % MICROS_PER_SECOND;
  if (frac < 0n) {
    frac += MICROS_PER_SECOND;
    seconds -= 1n;
  }
  const date = new Date(Number(seconds) * 1000);
  if (Number.isNaN(date.getTime())) return String(micros);
  const base = date.toISOString().slice(0, 19);
  return `${base}.${frac.toString().padStart(6, '0')}${zone ? 'Z' : ''}`;
}

function timestampMicros(value: DuckDBValue): bigint {
  return (value as unknown as { micros: bigint }).micros;
}

const convertersByTypeId = {} as Record<DuckDBTypeId, DuckDBValueConverter<unknown> | undefined>;
// Start from the library's JS converters and override only what would lose meaning.
for (const id of Object.values(DuckDBTypeId)) {
  if (typeof id !== 'number') continue;
  convertersByTypeId[id as DuckDBTypeId] = (value, type, conv) =>
    JSDuckDBValueConverter(value, type, conv as DuckDBValueConverter<JS>);
}
convertersByTypeId[DuckDBTypeId.DECIMAL] = (value) => stringFromValue(value);
convertersByTypeId[DuckDBTypeId.DATE] = (value) => stringFromValue(value);
convertersByTypeId[DuckDBTypeId.TIMESTAMP_TZ] = (value) => microsToIso(timestampMicros(value), true);
convertersByTypeId[DuckDBTypeId.TIMESTAMP] = (value) => microsToIso(timestampMicros(value), false);

export const exactValueConverter: DuckDBValueConverter<unknown> =
  createDuckDBValueConverter(convertersByTypeId);

export function toQueryResult(reader: ResultLike): QueryResult {
  const names = reader.columnNames();
  const types = reader.columnTypes();
  const columns = names.map((name, i) => ({ name, type: types[i].toString() }));
  const rows = reader.convertRowObjects(exactValueConverter) as Record<string, unknown>[];
  return { columns, rows };
}

/** The part of DuckDBResultReader that toQueryResult uses. */
export interface ResultLike {
  columnNames(): string[];
  columnTypes(): { toString(): string }[];
  convertRowObjects<T>(converter: DuckDBValueConverter<T>): Record<string, T | null>[];
}
