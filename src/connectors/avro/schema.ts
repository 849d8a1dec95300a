/**
 * Avro schemas as text: parsing with errors that say where (`parseSchema`), and the
 * normal form that decides whether two registrations are the same schema
 * (`normalizeSchema`, `schemaFingerprint`).
 *
 * "The same schema" follows Confluent's registry: it answers a registration with the
 * existing id when the schema is equal to one registered, where equal means Avro
 * Java's `Schema.equals` (names, types, fields in order, defaults, field order, custom
 * properties including `logicalType`) plus aliases, docs and the enum default
 * (`AvroSchema.equivalent`). Whitespace, key order, how a name is spelt (a full name,
 * or a short one with a namespace) and the order of aliases do not matter.
 * docs/registry.md ("The same schema") has the list.
 */
import { createHash } from 'node:crypto';
import avro from 'avsc';
import { TributaryError } from '../../core/errors.ts';
import {
  checkSchema,
  fullName,
  type Json,
  namespaceOf,
  PRIMITIVES,
  SchemaRuleError,
} from './schema-rules.ts';

/**
 * Parses Avro schema text into an avsc Type. Throws TributaryError SCHEMA_INVALID
 * naming what is wrong and where (`sales_event.amount`): not JSON, an unknown type name,
 * a record without fields, a default that does not fit its type, a duplicate field,
 * symbol or name, an invalid name. Anonymous records, enums and fixed are refused (the
 * specification requires names). `options` go to avsc (e.g. `logicalTypes`,
 * `wrapUnions`); logical types are ignored unless given, as the specification allows.
 */
export function parseSchema(text: string, options: Partial<avro.ForSchemaOptions> = {}): avro.Type {
  const json = checkedJson(text);
  try {
    return avro.Type.forSchema(json as avro.Schema, { noAnonymousTypes: true, ...options });
  } catch (err) {
    // The rules in schema-rules.ts should have refused it first; avsc's words then.
    throw new TributaryError(
      'SCHEMA_INVALID',
      `the Avro schema is invalid: ${(err as Error).message} (refused by avsc)`,
      {},
      err,
    );
  }
}

/** The schema's JSON after the rules of the specification were checked. */
function checkedJson(text: string): Json {
  let json: Json;
  try {
    json = JSON.parse(text) as Json;
  } catch (err) {
    throw new TributaryError('SCHEMA_INVALID', `the schema is not JSON: ${(err as Error).message}`, {}, err);
  }
  try {
    checkSchema(json);
  } catch (err) {
    if (!(err instanceof SchemaRuleError)) throw err;
    const at = err.where ? ` at '${err.where}'` : '';
    throw new TributaryError('SCHEMA_INVALID', `the Avro schema is invalid${at}: ${err.what}`, {
      where: err.where,
    });
  }
  return json;
}

/**
 * A stable JSON text for `text` (valid Avro; else SCHEMA_INVALID): two schemas have the
 * same normal form exactly when Confluent's registry takes them for the same schema.
 *
 * - names are full names and `namespace` attributes are gone (but for `"namespace": ""`
 *   on a type of the null namespace defined inside a namespaced one, referred to as
 *   `.name`); a named type is written out where first used and referred to after;
 * - keys in a fixed order: name, type, fields | symbols | size | items | values, then
 *   default, order (only when not ascending), doc, aliases (full names, sorted), then
 *   every other attribute (custom properties, `logicalType`, `precision`, `scale`)
 *   sorted by key; keys inside default values and properties sorted too;
 * - a primitive with no attributes is its bare name (`"int"`, not `{"type":"int"}`);
 * - numbers as JavaScript writes them: a default of 1.0 equals a default of 1 (Avro Java
 *   would tell them apart).
 *
 * Kept: defaults, docs, aliases, field order attributes, logical types and any custom
 * property. Field order, symbol order and union branch order matter.
 */
export function normalizeSchema(text: string): string {
  const json = checkedJson(text);
  return JSON.stringify(normal(json, ''));
}

/** SHA-256 (hex) of the normal form: equal exactly when `normalizeSchema` texts are. */
export function schemaFingerprint(text: string): string {
  return createHash('sha256').update(normalizeSchema(text)).digest('hex');
}

// Attributes Avro Java reads itself (Schema.SCHEMA_RESERVED, ENUM_RESERVED,
// FIELD_RESERVED); every other key is a property it keeps and compares.
const TYPE_RESERVED = new Set(['doc', 'fields', 'items', 'name', 'namespace', 'size', 'symbols', 'values']);
const FIELD_RESERVED = new Set(['default', 'doc', 'name', 'order', 'type', 'aliases']);

function normal(node: Json, ns: string): Json {
  if (typeof node === 'string') {
    const last = node.slice(node.lastIndexOf('.') + 1);
    if (PRIMITIVES.has(last)) return last;
    const full = fullName(node, ns);
    // A type of the null namespace referred to from inside a namespace: avsc's absolute form.
    return ns && !full.includes('.') ? `.${full}` : full;
  }
  if (Array.isArray(node)) return node.map((branch) => normal(branch, ns));
  const obj = node as Record<string, Json>;
  const type = obj.type as string;
  const out: Record<string, Json> = {};
  if (PRIMITIVES.has(type)) {
    const props = properties(obj);
    return Object.keys(props).length === 0 ? type : { type, ...props };
  }
  if (type === 'array' || type === 'map') {
    const inner = type === 'array' ? 'items' : 'values';
    out.type = type;
    out[inner] = normal(obj[inner]!, ns);
    return { ...out, ...properties(obj) };
  }
  // record, error, enum, fixed
  const space = typeof obj.namespace === 'string' ? obj.namespace : obj.namespace === null ? '' : ns;
  const full = fullName(obj.name as string, space);
  out.name = full;
  out.type = type;
  // A dotless full name inside a namespace would inherit it when read again.
  if (ns && !full.includes('.')) out.namespace = '';
  const inner = namespaceOf(full);
  if (type === 'enum') out.symbols = obj.symbols!;
  if (type === 'fixed') out.size = obj.size!;
  if (type === 'record' || type === 'error') {
    out.fields = (obj.fields as Record<string, Json>[]).map((f) => normalField(f, inner));
  }
  if (type === 'enum' && obj.default !== undefined) out.default = obj.default;
  if (obj.doc !== undefined) out.doc = canonical(obj.doc);
  if (Array.isArray(obj.aliases) && obj.aliases.length > 0) {
    out.aliases = [...new Set((obj.aliases as string[]).map((a) => fullName(a, inner)))].sort();
  }
  return { ...out, ...properties(obj, type === 'enum' ? 'default' : undefined) };
}

function normalField(field: Record<string, Json>, ns: string): Json {
  const out: Record<string, Json> = { name: field.name!, type: normal(field.type!, ns) };
  if (field.default !== undefined) out.default = canonical(field.default);
  if (field.order !== undefined && field.order !== 'ascending') out.order = field.order;
  if (field.doc !== undefined) out.doc = canonical(field.doc);
  if (Array.isArray(field.aliases) && field.aliases.length > 0) {
    out.aliases = [...new Set(field.aliases as string[])].sort();
  }
  const props: Record<string, Json> = {};
  for (const key of Object.keys(field).sort()) {
    if (!FIELD_RESERVED.has(key)) props[key] = canonical(field[key]!);
  }
  return { ...out, ...props };
}

/** A type's own properties (keys Avro does not read itself), sorted, values canonical. */
function properties(obj: Record<string, Json>, alsoReserved?: string): Record<string, Json> {
  const props: Record<string, Json> = {};
  for (const key of Object.keys(obj).sort()) {
    if (key === 'type' || key === 'aliases' || key === alsoReserved || TYPE_RESERVED.has(key)) continue;
    props[key] = canonical(obj[key]!);
  }
  return props;
}

/** A JSON value with object keys sorted (JSON object equality ignores key order). */
function canonical(value: Json): Json {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, Json> = {};
  for (const key of Object.keys(value).sort()) out[key] = canonical(value[key]!);
  return out;
}
