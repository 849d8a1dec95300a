/**
 * Why a reader schema cannot read data written with a writer schema, in words that name
 * the field: a walk over both avsc types that follows Avro's schema resolution rule by
 * rule, in the order avsc's resolver applies them.
 *
 * The decision is not made here: compat.ts asks avsc's resolver, and uses these words
 * only to explain a refusal. The two must agree (an empty list exactly when avsc can
 * resolve), and test/connectors/avro/compat.test.ts checks that on every pair of its
 * table, both ways.
 */
import type avro from 'avsc';
import { isDecimal } from './compat-decimal.ts';

export interface ReadSide {
  /** backward: the new schema reads data of version `version`; forward: the reverse. */
  direction: 'backward' | 'forward';
  /** 1-based position of the earlier schema among the subject's versions. */
  version: number;
}

type T = avro.Type;

/** Can `reader` read all data written with `writer`? avsc's resolver decides. */
export function canResolve(reader: T, writer: T): boolean {
  try {
    // Names compare unqualified, as the specification says (avsc's default is strict).
    reader.createResolver(writer, { ignoreNamespaces: true });
    return true;
  } catch {
    return false;
  }
}

/** One message per problem that keeps `reader` from reading data of `writer`. */
export function explainResolution(reader: T, writer: T, side: ReadSide): string[] {
  const newer = side.direction === 'backward' ? reader : writer;
  const root = newer.name ? short(newer.name) : '';
  const walk = new Walk(side, root);
  walk.pair(reader, writer, root);
  return walk.messages;
}

class Walk {
  readonly messages: string[] = [];
  private readonly walking = new Set<string>();
  private readonly side: ReadSide;
  private readonly v: string;
  private readonly root: string;

  constructor(side: ReadSide, root: string) {
    this.side = side;
    this.v = `version ${side.version}`;
    this.root = root;
  }

  /** Where a named type sits, when the path is not just the top-level type. */
  private at(path: string): string {
    return path === this.root ? '' : ` (${this.subject(path)})`;
  }

  /** What a path names: a field, or the top-level type (an unnamed one has no field names). */
  private subject(path: string): string {
    if (path === this.root) return 'the top-level type';
    return /^[[{]/.test(path) ? `the top-level type at '${path}'` : `field '${path}'`;
  }

  private get backward(): boolean {
    return this.side.direction === 'backward';
  }

  /** Walks a reader/writer pair in the order avsc's resolver takes its decisions. */
  pair(reader: T, writer: T, path: string): void {
    if (isDecimal(reader) && isDecimal(writer)) {
      if (reader.precision !== writer.precision || reader.scale !== writer.scale) {
        this.decimal(reader, writer, path);
      }
    }
    if (isLogical(reader) && !isUnion(writer)) this.pair(underlying(reader), writer, path);
    else if (isLogical(writer)) this.pair(reader, underlying(writer), path);
    else if (isUnion(writer)) this.writerUnion(reader, writer, path);
    else if (isUnion(reader)) this.readerUnion(reader, writer, path);
    else if (kind(reader) !== kind(writer)) {
      if (!promotes(kind(writer), kind(reader))) this.mismatch(reader, writer, path);
    } else if (kind(reader) === 'record') {
      this.record(reader as avro.types.RecordType, writer as avro.types.RecordType, path);
    } else if (kind(reader) === 'enum') {
      this.enumeration(reader as avro.types.EnumType, writer as avro.types.EnumType, path);
    } else if (kind(reader) === 'fixed') {
      this.fixed(reader as avro.types.FixedType, writer as avro.types.FixedType, path);
    } else if (kind(reader) === 'array') {
      const [r, w] = [reader as avro.types.ArrayType, writer as avro.types.ArrayType];
      this.pair(r.itemsType, w.itemsType, `${path}[]`);
    } else if (kind(reader) === 'map') {
      const [r, w] = [reader as avro.types.MapType, writer as avro.types.MapType];
      this.pair(r.valuesType, w.valuesType, `${path}{}`);
    }
  }

  /** Every branch the writer may have written must be readable (avsc and Avro Java agree). */
  private writerUnion(reader: T, writer: T, path: string): void {
    for (const branch of branches(writer)) {
      if (canResolve(reader, branch)) continue;
      const like = isUnion(reader) ? branches(reader).find((r) => alike(r, branch)) : reader;
      if (like && alike(like, branch)) this.pair(like, branch, path);
      else if (this.backward) {
        this.say(
          `${this.subject(path)} no longer accepts ${describe(branch)}, which ${this.v} may have written`,
        );
      } else {
        this.say(`${this.subject(path)} now accepts ${describe(branch)}, which ${this.v} cannot read`);
      }
    }
  }

  /** The writer's type must be readable by some branch of the reader's union. */
  private readerUnion(reader: T, writer: T, path: string): void {
    if (canResolve(reader, writer)) return;
    const like = branches(reader).find((r) => alike(r, writer));
    if (like) this.pair(like, writer, path);
    else this.mismatch(reader, writer, path);
  }

  private record(reader: avro.types.RecordType, writer: avro.types.RecordType, path: string): void {
    if (!this.sameName(reader, writer, path)) return;
    // A recursive type meets the same pair again inside itself: walked once on a path.
    // (A pair met again in a sibling field is walked again, so each field is named.)
    const key = `${reader.name}\u0000${writer.name}`;
    if (this.walking.has(key)) return;
    this.walking.add(key);
    this.fields(reader, writer, path);
    this.walking.delete(key);
  }

  private fields(reader: avro.types.RecordType, writer: avro.types.RecordType, path: string): void {
    const writerFields = new Map(writer.fields.map((f) => [f.name, f]));
    for (const field of reader.fields) {
      const names = [...new Set([field.name, ...field.aliases])].filter((n) => writerFields.has(n));
      if (names.length > 1) {
        this.say(
          this.backward
            ? `field '${join(path, field.name)}' and its aliases match ${names.length} fields of ${this.v} (${quoted(names)}): keep one`
            : `field '${join(path, field.name)}' of ${this.v} matches ${names.length} fields of the new schema through its aliases (${quoted(names)})`,
        );
      } else if (names.length === 1) {
        const match = writerFields.get(names[0]!)!;
        this.pair(field.type, match.type, join(path, this.backward ? field.name : match.name));
      } else if (field.defaultValue() === undefined) {
        this.say(
          this.backward
            ? `field '${join(path, field.name)}' was added without a default: data written with ${this.v} has no value for it`
            : `field '${join(path, field.name)}' was removed, but ${this.v} has no default for it: ${this.v} cannot read data written with the new schema`,
        );
      }
    }
  }

  private enumeration(reader: avro.types.EnumType, writer: avro.types.EnumType, path: string): void {
    if (!this.sameName(reader, writer, path)) return;
    if ((reader as unknown as { default?: string }).default !== undefined) return;
    const unknown = writer.symbols.filter((s) => !reader.symbols.includes(s));
    if (unknown.length === 0) return;
    const which = `${unknown.length > 1 ? 'symbols' : 'symbol'} ${quoted(unknown)}`;
    const name = `enum '${short(reader.name!)}'${this.at(path)}`;
    this.say(
      this.backward
        ? `${name} no longer has ${which}, which ${this.v} may have written (an enum default would read unknown symbols as it)`
        : `${name} has new ${which}, which ${this.v} cannot read (it has no enum default)`,
    );
  }

  private fixed(reader: avro.types.FixedType, writer: avro.types.FixedType, path: string): void {
    if (!this.sameName(reader, writer, path)) return;
    if (reader.size === writer.size) return;
    const [from, to] = this.backward ? [writer.size, reader.size] : [reader.size, writer.size];
    this.say(
      `fixed '${short(reader.name!)}'${this.at(path)} changed size from ${from} bytes (${this.v}) to ${to}: ${writer.size}-byte values cannot be read as ${reader.size} bytes`,
    );
  }

  /** Records, enums and fixed match by unqualified name, or a reader alias of the writer's name. */
  private sameName(reader: T, writer: T, path: string): boolean {
    const wanted = short(writer.name!);
    const names = [reader.name!, ...(reader.aliases ?? [])].map(short);
    if (names.includes(wanted)) return true;
    const what = `${kind(reader)} '${short((this.backward ? writer : reader).name!)}'${this.at(path)}`;
    const renamed = `'${short((this.backward ? reader : writer).name!)}'`;
    this.say(
      this.backward
        ? `${what} was renamed to ${renamed}: data written with ${this.v} is a '${wanted}'; give the new ${kind(reader)} the alias '${wanted}'`
        : `${what} was renamed to ${renamed}: ${this.v} reads only '${short(reader.name!)}'${reader.aliases?.length ? ` and its aliases` : ''}`,
    );
    return false;
  }

  private mismatch(reader: T, writer: T, path: string): void {
    const [r, w] = [describe(reader), describe(writer)];
    const as = isUnion(reader) ? `any branch of ${r}` : article(r);
    this.say(
      this.backward
        ? `${this.subject(path)} changed from ${w} (${this.v}) to ${r}: ${article(w)} cannot be read as ${as}`
        : `${this.subject(path)} changed from ${r} (${this.v}) to ${w}: ${article(w)} cannot be read as ${as}, as ${this.v} reads it`,
    );
  }

  private decimal(reader: T, writer: T, path: string): void {
    const d = (t: T) => (isDecimal(t) ? `decimal(${t.precision}, ${t.scale})` : '');
    const [from, to] = this.backward ? [d(writer), d(reader)] : [d(reader), d(writer)];
    const scale = isDecimal(reader) && isDecimal(writer) && reader.scale !== writer.scale;
    this.say(
      `${this.subject(path)} changed from ${from} (${this.v}) to ${to}: the Avro specification reads a decimal only as a decimal of the same precision and scale${scale ? ' (with another scale every value would be misread)' : ''}`,
    );
  }

  private say(message: string): void {
    if (!this.messages.includes(message)) this.messages.push(message);
  }
}

/** The Avro kind of a type: a primitive's name, record, enum, fixed, array, map, union. */
function kind(type: T): string {
  const name = type.typeName;
  if (name.startsWith('union')) return 'union';
  if (name === 'error') return 'record';
  return name;
}

function isUnion(type: T): boolean {
  return type.typeName.startsWith('union');
}

function isLogical(type: T): boolean {
  return type.typeName.startsWith('logical:');
}

function underlying(type: T): T {
  return (type as avro.types.LogicalType).underlyingType;
}

function branches(type: T): T[] {
  return (type as avro.types.UnwrappedUnionType).types;
}

/** The specification's promotions: int to long, float, double; long to float, double; float to double; string and bytes both ways. */
function promotes(writer: string, reader: string): boolean {
  const to: Record<string, string[]> = {
    int: ['long', 'float', 'double'],
    long: ['float', 'double'],
    float: ['double'],
    string: ['bytes'],
    bytes: ['string'],
  };
  return to[writer]?.includes(reader) ?? false;
}

/** Would the two match at their top (same kind and name, or a promotion) so a deeper walk explains why they do not resolve? */
function alike(reader: T, writer: T): boolean {
  const [r, w] = [
    isLogical(reader) ? underlying(reader) : reader,
    isLogical(writer) ? underlying(writer) : writer,
  ];
  if (kind(r) !== kind(w)) return promotes(kind(w), kind(r));
  if (r.name === undefined || w.name === undefined) return true;
  return [r.name, ...(r.aliases ?? [])].map(short).includes(short(w.name));
}

/** A type in words: `int`, `record 'sales_event'`, `array of long`, `union [null, string]`, `decimal(10, 2)`. */
export function describe(type: T): string {
  if (isDecimal(type)) return `decimal(${type.precision}, ${type.scale})`;
  if (isLogical(type)) return describe(underlying(type));
  switch (kind(type)) {
    case 'record':
    case 'enum':
      return `${kind(type)} '${short(type.name!)}'`;
    case 'fixed':
      return `fixed '${short(type.name!)}' (${(type as avro.types.FixedType).size} bytes)`;
    case 'array':
      return `array of ${describe((type as avro.types.ArrayType).itemsType)}`;
    case 'map':
      return `map of ${describe((type as avro.types.MapType).valuesType)}`;
    case 'union':
      return `union [${branches(type).map(describe).join(', ')}]`;
    default:
      return kind(type);
  }
}

function article(text: string): string {
  return /^[aeio]/.test(text) ? `an ${text}` : `a ${text}`;
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function short(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

function quoted(names: string[]): string {
  return names.map((n) => `'${n}'`).join(', ');
}
