/**
 * Column types as definitions write them, in the notation of Spark's DDL and Delta's
 * documentation: `string`, `long`, `decimal(12,2)`, `array<string>`,
 * `struct<sku: string, quantity: long>`, `map<string, long>`. Parsed into the Delta
 * schema types of src/table/schema.ts; every nested field and element nullable.
 */
import type { DataType, StructField } from '../table/schema.ts';
import { PRIMITIVE_TYPES } from '../table/schema-json.ts';

const ALIASES: Record<string, string> = {
  int: 'integer',
  bigint: 'long',
  smallint: 'short',
  tinyint: 'byte',
};

/** Parses a type; throws a message naming what is wrong (the caller adds where). */
export function parseColumnType(text: string): DataType {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const word = () => {
    ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (!m) throw new Error(`expected a type name at position ${i + 1} of '${text}'`);
    i += m[0].length;
    return m[0];
  };
  const expect = (c: string) => {
    ws();
    if (text[i] !== c) throw new Error(`expected '${c}' at position ${i + 1} of '${text}'`);
    i++;
  };
  const peek = () => {
    ws();
    return text[i];
  };
  const type = (): DataType => {
    const name = word().toLowerCase();
    const t = ALIASES[name] ?? name;
    if (t === 'decimal') {
      expect('(');
      ws();
      const m = /^(\d+)\s*,\s*(\d+)/.exec(text.slice(i));
      if (!m) throw new Error(`expected decimal(precision, scale) in '${text}'`);
      i += m[0].length;
      expect(')');
      const p = Number(m[1]);
      const s = Number(m[2]);
      if (p < 1 || p > 38 || s > p)
        throw new Error(`decimal(${p},${s}): precision 1–38 and scale ≤ precision`);
      return `decimal(${p},${s})`;
    }
    if (t === 'array') {
      expect('<');
      const elementType = type();
      expect('>');
      return { type: 'array', elementType, containsNull: true };
    }
    if (t === 'map') {
      expect('<');
      const keyType = type();
      expect(',');
      const valueType = type();
      expect('>');
      return { type: 'map', keyType, valueType, valueContainsNull: true };
    }
    if (t === 'struct') {
      expect('<');
      const fields: StructField[] = [];
      do {
        if (fields.length > 0) i++;
        const name = word();
        expect(':');
        fields.push({ name, type: type(), nullable: true, metadata: {} });
      } while (peek() === ',');
      expect('>');
      return { type: 'struct', fields };
    }
    if (!PRIMITIVE_TYPES.has(t)) {
      throw new Error(
        `unknown type '${name}'; expected one of ${[...PRIMITIVE_TYPES].join(', ')}, decimal(p,s), array<…>, struct<…>, map<…, …>`,
      );
    }
    return t as DataType;
  };
  const t = type();
  ws();
  if (i !== text.length) throw new Error(`unexpected '${text.slice(i)}' after the type in '${text}'`);
  return t;
}
