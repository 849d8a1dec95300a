/**
 * Data contracts: what a valid record looks like (required fields, JSON types, enums,
 * ranges, patterns, arrays of objects), compiled to DuckDB SQL so that a whole batch is
 * validated in the engine, not record by record in JavaScript.
 *
 * Two compiled forms (measured: 200,000 order events, 2 cores, other work running):
 * - the fast path reads records with DuckDB's JSON reader straight into typed columns
 *   (`readType`, ~0.4 s) and checks them with vectorized predicates (`validRow`). The
 *   reader converts leniently (a number in a string field becomes its text), so the
 *   JSON types are checked before, on the raw bytes, by the strict check of
 *   src/stream/strict-json.ts (unless a field opts in to `coerce`). (Reading numbers as
 *   JSON fragments to check their JSON type in DuckDB was 2-3x slower.)
 * - the precise path (`preciseType` + `violation`) reads every field as a JSON fragment
 *   and names the first broken rule. It is several times slower, so it runs only on the
 *   few records the fast path rejected.
 *
 * Both forms use the same SQL per rule, so they agree on every record (a `timestamp`:
 * timestamp.ts, checked in test/quality/timestamp.test.ts against a plain-code judge).
 */
import { TributaryError } from '../core/errors.ts';
import { quoteIdent, quoteString } from '../core/sql.ts';
import { StrictJsonChecker } from './strict-json.ts';
import {
  normalizeTimestamp,
  TIMESTAMP_FORMAT,
  timestampLiteral,
  timestampShapeSql,
  timestampSql,
} from './timestamp.ts';

/**
 * `timestamp`: a JSON string holding an RFC 3339 date and time (timestamp.ts), typed as
 * a TIMESTAMPTZ; without an offset it is UTC.
 */
export type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'timestamp';

export interface FieldSpec {
  name: string;
  type: FieldType;
  /** Absent or JSON null fails the record unless `required: false` (default true). */
  required?: boolean;
  /** Allowed string values. */
  enum?: readonly string[];
  /**
   * Inclusive bounds: numbers, or for a timestamp field timestamps of its format
   * (`'2020-01-01T00:00:00Z'`), compared as instants.
   */
  min?: number | string;
  max?: number | string;
  /**
   * For numbers: at most this many digits after the decimal point (money: 2), so the
   * value fits a DECIMAL of that scale exactly instead of being rounded.
   */
  decimals?: number;
  /**
   * For numbers with `decimals`: read as an exact DECIMAL(precision, decimals) instead of
   * a double (a captured `numeric(10,2)` column); a value with more than precision −
   * decimals digits before the point breaks the rule.
   */
  precision?: number;
  /** A regular expression (RE2 syntax, DuckDB's `regexp_full_match`) the whole string must match. */
  pattern?: string;
  /** For strings: not empty, nor only spaces (seed 003's "customer_name NOT EMPTY"). */
  notEmpty?: boolean;
  /** For arrays: the fields of each element (an object). */
  items?: readonly FieldSpec[];
  /** For arrays: at least this many elements. */
  minItems?: number;
  /**
   * Accept a value of another JSON type and convert it, as DuckDB's reader does: a number
   * or boolean in a string field as its text, a numeric string or a boolean in a number
   * field as its number. Off by default: the strict check (src/stream/strict-json.ts)
   * sends a value of the wrong JSON type to the dead-letter queue.
   */
  coerce?: boolean;
}

export interface DataContract {
  name: string;
  fields: readonly FieldSpec[];
}

/** JSON type names as DuckDB's `json_type` reports them, per contract type. */
const JSON_TYPES: Record<FieldType, string[]> = {
  string: ['VARCHAR'],
  integer: ['BIGINT', 'UBIGINT'],
  number: ['BIGINT', 'UBIGINT', 'DOUBLE'],
  boolean: ['BOOLEAN'],
  array: ['ARRAY'],
  object: ['OBJECT'],
  timestamp: ['VARCHAR'],
};

/** A problem of a contract: where (keys of the definition's field, e.g. `['fields', 2, 'min']`) and what. */
export interface ContractProblem {
  path: Array<string | number>;
  message: string;
}

/** Every problem of the contract's fields, in order (a definition reports them all). */
export function contractProblems(
  fields: readonly FieldSpec[],
  at: Array<string | number> = ['fields'],
  prefix = '',
): ContractProblem[] {
  const out: ContractProblem[] = [];
  const seen = new Set<string>();
  fields.forEach((f, i) => {
    const path = [...at, i];
    const name = `${prefix}${f.name}`;
    const bad = (message: string, key?: string) =>
      out.push({ path: key === undefined ? path : [...path, key], message });
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.name)) {
      bad(`field name '${name}' must be an identifier`, 'name');
    } else if (f.name.startsWith('__ts_') || f.name === '__event_time') {
      bad(`field name '${name}' is reserved by the runtime (__ts_*, __event_time)`, 'name');
    } else if (f.name.startsWith('_') && !f.name.startsWith('__')) {
      // `__op`, `__pos`, ... (change events' metadata, as Debezium names it) are fields.
      bad(
        `field name '${name}' starts with '_', which the runtime reserves for record metadata (_p, _o, _t); names starting with '__' are allowed`,
        'name',
      );
    }
    if (seen.has(f.name)) bad(`field '${name}' is declared twice`, 'name');
    seen.add(f.name);
    if (f.items && f.type !== 'array') bad(`field '${name}' has items but is not an array`, 'items');
    if (
      f.decimals !== undefined &&
      (f.type !== 'number' || !Number.isInteger(f.decimals) || f.decimals < 0)
    ) {
      bad(
        `field '${name}' has decimals ${f.decimals}: only a number field can have decimals, a whole number of them, 0 or more`,
        'decimals',
      );
    }
    if (
      f.precision !== undefined &&
      (f.type !== 'number' ||
        f.decimals === undefined ||
        !Number.isInteger(f.precision) ||
        f.precision < 1 ||
        f.precision > 38 ||
        f.precision < f.decimals)
    ) {
      bad(
        `field '${name}' has precision ${f.precision}: only a number field with decimals can have one, a whole number from 1 to 38, at least its decimals (DECIMAL(precision, decimals))`,
        'precision',
      );
    }
    if (f.coerce && !['string', 'integer', 'number', 'boolean'].includes(f.type)) {
      bad(
        `field '${name}' has coerce, which only string, integer, number and boolean fields can have (a timestamp is always a JSON string)`,
        'coerce',
      );
    }
    for (const key of ['min', 'max'] as const) {
      const v = f[key];
      if (v === undefined) continue;
      if (f.type === 'timestamp') {
        if (typeof v !== 'string' || normalizeTimestamp(v) === undefined) {
          bad(
            `field '${name}' is a timestamp: its ${key} must be a timestamp too, text of the form ${TIMESTAMP_FORMAT} (e.g. '2020-01-01T00:00:00Z'), got ${JSON.stringify(v)}`,
            key,
          );
        }
      } else if (typeof v !== 'number' || !Number.isFinite(v)) {
        bad(`field '${name}' has ${key} ${JSON.stringify(v)}: a bound of a ${f.type} field is a number`, key);
      }
    }
    if (f.notEmpty && f.type !== 'string') {
      bad(`field '${name}' has not_empty, which only a string field can have`, 'not_empty');
    }
    if (f.type === 'timestamp' && f.enum) {
      bad(
        `field '${name}' is a timestamp and cannot have enum (a timestamp is compared as an instant, not as text: use min and max)`,
        'enum',
      );
    }
    if (f.items) out.push(...contractProblems(f.items, [...path, 'items'], `${name}[].`));
  });
  return out;
}

export function checkContract(c: DataContract): void {
  const problems = contractProblems(c.fields);
  if (problems.length > 0) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `contract '${c.name}': ${problems.map((p) => p.message).join('; ')}`,
      { contract: c.name },
    );
  }
}

/**
 * SQL true when the number `x` (a DOUBLE) has more than `decimals` digits after the
 * point. A JSON number like 10.99 is read as the nearest double, so x·10² lands within
 * a few units in the last place of a whole number, not exactly on it (~3e-13 here,
 * ~2e-4 at 10¹²); 10.999 lands a tenth away.
 */
export function tooManyDecimals(x: string, decimals: number): string {
  const scaled = `(${x}) * ${10 ** decimals}`;
  return `abs(${scaled} - round(${scaled})) > 1e-9 + abs(${scaled}) * 1e-15`;
}

/** The DuckDB type for `read_json(columns=...)` that splits a record into JSON fragments. */
export function jsonStructType(c: DataContract): string {
  return `STRUCT(${c.fields.map((f) => `${quoteIdent(f.name)} JSON`).join(', ')})`;
}

/** The DuckDB type the fast path reads a record as. */
export function typedStructType(fields: readonly FieldSpec[]): string {
  return `STRUCT(${fields.map((f) => `${quoteIdent(f.name)} ${readType(f)}`).join(', ')})`;
}

function readType(f: FieldSpec): string {
  if (f.type === 'string' || f.type === 'timestamp') return 'VARCHAR';
  if (f.type === 'boolean') return 'BOOLEAN';
  if (f.type === 'integer' || f.type === 'number') return 'DOUBLE';
  if (f.type === 'array' && f.items) return `${typedStructType(f.items)}[]`;
  return 'JSON';
}

/** SQL that is true when field `f` (typed form, at `ref`) passes every rule. */
function fastCheck(f: FieldSpec, ref: string, parsed?: string): string {
  const parts: string[] = [];
  const required = f.required ?? true;
  if (f.type === 'object' || (f.type === 'array' && !f.items)) {
    const types = [...JSON_TYPES[f.type], ...(required ? [] : ['NULL'])].map(quoteString).join(', ');
    parts.push(
      required ? `json_type(${ref}) IN (${types})` : `coalesce(json_type(${ref}) IN (${types}), true)`,
    );
  } else if (required) parts.push(`${ref} IS NOT NULL`);
  if (f.type === 'integer') parts.push(`${ref} = trunc(${ref})`);
  const ts = f.type === 'timestamp' ? (parsed ?? timestampSql(ref)) : undefined;
  if (ts !== undefined) parts.push(`${ts} IS NOT NULL`);
  if (f.enum) parts.push(`${ref} IN (${f.enum.map(quoteString).join(', ')})`);
  if (f.pattern !== undefined) parts.push(`regexp_full_match(${ref}, ${quoteString(f.pattern)})`);
  if (f.notEmpty) parts.push(`trim(${ref}) <> ''`);
  if (f.min !== undefined) parts.push(`${ts ?? ref} >= ${bound(f, f.min)}`);
  if (f.max !== undefined) parts.push(`${ts ?? ref} <= ${bound(f, f.max)}`);
  if (f.decimals !== undefined) parts.push(`NOT (${tooManyDecimals(ref, f.decimals)})`);
  if (f.precision !== undefined) parts.push(`abs(${ref}) < ${decimalLimit(f)}`);
  if (f.minItems !== undefined) parts.push(`len(${ref}) >= ${f.minItems}`);
  if (f.items) {
    const sub = f.items.map((s) => fastCheck(s, `x.${quoteIdent(s.name)}`)).join(' AND ');
    parts.push(`list_bool_and(list_transform(${ref}, x -> coalesce(${sub}, false)))`);
  }
  if (parts.length === 0) return 'true';
  const all = parts.join(' AND ');
  // A present value must pass; an absent optional one passes (NULL rules count as passed
  // only when the field is optional and missing).
  return required ? `coalesce(${all}, false)` : `(${ref} IS NULL OR coalesce(${all}, false))`;
}

/** A `min` or `max` as SQL: a number, or a timestamp literal. */
export function bound(f: FieldSpec, v: number | string): string {
  return f.type === 'timestamp' ? timestampLiteral(String(v)) : String(v);
}

/** The smallest magnitude a DECIMAL(precision, decimals) field cannot hold: 10^(precision − decimals). */
export function decimalLimit(f: FieldSpec): string {
  return `1e${f.precision! - (f.decimals ?? 0)}`;
}

/** The typed value of a field in the fast path's form. */
function typedFromRead(f: FieldSpec, ref: string, parsed?: string): string {
  if (f.type === 'integer') return `TRY_CAST(${ref} AS BIGINT)`;
  // The double read is within half a unit of the last place of the JSON text, whose
  // digits after the point the decimals rule bounds: rounding to the scale gives them back.
  if (f.precision !== undefined) return `TRY_CAST(${ref} AS DECIMAL(${f.precision}, ${f.decimals ?? 0}))`;
  if (f.type === 'timestamp') return parsed ?? timestampSql(ref);
  if (f.type === 'array' && f.items) {
    const members = f.items.map(
      (s) => `${quoteString(s.name)}: ${typedFromRead(s, `x.${quoteIdent(s.name)}`)}`,
    );
    return `list_transform(${ref}, x -> {${members.join(', ')}})`;
  }
  return ref;
}

interface Check {
  /** SQL that is true when the rule is broken (evaluated only if earlier checks passed). */
  broken: string;
  field: string;
  rule: string;
  /** SQL string expression: the message. */
  message: string;
}

function fieldChecks(f: FieldSpec, ref: string, path: string): Check[] {
  const checks: Check[] = [];
  const t = `json_type(${ref})`;
  const required = f.required ?? true;
  const expected = JSON_TYPES[f.type];
  if (required) {
    checks.push({
      broken: `${ref} IS NULL`,
      field: path,
      rule: 'required',
      message: `'field is missing or null'`,
    });
    checks.push({ broken: `${t} = 'NULL'`, field: path, rule: 'required', message: `'field is null'` });
  }
  // Optional fields: absent or null passes; every other rule applies to present values.
  const present = required ? '' : `${ref} IS NOT NULL AND ${t} <> 'NULL' AND `;
  checks.push({
    broken: `${present}${t} NOT IN (${expected.map(quoteString).join(', ')})`,
    field: path,
    rule: 'type',
    message: `'expected ${f.type}, got ' || lower(${t}) || ': ' || left(${ref}::VARCHAR, 60)`,
  });
  const str = `json_extract_string(${ref}, '$')`;
  const num = `TRY_CAST(${ref} AS DOUBLE)`;
  const quoted = `${quoteString(`'`)} || left(${str}, 60) || ${quoteString(`'`)}`;
  if (f.type === 'timestamp') {
    checks.push({
      broken: `${present}${timestampSql(str)} IS NULL`,
      field: path,
      rule: 'timestamp',
      message: `${quoted} || CASE WHEN ${timestampShapeSql(str)} THEN ' is not a timestamp: no such day in that month' ELSE ${quoteString(` is not a timestamp: expected ${TIMESTAMP_FORMAT} (RFC 3339; T or a space between date and time; no offset means UTC)`)} END`,
    });
  }
  if (f.enum) {
    checks.push({
      broken: `${present}${str} NOT IN (${f.enum.map(quoteString).join(', ')})`,
      field: path,
      rule: 'enum',
      message: `${quoteString(`'`)} || left(${str}, 60) || ${quoteString(`' is not one of ${f.enum.join(', ')}`)}`,
    });
  }
  if (f.notEmpty) {
    checks.push({
      broken: `${present}trim(${str}) = ''`,
      field: path,
      rule: 'not_empty',
      message: `'field is empty'`,
    });
  }
  if (f.pattern !== undefined) {
    checks.push({
      broken: `${present}NOT regexp_full_match(${str}, ${quoteString(f.pattern)})`,
      field: path,
      rule: 'pattern',
      message: `${quoteString(`'`)} || left(${str}, 60) || ${quoteString(`' does not match ${f.pattern}`)}`,
    });
  }
  // A timestamp's bounds compare instants; its text is quoted in the message.
  const value = f.type === 'timestamp' ? timestampSql(str) : num;
  const shown = f.type === 'timestamp' ? quoted : `${ref}::VARCHAR`;
  const [below, above] = f.type === 'timestamp' ? ['before', 'after'] : ['below', 'above'];
  if (f.min !== undefined) {
    checks.push({
      broken: `${present}${value} < ${bound(f, f.min)}`,
      field: path,
      rule: 'min',
      message: `${shown} || ${quoteString(` is ${below} the minimum ${f.min}`)}`,
    });
  }
  if (f.max !== undefined) {
    checks.push({
      broken: `${present}${value} > ${bound(f, f.max)}`,
      field: path,
      rule: 'max',
      message: `${shown} || ${quoteString(` is ${above} the maximum ${f.max}`)}`,
    });
  }
  if (f.decimals !== undefined) {
    checks.push({
      broken: `${present}${tooManyDecimals(num, f.decimals)}`,
      field: path,
      rule: 'decimals',
      message: `${ref}::VARCHAR || ${quoteString(` has more than ${f.decimals} decimal places`)}`,
    });
  }
  if (f.precision !== undefined) {
    checks.push({
      broken: `${present}abs(${num}) >= ${decimalLimit(f)}`,
      field: path,
      rule: 'precision',
      message: `${ref}::VARCHAR || ${quoteString(` has more than ${f.precision - (f.decimals ?? 0)} digits before the point (DECIMAL(${f.precision}, ${f.decimals ?? 0}))`)}`,
    });
  }
  if (f.minItems !== undefined) {
    checks.push({
      broken: `${present}json_array_length(${ref}) < ${f.minItems}`,
      field: path,
      rule: 'minItems',
      message: `json_array_length(${ref})::VARCHAR || ${quoteString(` elements, at least ${f.minItems} required`)}`,
    });
  }
  if (f.items) {
    // Each element's fields as JSON fragments; a rule is broken if any element breaks it.
    const elems = `from_json(${ref}, ${quoteString(`[${jsonStructShape(f.items)}]`)})`;
    for (const sub of f.items) {
      for (const c of fieldChecks(sub, `x.${quoteIdent(sub.name)}`, `${path}[].${sub.name}`)) {
        checks.push({
          broken: `${present}list_bool_or(list_transform(${elems}, x -> coalesce(${c.broken}, false)))`,
          field: c.field,
          rule: c.rule,
          message: `'element ' || list_position(list_transform(${elems}, x -> coalesce(${c.broken}, false)), true)::VARCHAR || ': ' || list_filter(list_transform(${elems}, x -> CASE WHEN coalesce(${c.broken}, false) THEN ${c.message} END), m -> m IS NOT NULL)[1]`,
        });
      }
    }
  }
  return checks;
}

function jsonStructShape(fields: readonly FieldSpec[]): string {
  return `{${fields.map((f) => `${JSON.stringify(f.name)}:"JSON"`).join(',')}}`;
}

export interface CompiledContract {
  /** `read_json` column type of the record for the fast path. */
  readType: string;
  /**
   * The relation `validRow` and `typedColumns` read, over a relation with the fast
   * path's `v`: the relation itself, or with columns derived from `v` once for both (a
   * timestamp's parsed value; DuckDB does not share an expression between a select-list
   * item and a condition nested in another, so inline it would be computed twice).
   */
  from(relation: string): string;
  /** SQL over the fast path's `v`: true when the record passes every rule. */
  validRow: string;
  /** SQL select-list items `typed_expr AS "name"` over the fast path's `v`, for valid records. */
  typedColumns: string[];
  /** `read_json` column type of the record for the precise path (every field a JSON fragment). */
  preciseType: string;
  /**
   * SQL over the precise path's `v`: NULL for a valid record, or a STRUCT(field, rule,
   * message) naming the first rule the record breaks.
   */
  violation: string;
  /** The record's top-level field names, in contract order. */
  fieldNames: string[];
  /** The strict check of a record's bytes (JSON well-formedness and JSON types), run before DuckDB reads them. */
  strict: StrictJsonChecker;
}

/**
 * The rules of a contract as rejected records name them (`field`, `rule`), in the order
 * the precise check tries them: fields in contract order, each field's rules in order;
 * an array's element fields as `items[].name`.
 */
export function contractRules(c: DataContract): Array<{ field: string; rule: string }> {
  const out: Array<{ field: string; rule: string }> = [];
  const seen = new Set<string>();
  for (const f of c.fields) {
    for (const k of fieldChecks(f, 'v', f.name)) {
      const key = `${k.field}\u0000${k.rule}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ field: k.field, rule: k.rule });
    }
  }
  return out;
}

export function compileContract(c: DataContract, row = 'v'): CompiledContract {
  checkContract(c);
  const ref = (f: FieldSpec) => `${row}.${quoteIdent(f.name)}`;
  const checks = c.fields.flatMap((f) => fieldChecks(f, ref(f), f.name));
  const whens = checks.map(
    (k) =>
      `WHEN ${k.broken} THEN {'field': ${quoteString(k.field)}, 'rule': ${quoteString(k.rule)}, 'message': ${k.message}}`,
  );
  // Top-level timestamps, parsed once per row (nested ones, in arrays, are inline twice).
  const derived = c.fields
    .filter((f) => f.type === 'timestamp')
    .map((f) => `${timestampSql(ref(f))} AS ${quoteIdent(`__ts_${f.name}`)}`);
  const parsed = (f: FieldSpec) => (f.type === 'timestamp' ? quoteIdent(`__ts_${f.name}`) : undefined);
  return {
    readType: typedStructType(c.fields),
    from: (relation) =>
      derived.length === 0 ? relation : `(SELECT *, ${derived.join(', ')} FROM ${relation})`,
    validRow: `${row} IS NOT NULL AND ${c.fields.map((f) => fastCheck(f, ref(f), parsed(f))).join(' AND ')}`,
    typedColumns: c.fields.map((f) => `${typedFromRead(f, ref(f), parsed(f))} AS ${quoteIdent(f.name)}`),
    preciseType: jsonStructType(c),
    fieldNames: c.fields.map((f) => f.name),
    strict: new StrictJsonChecker(c),
    violation: `CASE WHEN ${row} IS NULL THEN {'field': '', 'rule': 'json', 'message': 'not a JSON object'} ${whens.join(' ')} END`,
  };
}
