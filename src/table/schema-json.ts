/**
 * `metaData.schemaString`: Spark's StructType JSON (PROTOCOL.md, "Schema Serialization
 * Format"). Parsing is tolerant of what other writers put there (unknown primitive type
 * names are kept as they are); validation for tables we create or change is strict.
 */
import { TributaryError } from '../core/errors.ts';
import type { DataType, StructField, StructType } from './schema.ts';

/** The primitive type names of Delta schemas (besides `decimal(p,s)`). */
export const PRIMITIVE_TYPES: ReadonlySet<string> = new Set([
  'string',
  'long',
  'integer',
  'short',
  'byte',
  'double',
  'float',
  'boolean',
  'binary',
  'date',
  'timestamp',
]);
const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;
/** Without column mapping, Spark rejects these characters in column names (they break Parquet/Hive paths). */
const INVALID_NAME_CHARS = /[ ,;{}()\n\t=]/;

export function serializeSchema(schema: StructType): string {
  return JSON.stringify(schema);
}

/** Parses a schemaString; TABLE_CORRUPT_LOG (with `where`) when it is not a StructType. */
export function parseSchema(schemaString: string, where: string): StructType {
  let json: unknown;
  try {
    json = JSON.parse(schemaString);
  } catch (err) {
    throw corrupt(`schemaString is not JSON (${(err as Error).message})`, where);
  }
  const t = parseType(json, where, 'schema');
  if (typeof t !== 'object' || t.type !== 'struct') throw corrupt('schemaString is not a struct type', where);
  return t;
}

function parseType(json: unknown, where: string, at: string): DataType {
  if (typeof json === 'string') return json as DataType;
  if (json === null || typeof json !== 'object')
    throw corrupt(`type of ${at} is not a string or object`, where);
  const o = json as Record<string, unknown>;
  switch (o.type) {
    case 'struct': {
      if (!Array.isArray(o.fields)) throw corrupt(`struct at ${at} has no fields array`, where);
      return { type: 'struct', fields: o.fields.map((f) => parseField(f, where, at)) };
    }
    case 'array':
      return {
        type: 'array',
        elementType: parseType(o.elementType, where, `${at}.element`),
        containsNull: o.containsNull !== false,
      };
    case 'map':
      return {
        type: 'map',
        keyType: parseType(o.keyType, where, `${at}.key`),
        valueType: parseType(o.valueType, where, `${at}.value`),
        valueContainsNull: o.valueContainsNull !== false,
      };
    default:
      throw corrupt(`unknown complex type '${String(o.type)}' at ${at}`, where);
  }
}

function parseField(json: unknown, where: string, at: string): StructField {
  if (json === null || typeof json !== 'object') throw corrupt(`a field of ${at} is not an object`, where);
  const o = json as Record<string, unknown>;
  if (typeof o.name !== 'string') throw corrupt(`a field of ${at} has no name`, where);
  return {
    name: o.name,
    type: parseType(o.type, where, `${at}.${o.name}`),
    nullable: o.nullable !== false,
    metadata: (o.metadata as Record<string, unknown>) ?? {},
  };
}

function corrupt(msg: string, where: string): TributaryError {
  return new TributaryError('TABLE_CORRUPT_LOG', `${where}: ${msg}`, { where });
}

/**
 * Checks a schema we are about to write: known types, column names unique ignoring case
 * at every level (PROTOCOL.md, "Schema Serialization Format"), no characters that need
 * column mapping, and partition columns that are top-level primitive columns.
 */
export function validateSchema(schema: StructType, partitionColumns: string[], table: string): void {
  if (schema?.type !== 'struct' || !Array.isArray(schema.fields) || schema.fields.length === 0) {
    throw invalid(`table ${table}: the schema must be a struct type with at least one field`, table);
  }
  checkStruct(schema, table, '');
  const byName = new Map(schema.fields.map((f) => [f.name, f]));
  const seen = new Set<string>();
  for (const p of partitionColumns) {
    const f = byName.get(p);
    if (f === undefined) {
      throw invalid(
        `table ${table}: partition column '${p}' is not a column of the schema (columns: ${schema.fields.map((x) => x.name).join(', ')})`,
        table,
        p,
      );
    }
    if (typeof f.type !== 'string') {
      throw invalid(
        `table ${table}: partition column '${p}' must have a primitive type, not ${f.type.type}`,
        table,
        p,
      );
    }
    if (seen.has(p)) throw invalid(`table ${table}: partition column '${p}' is listed twice`, table, p);
    seen.add(p);
  }
  if (partitionColumns.length === schema.fields.length) {
    throw invalid(`table ${table}: at least one column must not be a partition column`, table);
  }
}

function checkStruct(s: StructType, table: string, prefix: string): void {
  const lower = new Map<string, string>();
  for (const f of s.fields) {
    const path = prefix + f.name;
    if (typeof f.name !== 'string' || f.name === '')
      throw invalid(`table ${table}: a column under '${prefix}' has an empty name`, table);
    if (INVALID_NAME_CHARS.test(f.name)) {
      throw invalid(
        `table ${table}: column name '${path}' contains one of ' ,;{}()\\n\\t=', which Delta tables without column mapping cannot hold; rename it`,
        table,
        path,
      );
    }
    const prev = lower.get(f.name.toLowerCase());
    if (prev !== undefined) {
      throw invalid(
        `table ${table}: column names '${prefix}${prev}' and '${path}' differ only in case; Delta requires names unique ignoring case`,
        table,
        path,
      );
    }
    lower.set(f.name.toLowerCase(), f.name);
    checkType(f.type, table, path);
  }
}

function checkType(t: DataType, table: string, path: string): void {
  if (typeof t === 'string') {
    if (PRIMITIVE_TYPES.has(t)) return;
    const m = DECIMAL.exec(t);
    if (m && Number(m[1]) >= 1 && Number(m[1]) <= 38 && Number(m[2]) <= Number(m[1])) return;
    throw invalid(
      `table ${table}: column '${path}' has unsupported type '${t}' (use ${[...PRIMITIVE_TYPES].join(', ')}, decimal(p,s) with p <= 38, struct, array or map)`,
      table,
      path,
    );
  }
  if (t.type === 'struct') checkStruct(t, table, `${path}.`);
  else if (t.type === 'array') checkType(t.elementType, table, `${path}.element`);
  else if (t.type === 'map') {
    checkType(t.keyType, table, `${path}.key`);
    checkType(t.valueType, table, `${path}.value`);
  } else throw invalid(`table ${table}: column '${path}' has an unknown type`, table, path);
}

function invalid(message: string, table: string, column?: string): TributaryError {
  return new TributaryError(
    'TABLE_INVALID_SCHEMA',
    message,
    column === undefined ? { table } : { table, column },
  );
}

export interface ColumnInvariant {
  /** Dotted path of the column, e.g. `address.zip`. */
  column: string;
  /** Boolean SQL expression every written row must satisfy (true, not false or null). */
  expression: string;
}

/**
 * Column invariants of a schema (PROTOCOL.md, "Column Invariants": writer version 2
 * requires them). Each is the `delta.invariants` metadata of a field, a JSON string
 * `{"expression": {"expression": "<SQL>"}}`. Writers must reject rows for which an
 * expression is false or null; the data plane evaluates them in SQL.
 */
export function columnInvariants(schema: StructType): ColumnInvariant[] {
  const out: ColumnInvariant[] = [];
  const walk = (s: StructType, prefix: string): void => {
    for (const f of s.fields) {
      const path = prefix + f.name;
      const raw = f.metadata?.['delta.invariants'];
      if (typeof raw === 'string') {
        let expression: unknown;
        try {
          expression = (JSON.parse(raw) as { expression?: { expression?: unknown } })?.expression?.expression;
        } catch {
          expression = undefined;
        }
        if (typeof expression !== 'string') {
          throw new TributaryError(
            'TABLE_INVALID_SCHEMA',
            `column '${path}' has a delta.invariants value that is not {"expression": {"expression": "<SQL>"}}: ${raw}`,
            { column: path },
          );
        }
        out.push({ column: path, expression });
      }
      if (typeof f.type === 'object' && f.type.type === 'struct') walk(f.type, `${path}.`);
    }
  };
  walk(schema, '');
  return out;
}
