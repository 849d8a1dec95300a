/**
 * A reader schema's columns: each field of the top-level record becomes one typed column,
 * with the contract type the JSON path would give it (so a pipeline's SQL, tables and
 * checks are the same whichever format its topic carries).
 *
 * | Avro | column | contract type |
 * | --- | --- | --- |
 * | string (also logical uuid) | VARCHAR | string |
 * | int, long | BIGINT | integer |
 * | float, double | DOUBLE | number |
 * | boolean | BOOLEAN | boolean |
 * | enum | VARCHAR | string, with its symbols as the enum rule |
 * | long timestamp-millis, timestamp-micros | TIMESTAMPTZ | timestamp |
 * | bytes or fixed decimal(p, s), p ≤ 38 | DECIMAL(p, s) | number, decimals s, precision p |
 * | ["null", T] (either order) | T, nullable | T, required: false |
 *
 * Anything else (arrays, maps, nested records, plain bytes and fixed, dates and times,
 * unions of several types) is refused, naming the field and why.
 */
import avro from 'avsc';
import type { FieldSpec, FieldType } from '../../quality/contract.ts';
import { LogicalAvroType } from './parse.ts';

export type ColumnKind = 'string' | 'long' | 'double' | 'boolean' | 'enum' | 'timestamp' | 'decimal';

export interface AvroColumn {
  name: string;
  kind: ColumnKind;
  nullable: boolean;
  /** The field's type without its null branch. */
  type: avro.Type;
  /** The reader's field (its default fills records written without it). */
  field: avro.types.Field;
  /** Enum symbols. */
  symbols?: readonly string[];
  /** A timestamp's unit in the reader schema. */
  unit?: 'millis' | 'micros';
  precision?: number;
  scale?: number;
  /** The DuckDB type of the decoded column. */
  sqlType: string;
  contractType: FieldType;
}

export interface ColumnProblem {
  field: string;
  message: string;
}

/** What a field's type is, in words, for messages. */
export function describeType(t: avro.Type): string {
  if (t instanceof LogicalAvroType) return `${t.underlyingType.typeName} ${t.logicalName}`;
  if (avro.Type.isType(t, 'union')) {
    return `union [${(t as avro.types.UnwrappedUnionType).types.map(describeType).join(', ')}]`;
  }
  return t.typeName;
}

/** The columns of a reader schema (a record), or what about it cannot be a column. */
export function readerColumns(type: avro.Type): { columns: AvroColumn[]; problems: ColumnProblem[] } {
  const columns: AvroColumn[] = [];
  const problems: ColumnProblem[] = [];
  if (!(type instanceof avro.types.RecordType)) {
    problems.push({
      field: '',
      message: `the reader schema must be a record (its fields become the columns), got ${describeType(type)}`,
    });
    return { columns, problems };
  }
  for (const field of type.fields) {
    const c = column(field);
    if ('message' in c) problems.push({ field: field.name, message: c.message });
    else columns.push(c);
  }
  return { columns, problems };
}

function column(field: avro.types.Field): AvroColumn | { message: string } {
  let t = field.type;
  let nullable = false;
  if (avro.Type.isType(t, 'union')) {
    const branches = (t as avro.types.UnwrappedUnionType).types;
    const others = branches.filter((b) => b.typeName !== 'null');
    if (others.length !== 1 || branches.length > 2) {
      return {
        message: `field '${field.name}' is a ${describeType(t)}: only a single type, or a union of null and one type (an optional field), can be a column`,
      };
    }
    nullable = branches.length === 2;
    t = others[0];
  }
  const base = { name: field.name, nullable, type: t, field };
  const refuse = (why: string) => ({ message: `field '${field.name}' is ${describeType(t)}: ${why}` });
  if (t instanceof LogicalAvroType) {
    const under = t.underlyingType.typeName;
    switch (t.logicalName) {
      case 'timestamp-millis':
      case 'timestamp-micros':
        if (under !== 'long') return refuse('a timestamp must be a long');
        return {
          ...base,
          kind: 'timestamp',
          unit: t.logicalName === 'timestamp-millis' ? 'millis' : 'micros',
          sqlType: 'TIMESTAMPTZ',
          contractType: 'timestamp',
        };
      case 'decimal': {
        const precision = Number(t.attrs.precision);
        const scale = t.attrs.scale === undefined ? 0 : Number(t.attrs.scale);
        if (under !== 'bytes' && under !== 'fixed') return refuse('a decimal must be bytes or fixed');
        if (!Number.isInteger(precision) || precision < 1 || precision > 38) {
          return refuse(
            `a decimal column needs a precision from 1 to 38 (DuckDB's DECIMAL), got ${t.attrs.precision}`,
          );
        }
        if (!Number.isInteger(scale) || scale < 0 || scale > precision) {
          return refuse(`a decimal's scale must be from 0 to its precision, got ${t.attrs.scale}`);
        }
        return {
          ...base,
          kind: 'decimal',
          precision,
          scale,
          sqlType: `DECIMAL(${precision}, ${scale})`,
          contractType: 'number',
        };
      }
      case 'uuid':
        if (under !== 'string') return refuse('a uuid column must be a string');
        return { ...base, kind: 'string', sqlType: 'VARCHAR', contractType: 'string' };
      default:
        return refuse(
          `the logical type ${t.logicalName} is not supported as a column (supported: timestamp-millis, timestamp-micros, decimal, uuid)`,
        );
    }
  }
  switch (t.typeName) {
    case 'string':
      return { ...base, kind: 'string', sqlType: 'VARCHAR', contractType: 'string' };
    case 'int':
    case 'long':
      return { ...base, kind: 'long', sqlType: 'BIGINT', contractType: 'integer' };
    case 'float':
    case 'double':
      return { ...base, kind: 'double', sqlType: 'DOUBLE', contractType: 'number' };
    case 'boolean':
      return { ...base, kind: 'boolean', sqlType: 'BOOLEAN', contractType: 'boolean' };
    case 'enum':
      return {
        ...base,
        kind: 'enum',
        symbols: (t as avro.types.EnumType).symbols,
        sqlType: 'VARCHAR',
        contractType: 'string',
      };
    case 'null':
      return refuse('a field that is always null carries nothing');
    case 'record':
      return refuse(
        'nested records are not supported as columns yet: flatten its fields into the top-level record',
      );
    case 'array':
    case 'map':
      return refuse(`${t.typeName}s are not supported as columns yet`);
    default:
      return refuse(`${t.typeName} without a logical type (decimal) has no column type`);
  }
}

/** The contract field a column stands for, before the definition's own rules. */
export function columnFieldSpec(c: AvroColumn): FieldSpec {
  return {
    name: c.name,
    type: c.contractType,
    required: !c.nullable,
    ...(c.symbols && { enum: c.symbols }),
    ...(c.kind === 'decimal' && { decimals: c.scale!, precision: c.precision! }),
  };
}
