/**
 * What a contract expects of a record's JSON, compiled for the strict check
 * (strict-json.ts): per object, its known fields found by the FNV-1a hash of the key's
 * UTF-8 bytes, each with its JSON kind and rules.
 */
import type { FieldSpec, FieldType } from './contract.ts';

export const MAX_DEPTH = 64;

export const ANY = 0;
export const STRING = 1;
export const INTEGER = 2;
export const NUMBER = 3;
export const BOOLEAN = 4;
export const ARRAY = 5;
export const OBJECT = 6;
const KIND: Record<FieldType, number> = {
  string: STRING,
  integer: INTEGER,
  number: NUMBER,
  boolean: BOOLEAN,
  array: ARRAY,
  object: OBJECT,
  // A JSON string; its format is the contract's rule `timestamp`, checked in DuckDB.
  timestamp: STRING,
};
export const KIND_NAME = ['value', 'string', 'integer', 'number', 'boolean', 'array', 'object'];

/** What the contract expects of one field's value. */
export interface FieldShape {
  name: string;
  bytes: Uint8Array;
  hash: number;
  kind: number;
  /** What a message says is expected, when not the kind's name (a timestamp's string). */
  expected?: string;
  coerce: boolean;
  decimals: number;
  /** For an object whose fields the contract names: those fields. */
  shape?: ObjectShape;
  /** For an array whose elements the contract describes: an element. */
  element?: FieldShape;
}

/** An object's known fields, found by the FNV-1a hash of the key's UTF-8 bytes. */
export interface ObjectShape {
  fields: FieldShape[];
  /** Open addressing: slot → field index + 1 (0: empty). */
  slots: Int32Array;
  mask: number;
  /**
   * Per field, the number of the last object scan that saw it: a field seen twice in one
   * object is a duplicate key. (Objects of one shape never nest in one another.)
   */
  seenIn: Int32Array;
}

export const utf8 = new TextEncoder();

export function fnv(bytes: Uint8Array): number {
  let h = 0x811c9dc5 | 0;
  for (const c of bytes) h = Math.imul(h ^ c, 0x01000193);
  return h;
}

export function compileShape(fields: readonly FieldSpec[]): ObjectShape {
  const shaped: FieldShape[] = fields.map((f) => {
    const bytes = utf8.encode(f.name);
    return {
      name: f.name,
      bytes,
      hash: fnv(bytes),
      kind: KIND[f.type],
      ...(f.type === 'timestamp' && { expected: 'timestamp (an RFC 3339 string)' }),
      coerce: f.coerce === true,
      decimals: f.decimals ?? -1,
      element:
        f.type === 'array' && f.items
          ? {
              name: '',
              bytes: new Uint8Array(0),
              hash: 0,
              kind: OBJECT,
              coerce: false,
              decimals: -1,
              shape: compileShape(f.items),
            }
          : undefined,
    };
  });
  let size = 8;
  while (size < shaped.length * 2) size *= 2;
  const slots = new Int32Array(size);
  const mask = size - 1;
  shaped.forEach((f, i) => {
    let s = f.hash & mask;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = i + 1;
  });
  return { fields: shaped, slots, mask, seenIn: new Int32Array(shaped.length) };
}
