/**
 * Parsing an Avro schema for the decoder and the encoder: avsc checks it against the
 * specification, and logical types (timestamps, decimals, dates, uuids) stay visible with
 * their attributes, resolved as their underlying types (Avro's rule: a logical type does
 * not change what data a schema can read).
 */
import avro from 'avsc';
import { TributaryError } from '../../core/errors.ts';
import { parseSchema } from './schema.ts';

/** A logical type as parsed: its name and attributes, over its underlying type. */
export class LogicalAvroType extends avro.types.LogicalType {
  readonly logicalName: string;
  readonly attrs: Readonly<Record<string, unknown>>;

  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    const s = schema as Record<string, unknown>;
    this.logicalName = String(s.logicalType);
    this.attrs = { ...s };
  }

  protected override _fromValue(v: unknown): unknown {
    return v;
  }

  protected override _toValue(v: unknown): unknown {
    return v;
  }

  protected override _resolve(type: avro.Type): unknown {
    const writer = type instanceof avro.types.LogicalType ? type.underlyingType : type;
    try {
      this.underlyingType.createResolver(writer);
    } catch {
      return undefined;
    }
    return (v: unknown) => v;
  }
}

const LOGICAL_NAMES = [
  'decimal',
  'uuid',
  'date',
  'time-millis',
  'time-micros',
  'timestamp-millis',
  'timestamp-micros',
  'timestamp-nanos',
  'local-timestamp-millis',
  'local-timestamp-micros',
  'local-timestamp-nanos',
  'duration',
];

const LOGICAL_TYPES = Object.fromEntries(LOGICAL_NAMES.map((n) => [n, LogicalAvroType]));

/** The schema as JSON text or a parsed JSON value, checked; SCHEMA_INVALID says what is wrong. */
export function parseAvroSchema(schema: string | object, where = 'the Avro schema'): avro.Type {
  let json: unknown = schema;
  if (typeof schema === 'string') {
    try {
      json = JSON.parse(schema);
    } catch (err) {
      // A bare primitive name ("string") is valid Avro too.
      if (/^\s*[A-Za-z_][A-Za-z0-9_.]*\s*$/.test(schema)) json = schema.trim();
      else throw new TributaryError('SCHEMA_INVALID', `${where} is not JSON: ${(err as Error).message}`);
    }
  }
  // The specification's rules, with where a problem is (schema.ts), then avsc with the
  // logical types kept visible.
  try {
    return parseSchema(JSON.stringify(json), {
      logicalTypes: LOGICAL_TYPES,
      wrapUnions: 'never',
    } as Partial<avro.ForSchemaOptions>);
  } catch (err) {
    if (err instanceof TributaryError && err.code === 'SCHEMA_INVALID') {
      throw new TributaryError(
        'SCHEMA_INVALID',
        `${where} is not a valid Avro schema: ${err.message}`,
        err.details,
        err,
      );
    }
    throw err;
  }
}

/** The underlying type of a logical type, else the type. */
export function underlying(t: avro.Type): avro.Type {
  return t instanceof LogicalAvroType ? t.underlyingType : t;
}

/**
 * Why `reader` cannot read data written with `writer` (Avro schema resolution), or
 * undefined when it can.
 */
export function resolutionError(reader: avro.Type, writer: avro.Type): string | undefined {
  try {
    // Names are compared without their namespaces: a producer's record `com.acme.sale`
    // is read by a reader's `sale`.
    reader.createResolver(writer, { ignoreNamespaces: true });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
