/**
 * Avro schema text as the registry keeps it. A submitted schema is parsed and validated
 * with avsc; the registry stores it as compact JSON (the submitted JSON with its
 * whitespace removed, every attribute kept: docs, defaults, logical types, custom
 * properties) and recognises "the same schema" by a canonical form of that JSON: object
 * keys sorted and `{"type": "int"}` written as `"int"`, so two texts of one schema that
 * differ only in whitespace or key order get one id, as Confluent's registry gives them.
 *
 * Local to the registry for now; src/connectors/avro/schema.ts (parseSchema,
 * normalizeSchema) is meant to take this over.
 */
import avro from 'avsc';
import { registryError } from './errors.ts';

export interface ParsedSchema {
  /** The schema as compact JSON, as stored and served. */
  text: string;
  /** The form two texts of one schema share (the key of "same schema"). */
  canonical: string;
}

/** Parses and validates Avro schema text; throws the registry's 42201 when it is not a valid schema. */
export function parseAvroSchema(text: unknown): ParsedSchema {
  if (typeof text !== 'string' || text.trim() === '') {
    throw registryError(42201, 'Invalid schema: the request has no schema (a JSON string in "schema")');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw registryError(42201, `Invalid schema: the schema is not JSON: ${(err as Error).message}`);
  }
  try {
    avro.Type.forSchema(json as avro.Schema);
  } catch (err) {
    throw registryError(42201, `Invalid schema: ${(err as Error).message}`);
  }
  return { text: JSON.stringify(json), canonical: JSON.stringify(canonicalJson(json)) };
}

function canonicalJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalJson);
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  if (keys.length === 1 && keys[0] === 'type' && typeof obj.type === 'string') return obj.type;
  const out: Record<string, unknown> = {};
  // Defaults are data, not schema: keep them as they are (only their key order is canonical).
  for (const k of keys) out[k] = k === 'default' ? sortKeys(obj[k]) : canonicalJson(obj[k]);
  return out;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) out[k] = sortKeys(obj[k]);
  return out;
}
