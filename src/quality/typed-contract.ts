/**
 * A data contract's rules over columns that are typed already (a decoder that knows the
 * types, as Avro's does, rather than JSON text): no type checks, the same rules as the
 * JSON path (contract.ts) with the same names and messages, compiled to SQL over a whole
 * batch.
 *
 * A decoded value is null only when the record holds null (a field the writer lacked has
 * its default); `required` says what the JSON path says of a null.
 */
import { quoteIdent, quoteString } from '../core/sql.ts';
import { bound, decimalLimit, type FieldSpec, tooManyDecimals } from './contract.ts';

/** A field of the contract and the DuckDB type its decoded column has. */
export interface TypedField {
  spec: FieldSpec;
  /** `VARCHAR`, `BIGINT`, `DOUBLE`, `BOOLEAN`, `TIMESTAMPTZ` or `DECIMAL(p,s)`. */
  decoded: string;
}

export interface TypedContract {
  /** SQL over the decoded columns (by field name): true when the record passes every rule. */
  validRow: string;
  /** SQL: NULL for a valid record, else STRUCT(field, rule, message) naming the first rule it breaks. */
  violation: string;
  /**
   * Select-list items `expr AS "name"`: each field as the JSON path types it (a number
   * with `precision` as DECIMAL(precision, decimals)).
   */
  outputs: string[];
  /** The rules it checks (field and rule), in the order it checks them, each once. */
  rules: Array<{ field: string; rule: string }>;
}

interface Check {
  broken: string;
  field: string;
  rule: string;
  message: string;
}

/** The value of a TIMESTAMPTZ as RFC 3339 text in UTC (whatever the session's time zone). */
function timestampText(ref: string): string {
  return `strftime(make_timestamp(epoch_us(${ref})), '%Y-%m-%dT%H:%M:%S.%fZ')`;
}

function checks(f: TypedField): Check[] {
  const s = f.spec;
  const ref = quoteIdent(s.name);
  const out: Check[] = [];
  const add = (rule: string, broken: string, message: string) =>
    out.push({ broken, field: s.name, rule, message });
  if (s.required ?? true) add('required', `${ref} IS NULL`, `'field is missing or null'`);
  const quoted = `${quoteString(`'`)} || left(${ref}, 60) || ${quoteString(`'`)}`;
  if (s.enum) {
    add(
      'enum',
      `${ref} NOT IN (${s.enum.map(quoteString).join(', ')})`,
      `${quoteString(`'`)} || left(${ref}, 60) || ${quoteString(`' is not one of ${s.enum.join(', ')}`)}`,
    );
  }
  if (s.notEmpty) add('not_empty', `trim(${ref}) = ''`, `'field is empty'`);
  if (s.pattern !== undefined) {
    add(
      'pattern',
      `NOT regexp_full_match(${ref}, ${quoteString(s.pattern)})`,
      `${quoted} || ${quoteString(` does not match ${s.pattern}`)}`,
    );
  }
  const ts = s.type === 'timestamp';
  const shown = ts
    ? `${quoteString(`'`)} || ${timestampText(ref)} || ${quoteString(`'`)}`
    : `${ref}::VARCHAR`;
  const [below, above] = ts ? ['before', 'after'] : ['below', 'above'];
  if (s.min !== undefined) {
    add(
      'min',
      `${ref} < ${bound(s, s.min)}`,
      `${shown} || ${quoteString(` is ${below} the minimum ${s.min}`)}`,
    );
  }
  if (s.max !== undefined) {
    add(
      'max',
      `${ref} > ${bound(s, s.max)}`,
      `${shown} || ${quoteString(` is ${above} the maximum ${s.max}`)}`,
    );
  }
  if (s.decimals !== undefined && f.decoded !== 'BIGINT') {
    const exact = f.decoded.startsWith('DECIMAL');
    add(
      'decimals',
      exact ? `round(${ref}, ${s.decimals}) <> ${ref}` : tooManyDecimals(ref, s.decimals),
      `${ref}::VARCHAR || ${quoteString(` has more than ${s.decimals} decimal places`)}`,
    );
  }
  if (s.precision !== undefined && !f.decoded.startsWith('DECIMAL')) {
    add(
      'precision',
      `abs(${ref}) >= ${decimalLimit(s)}`,
      `${ref}::VARCHAR || ${quoteString(` has more than ${s.precision - (s.decimals ?? 0)} digits before the point (DECIMAL(${s.precision}, ${s.decimals ?? 0}))`)}`,
    );
  }
  return out;
}

function output(f: TypedField): string {
  const s = f.spec;
  const ref = quoteIdent(s.name);
  if (s.precision !== undefined && !f.decoded.startsWith('DECIMAL')) {
    return `TRY_CAST(${ref} AS DECIMAL(${s.precision}, ${s.decimals ?? 0})) AS ${ref}`;
  }
  return ref;
}

export function compileTypedContract(fields: readonly TypedField[]): TypedContract {
  const all = fields.flatMap(checks);
  return {
    validRow:
      all.length === 0 ? 'true' : `NOT coalesce(${all.map((c) => `(${c.broken})`).join(' OR ')}, false)`,
    violation:
      all.length === 0
        ? 'NULL'
        : `CASE ${all
            .map(
              (c) =>
                `WHEN coalesce(${c.broken}, false) THEN {'field': ${quoteString(c.field)}, 'rule': ${quoteString(c.rule)}, 'message': ${c.message}}`,
            )
            .join(' ')} END`,
    outputs: fields.map(output),
    rules: all
      .map((c) => ({ field: c.field, rule: c.rule }))
      .filter((r, i, xs) => xs.findIndex((x) => x.field === r.field && x.rule === r.rule) === i),
  };
}

/** The DuckDB type the JSON path gives a field (and so a typed decoder must give it too). */
export function contractColumnType(s: FieldSpec): string {
  switch (s.type) {
    case 'string':
      return 'VARCHAR';
    case 'integer':
      return 'BIGINT';
    case 'number':
      return s.precision !== undefined ? `DECIMAL(${s.precision}, ${s.decimals ?? 0})` : 'DOUBLE';
    case 'boolean':
      return 'BOOLEAN';
    case 'timestamp':
      return 'TIMESTAMPTZ';
    default:
      return 'JSON';
  }
}
