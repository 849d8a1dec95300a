/**
 * The one logical type that takes part in schema resolution. The Avro specification:
 * "two schemas that are decimal logical types match if their scales and precisions
 * match". avsc ignores logical types it is not given, and Avro Java's
 * SchemaCompatibility (so Confluent's registry) ignores them all; a decimal read with
 * another scale is off by a power of ten in every value, so we keep the rule.
 *
 * Given to avsc as a logical type only when checking compatibility; its values are the
 * underlying bytes, unchanged. An invalid decimal (precision missing, scale above
 * precision, too many digits for its fixed size) is ignored, as the specification says:
 * avsc then falls back to the underlying type.
 */
import avro from 'avsc';

export class ResolvingDecimal extends avro.types.LogicalType {
  readonly precision: number;
  readonly scale: number;

  constructor(schema: avro.Schema, opts?: unknown) {
    const { precision, scale = 0 } = schema as { precision?: unknown; scale?: unknown };
    if (!Number.isInteger(precision) || (precision as number) < 1)
      throw new Error('decimal needs a precision');
    if (!Number.isInteger(scale) || (scale as number) < 0 || (scale as number) > (precision as number)) {
      throw new Error('decimal scale must be 0 to precision');
    }
    const size =
      (schema as { type?: unknown; size?: unknown }).type === 'fixed'
        ? (schema as { size?: unknown }).size
        : undefined;
    if (typeof size === 'number' && (precision as number) > maxDigits(size)) {
      throw new Error('decimal precision exceeds what the fixed size holds');
    }
    super(schema, opts);
    this.precision = precision as number;
    this.scale = scale as number;
  }

  protected override _fromValue(value: unknown): unknown {
    return value;
  }

  protected override _toValue(value: unknown): unknown {
    return value;
  }

  protected override _resolve(type: avro.Type): ((value: unknown) => unknown) | undefined {
    if (
      type instanceof ResolvingDecimal &&
      (type.precision !== this.precision || type.scale !== this.scale)
    ) {
      return undefined;
    }
    // Then the underlying types decide (bytes and fixed do not match, a fixed's size must).
    const writer = type instanceof ResolvingDecimal ? type.underlyingType : type;
    try {
      this.underlyingType.createResolver(writer, { ignoreNamespaces: true });
      return (v) => v;
    } catch {
      return undefined;
    }
  }
}

export function isDecimal(type: avro.Type): type is ResolvingDecimal {
  return type instanceof ResolvingDecimal;
}

/** Base-10 digits an n-byte two's-complement number always holds: floor(log10(2^(8n-1) - 1)). */
function maxDigits(size: number): number {
  if (size < 1) return 0;
  return (2n ** BigInt(8 * size - 1) - 1n).toString().length - 1;
}
