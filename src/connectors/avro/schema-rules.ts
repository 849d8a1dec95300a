/**
 * The rules of the Avro specification a schema must keep, checked over its JSON so a
 * broken schema is refused with where it breaks them: avsc refuses the same schemas
 * but says only what is wrong ("undefined type name: strin"), not where.
 *
 * Kept in step with avsc 5.7 (the parser behind `parseSchema`): what this refuses avsc
 * refuses too, and the reverse (test/connectors/avro/schema.test.ts checks both on a
 * table of broken schemas). Where avsc and the specification differ we follow avsc,
 * because a schema avsc cannot parse is of no use to us; docs/registry.md lists those
 * places (invalid aliases, empty enums, union defaults of a branch other than the first).
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const PRIMITIVES: ReadonlySet<string> = new Set([
  'null',
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'bytes',
  'string',
]);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const COMPLEX = new Set(['record', 'error', 'enum', 'fixed', 'array', 'map']);
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;
const LONG_SAFE = 2 ** 53 - 2;

/** A checked type, resolved far enough to check defaults against it. */
export type Checked =
  | { kind: 'primitive'; name: string }
  | { kind: 'record'; fullName: string; fields: CheckedField[] }
  | { kind: 'enum'; fullName: string; symbols: string[] }
  | { kind: 'fixed'; fullName: string; size: number }
  | { kind: 'array'; items: Checked }
  | { kind: 'map'; values: Checked }
  | { kind: 'union'; branches: Checked[] };

export interface CheckedField {
  name: string;
  type: Checked;
  hasDefault: boolean;
  default?: Json;
}

/** A rule broken: where (a path such as `sales_event.amount`, empty at the top) and what. */
export class SchemaRuleError extends Error {
  readonly where: string;
  readonly what: string;
  constructor(where: string, what: string) {
    super(where ? `at '${where}': ${what}` : what);
    this.where = where;
    this.what = what;
  }
}

interface Walk {
  named: Map<string, Checked>;
  /** Default checks, run once every type is known (a default may use a later name). */
  pending: (() => void)[];
}

/** Checks `schema` (parsed JSON) against the rules; throws SchemaRuleError at the first broken one. */
export function checkSchema(schema: unknown): Checked {
  const walk: Walk = { named: new Map(), pending: [] };
  const type = checkType(schema, '', '', walk);
  for (const check of walk.pending) check();
  return type;
}

/** The full name `name` stands for in namespace `ns` (a dotted name is full already). */
export function fullName(name: string, ns: string): string {
  if (name.includes('.')) return name.replace(/^\./, '');
  return ns ? `${ns}.${name}` : name;
}

/** The namespace part of a full name ('' when it has none). */
export function namespaceOf(full: string): string {
  const dot = full.lastIndexOf('.');
  return dot < 0 ? '' : full.slice(0, dot);
}

export function unqualified(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

function join(where: string, part: string): string {
  return where ? `${where}.${part}` : part;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkType(node: unknown, ns: string, where: string, walk: Walk): Checked {
  if (typeof node === 'string') return reference(node, ns, where, walk);
  if (Array.isArray(node)) return checkUnion(node, ns, where, walk);
  if (!isObject(node)) {
    const hint = node === null ? ' (did you mean "null", in quotes?)' : '';
    throw new SchemaRuleError(
      where,
      `a schema is a type name, a JSON object or an array (a union), not ${JSON.stringify(node)}${hint}`,
    );
  }
  const type = node.type;
  if (type === undefined) throw new SchemaRuleError(where, `missing "type" in ${brief(node)}`);
  if (typeof type !== 'string') {
    throw new SchemaRuleError(
      where,
      `"type" must be a string (a primitive type or record, enum, fixed, array, map), not ${brief(type)}`,
    );
  }
  if (PRIMITIVES.has(type)) return { kind: 'primitive', name: type };
  switch (type) {
    case 'record':
    case 'error':
      return checkRecord(node, ns, where, walk);
    case 'enum':
      return checkEnum(node, ns, where, walk);
    case 'fixed':
      return checkFixed(node, ns, where, walk);
    case 'array':
      if (node.items === undefined) throw new SchemaRuleError(where, 'an array needs "items", its item type');
      return { kind: 'array', items: checkType(node.items, ns, `${where}[]`, walk) };
    case 'map':
      if (node.values === undefined) throw new SchemaRuleError(where, 'a map needs "values", its value type');
      return { kind: 'map', values: checkType(node.values, ns, `${where}{}`, walk) };
  }
  if (walk.named.has(fullName(type, ns))) {
    throw new SchemaRuleError(
      where,
      `{"type": "${type}"} cannot refer to a named type: write "${type}" alone`,
    );
  }
  throw new SchemaRuleError(where, unknownName(type, ns, walk));
}

function reference(name: string, ns: string, where: string, walk: Walk): Checked {
  // avsc reads a name whose last part is a primitive as that primitive ("x.int" is int).
  if (PRIMITIVES.has(unqualified(name))) return { kind: 'primitive', name: unqualified(name) };
  const found = walk.named.get(fullName(name, ns));
  if (found) return found;
  if (COMPLEX.has(name)) {
    throw new SchemaRuleError(where, `"${name}" is not a type by itself: write {"type": "${name}", ...}`);
  }
  throw new SchemaRuleError(where, unknownName(name, ns, walk));
}

function unknownName(name: string, ns: string, walk: Walk): string {
  const full = fullName(name, ns);
  const known = [...PRIMITIVES, ...COMPLEX, ...walk.named.keys()];
  const distance = (k: string) => Math.min(editDistance(k, name), editDistance(k, full));
  const close = known.filter((k) => distance(k) <= 2).sort((a, b) => distance(a) - distance(b))[0];
  const lookedUp = full !== name ? ` (looked up as '${full}')` : '';
  const hint = close ? `; did you mean '${close}'?` : '';
  return `unknown type name '${name}'${lookedUp}: not a primitive type, and no named type of that name is defined before this point${hint}`;
}

function checkUnion(branches: unknown[], ns: string, where: string, walk: Walk): Checked {
  if (branches.length === 0) throw new SchemaRuleError(where, 'a union needs at least one branch');
  const seen = new Map<string, number>();
  const checked = branches.map((branch, i) => {
    const at = `${where} (union branch ${i + 1})`;
    if (Array.isArray(branch)) throw new SchemaRuleError(at, 'a union cannot hold a union directly');
    const type = checkType(branch, ns, at, walk);
    const key = 'fullName' in type ? type.fullName : type.kind === 'primitive' ? type.name : type.kind;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new SchemaRuleError(
        at,
        `the union holds ${key} twice (branches ${earlier + 1} and ${i + 1}); a union may hold each unnamed type once, and named types of distinct names`,
      );
    }
    seen.set(key, i);
    return type;
  });
  return { kind: 'union', branches: checked };
}

/** Checks and registers the name of a record, enum or fixed; gives its full name. */
function defineName(node: Record<string, unknown>, kind: string, ns: string, where: string, walk: Walk) {
  const { name, namespace } = node;
  if (typeof name !== 'string') {
    throw new SchemaRuleError(where, `a ${kind} needs a "name" (a string), found ${brief(name)}`);
  }
  if (namespace !== undefined && namespace !== null && typeof namespace !== 'string') {
    throw new SchemaRuleError(where, `"namespace" must be a string, not ${brief(namespace)}`);
  }
  // A null namespace is the null (empty) one, as in avsc; an absent one is inherited.
  const space = typeof namespace === 'string' ? namespace : namespace === null ? '' : ns;
  const full = fullName(name, space);
  const at = where || unqualified(full);
  if (!full.split('.').every((part) => NAME.test(part))) {
    throw new SchemaRuleError(
      at,
      `invalid name '${full}': each dot-separated part starts with a letter or _ and holds only letters, digits and _`,
    );
  }
  if (PRIMITIVES.has(unqualified(full))) {
    throw new SchemaRuleError(
      at,
      `a ${kind} cannot be named '${unqualified(full)}', a primitive type's name`,
    );
  }
  if (walk.named.has(full)) throw new SchemaRuleError(at, `the name '${full}' is defined twice`);
  const aliases = node.aliases;
  if (aliases !== undefined) {
    if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== 'string')) {
      throw new SchemaRuleError(at, `"aliases" must be an array of strings, not ${brief(aliases)}`);
    }
    for (const alias of aliases as string[]) {
      const fullAlias = fullName(alias, namespaceOf(full));
      if (!fullAlias.split('.').every((part) => NAME.test(part))) {
        throw new SchemaRuleError(
          at,
          `invalid alias '${alias}': aliases must be valid names (avsc refuses others)`,
        );
      }
    }
  }
  return { full, at };
}

function checkRecord(node: Record<string, unknown>, ns: string, where: string, walk: Walk): Checked {
  const { full, at } = defineName(node, 'record', ns, where, walk);
  const fields = node.fields;
  if (!Array.isArray(fields)) {
    throw new SchemaRuleError(
      at,
      `a record needs "fields", an array (it may be empty), found ${brief(fields)}`,
    );
  }
  const record: Checked = { kind: 'record', fullName: full, fields: [] };
  walk.named.set(full, record); // before the fields: a field may refer to its own record
  const inner = namespaceOf(full);
  for (const [i, field] of fields.entries()) {
    if (!isObject(field))
      throw new SchemaRuleError(at, `field ${i + 1} is not a JSON object: ${brief(field)}`);
    const name = field.name;
    if (typeof name !== 'string') throw new SchemaRuleError(at, `field ${i + 1} has no "name"`);
    const fieldAt = join(at, name);
    if (!NAME.test(name)) {
      throw new SchemaRuleError(
        fieldAt,
        `invalid field name '${name}': it starts with a letter or _ and holds only letters, digits and _`,
      );
    }
    if (record.fields.some((f) => f.name === name)) {
      throw new SchemaRuleError(fieldAt, `the field '${name}' appears twice in record '${full}'`);
    }
    if (field.type === undefined) throw new SchemaRuleError(fieldAt, 'the field has no "type"');
    const type = checkType(field.type, inner, fieldAt, walk);
    const order = field.order;
    if (order !== undefined && order !== 'ascending' && order !== 'descending' && order !== 'ignore') {
      throw new SchemaRuleError(fieldAt, `"order" is ascending, descending or ignore, not ${brief(order)}`);
    }
    const aliases = field.aliases;
    if (aliases !== undefined && (!Array.isArray(aliases) || aliases.some((a) => typeof a !== 'string'))) {
      throw new SchemaRuleError(fieldAt, `"aliases" must be an array of strings, not ${brief(aliases)}`);
    }
    const hasDefault = field.default !== undefined;
    const value = field.default as Json;
    record.fields.push({ name, type, hasDefault, ...(hasDefault ? { default: value } : {}) });
    if (hasDefault) walk.pending.push(() => checkFieldDefault(type, value, fieldAt));
  }
  return record;
}

function checkEnum(node: Record<string, unknown>, ns: string, where: string, walk: Walk): Checked {
  const { full, at } = defineName(node, 'enum', ns, where, walk);
  const symbols = node.symbols;
  if (!Array.isArray(symbols) || symbols.length === 0) {
    throw new SchemaRuleError(
      at,
      `an enum needs "symbols", a non-empty array of names, found ${brief(symbols)}`,
    );
  }
  const seen = new Set<string>();
  for (const symbol of symbols) {
    if (typeof symbol !== 'string' || !NAME.test(symbol)) {
      throw new SchemaRuleError(
        at,
        `invalid symbol ${brief(symbol)} in enum '${full}': symbols start with a letter or _ and hold only letters, digits and _`,
      );
    }
    if (seen.has(symbol))
      throw new SchemaRuleError(at, `the symbol '${symbol}' appears twice in enum '${full}'`);
    seen.add(symbol);
  }
  if (node.default !== undefined && !seen.has(node.default as string)) {
    throw new SchemaRuleError(at, `the enum's default ${brief(node.default)} is not one of its symbols`);
  }
  const type: Checked = { kind: 'enum', fullName: full, symbols: symbols as string[] };
  walk.named.set(full, type);
  return type;
}

function checkFixed(node: Record<string, unknown>, ns: string, where: string, walk: Walk): Checked {
  const { full, at } = defineName(node, 'fixed', ns, where, walk);
  const size = node.size;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || size > INT_MAX) {
    throw new SchemaRuleError(
      at,
      `a fixed needs "size", a whole number of bytes (0 or more), found ${brief(size)}`,
    );
  }
  const type: Checked = { kind: 'fixed', fullName: full, size };
  walk.named.set(full, type);
  return type;
}

function checkFieldDefault(type: Checked, value: Json, where: string): void {
  const wrong = defaultProblem(type, value, '');
  if (!wrong) return;
  const inside = wrong.at ? ` (at ${wrong.at} inside it)` : '';
  let what = `the default ${brief(value)} does not fit the field's type ${describe(type)}${inside}: expected ${wrong.expected}, found ${brief(wrong.found)}`;
  if (type.kind === 'union' && !wrong.at) {
    const fits = type.branches.findIndex((b) => !defaultProblem(b, value, ''));
    if (fits > 0) {
      what = `the default ${brief(value)} of a union field must be a value of the union's first branch (${describe(type.branches[0]!)}), as Avro 1.11 and avsc require: put ${describe(type.branches[fits]!)} first, or change the default`;
    }
  }
  throw new SchemaRuleError(where, what);
}

interface DefaultProblem {
  at: string;
  expected: string;
  found: unknown;
}

/** Why `value` (JSON) is not a default of `type`, per the specification's table of default values. */
function defaultProblem(type: Checked, value: Json, at: string): DefaultProblem | undefined {
  const bad = (expected: string) => ({ at, expected, found: value });
  switch (type.kind) {
    case 'primitive':
      return primitiveProblem(type.name, value) === undefined
        ? undefined
        : bad(primitiveProblem(type.name, value)!);
    case 'enum':
      return typeof value === 'string' && type.symbols.includes(value)
        ? undefined
        : bad(`one of the symbols ${type.symbols.join(', ')}`);
    case 'fixed':
      return typeof value === 'string' && value.length === type.size && isLatin1(value)
        ? undefined
        : bad(`a JSON string of exactly ${type.size} characters, each a code point 0-255`);
    case 'array': {
      if (!Array.isArray(value)) return bad('a JSON array');
      for (const [i, item] of value.entries()) {
        const p = defaultProblem(type.items, item, `${at}[${i}]`);
        if (p) return p;
      }
      return undefined;
    }
    case 'map': {
      if (!isObject(value)) return bad('a JSON object');
      for (const [key, item] of Object.entries(value)) {
        const p = defaultProblem(type.values, item as Json, `${at}[${JSON.stringify(key)}]`);
        if (p) return p;
      }
      return undefined;
    }
    case 'record': {
      if (!isObject(value)) return bad(`a JSON object with the fields of record '${type.fullName}'`);
      for (const field of type.fields) {
        const sub = `${at}.${field.name}`;
        if (field.name in value) {
          const p = defaultProblem(field.type, value[field.name] as Json, sub);
          if (p) return p;
        } else if (!field.hasDefault) {
          return {
            at: sub,
            expected: `a value (the field '${field.name}' has no default)`,
            found: undefined,
          };
        }
      }
      return undefined;
    }
    case 'union':
      // Avro 1.11 and avsc: a union's default is a value of its first branch.
      return defaultProblem(type.branches[0]!, value, at);
  }
}

function primitiveProblem(name: string, value: Json): string | undefined {
  switch (name) {
    case 'null':
      return value === null ? undefined : 'null';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'true or false';
    case 'int':
      return Number.isInteger(value) && (value as number) >= INT_MIN && (value as number) <= INT_MAX
        ? undefined
        : 'a JSON integer from -2147483648 to 2147483647';
    case 'long':
      // avsc holds longs as JavaScript numbers and refuses a default past ±(2^53 - 2).
      return Number.isInteger(value) && Math.abs(value as number) <= LONG_SAFE
        ? undefined
        : 'a JSON integer within ±9007199254740990';
    case 'float':
    case 'double':
      return typeof value === 'number' ? undefined : 'a JSON number';
    case 'bytes':
      return typeof value === 'string' && isLatin1(value)
        ? undefined
        : 'a JSON string of code points 0-255, one per byte';
    default:
      return typeof value === 'string' ? undefined : 'a JSON string';
  }
}

function isLatin1(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 255) return false;
  return true;
}

/** A checked type in words: `int`, `record 'sales_event'`, `array of long`, `union [null, string]`. */
export function describe(type: Checked): string {
  switch (type.kind) {
    case 'primitive':
      return type.name;
    case 'record':
    case 'enum':
    case 'fixed':
      return `${type.kind} '${type.fullName}'`;
    case 'array':
      return `array of ${describe(type.items)}`;
    case 'map':
      return `map of ${describe(type.values)}`;
    case 'union':
      return `union [${type.branches.map(describe).join(', ')}]`;
  }
}

/** A JSON value shortened for a message. */
function brief(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
