/**
 * Avro schema text as the registry keeps it. A submitted schema is parsed and validated
 * (src/connectors/avro/schema.ts: parseSchema); the registry stores it as compact JSON
 * (the submitted JSON with its whitespace removed, every attribute kept: docs, defaults,
 * logical types, custom properties) and recognises "the same schema" by its normal form
 * (normalizeSchema: whitespace, key order, full or short names and `{"type": "int"}` for
 * `"int"` do not matter; defaults, docs, aliases and logical types do), so two texts of
 * one schema get one id, as Confluent's registry gives them.
 */

import { normalizeSchema, parseSchema } from '../../connectors/avro/schema.ts';
import { TributaryError } from '../../core/errors.ts';
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
  try {
    parseSchema(text);
    return { text: JSON.stringify(JSON.parse(text)), canonical: normalizeSchema(text) };
  } catch (err) {
    if (err instanceof TributaryError && err.code === 'SCHEMA_INVALID') {
      throw registryError(42201, `Invalid schema: ${err.message}`);
    }
    throw err;
  }
}
