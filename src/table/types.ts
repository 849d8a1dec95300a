/**
 * Delta Lake types (PROTOCOL.md, "Schema Serialization Format") and the DuckDB types
 * that carry them into Parquet. The mapping is chosen for what the Parquet files must
 * hold ("Data Files" + delta-writer-facts): `timestamp` is DuckDB TIMESTAMPTZ, which
 * DuckDB writes as INT64 TIMESTAMP(isAdjustedToUTC=true, MICROS) — a plain TIMESTAMP
 * would be `timestamp_ntz`, a reader-3/writer-7 feature.
 */
import {
  type DuckDBDecimalType,
  DuckDBListType,
  DuckDBMapType,
  DuckDBStructType,
  type DuckDBType,
  DuckDBTypeId,
} from '@duckdb/node-api';
import { TributaryError } from '../core/errors.ts';
import { quoteIdent } from '../core/sql.ts';
import type { DataType, PrimitiveType, StructField, StructType } from './schema.ts';

const PRIMITIVE_TO_DUCK: Record<string, string> = {
  string: 'VARCHAR',
  long: 'BIGINT',
  integer: 'INTEGER',
  short: 'SMALLINT',
  byte: 'TINYINT',
  double: 'DOUBLE',
  float: 'FLOAT',
  boolean: 'BOOLEAN',
  binary: 'BLOB',
  date: 'DATE',
  timestamp: 'TIMESTAMPTZ',
};

const DECIMAL_RE = /^decimal\((\d+),\s*(\d+)\)$/;

export function parseDecimal(type: string): { precision: number; scale: number } | undefined {
  const m = DECIMAL_RE.exec(type);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : undefined;
}

/** The DuckDB SQL type that stores a Delta type. */
export function duckType(type: DataType): string {
  if (typeof type === 'string') {
    const direct = PRIMITIVE_TO_DUCK[type];
    if (direct) return direct;
    const dec = parseDecimal(type);
    if (dec) {
      if (dec.precision < 1 || dec.precision > 38 || dec.scale > dec.precision) {
        throw new TributaryError('TABLE_INVALID_SCHEMA', `decimal type '${type}' is out of range`, { type });
      }
      return `DECIMAL(${dec.precision},${dec.scale})`;
    }
    throw new TributaryError(
      'TABLE_INVALID_SCHEMA',
      `Delta type '${type}' is not supported (supported: ${Object.keys(PRIMITIVE_TO_DUCK).join(', ')}, decimal(p,s), struct, array, map)`,
      { type },
    );
  }
  switch (type.type) {
    case 'struct':
      return `STRUCT(${type.fields.map((f) => `${quoteIdent(f.name)} ${duckType(f.type)}`).join(', ')})`;
    case 'array':
      return `${duckType(type.elementType)}[]`;
    case 'map':
      return `MAP(${duckType(type.keyType)}, ${duckType(type.valueType)})`;
  }
}

/** The Delta type for a DuckDB column type (schema evolution: columns a batch adds). */
export function deltaTypeOf(t: DuckDBType, column: string): DataType {
  if (t instanceof DuckDBStructType) {
    return {
      type: 'struct',
      fields: t.entryNames.map((name, i) => ({
        name,
        type: deltaTypeOf(t.entryTypes[i], `${column}.${name}`),
        nullable: true,
        metadata: {},
      })),
    };
  }
  if (t instanceof DuckDBListType) {
    return { type: 'array', elementType: deltaTypeOf(t.valueType, `${column}[]`), containsNull: true };
  }
  if (t instanceof DuckDBMapType) {
    return {
      type: 'map',
      keyType: deltaTypeOf(t.keyType, `${column}.key`),
      valueType: deltaTypeOf(t.valueType, `${column}.value`),
      valueContainsNull: true,
    };
  }
  switch (t.typeId) {
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.UUID:
    case DuckDBTypeId.ENUM:
      return 'string';
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UINTEGER:
      return 'long';
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.USMALLINT:
      return 'integer';
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.UTINYINT:
      return 'short';
    case DuckDBTypeId.TINYINT:
      return 'byte';
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UBIGINT:
      return 'decimal(38,0)';
    case DuckDBTypeId.DOUBLE:
      return 'double';
    case DuckDBTypeId.FLOAT:
      return 'float';
    case DuckDBTypeId.BOOLEAN:
      return 'boolean';
    case DuckDBTypeId.BLOB:
      return 'binary';
    case DuckDBTypeId.DATE:
      return 'date';
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return 'timestamp';
    case DuckDBTypeId.DECIMAL: {
      const d = t as DuckDBDecimalType;
      return `decimal(${d.width},${d.scale})` as PrimitiveType;
    }
    default:
      // JSON values (mixed types in one column) and anything else land as text.
      if (t.alias === 'JSON' || t.typeId === DuckDBTypeId.SQLNULL) return 'string';
      throw new TributaryError(
        'TABLE_SCHEMA_MISMATCH',
        `column '${column}' has DuckDB type ${t.toString()}, which has no Delta Lake type; cast it in the source query`,
        { column, duckType: t.toString() },
      );
  }
}

export function isPrimitive(type: DataType): type is PrimitiveType {
  return typeof type === 'string';
}

export function isIntegral(type: DataType): boolean {
  return type === 'long' || type === 'integer' || type === 'short' || type === 'byte';
}

/** The `CAST(... AS T)` target list for a schema, in schema order, with the field names. */
export function schemaColumns(
  schema: StructType,
): Array<{ name: string; field: StructField; sqlType: string }> {
  return schema.fields.map((field) => ({ name: field.name, field, sqlType: duckType(field.type) }));
}

/** Field lookup ignoring case (Delta column names are case-insensitive, PROTOCOL.md "Column names"). */
export function findField(schema: StructType, name: string): StructField | undefined {
  const lower = name.toLowerCase();
  return schema.fields.find((f) => f.name.toLowerCase() === lower);
}
