/**
 * Malformed input made from valid input: seeded mutations of a record's bytes, for the
 * fuzz tests of decoding (test/quality/strict-fuzz.test.ts, bench/decode-fuzz.ts) and
 * for anyone who wants to see what the dead-letter queue does with bad data.
 *
 * Each mutation names its kind. Most kinds break the record (truncation, bit flips,
 * injected bytes and control characters, content after the object, invalid UTF-8, wrong
 * JSON types, huge strings and numbers, deep nesting, duplicate keys, empty and null
 * values); some keep it valid in a form a careless reader gets wrong (whitespace and line
 * breaks between tokens, escaped keys, extra fields, 1.0 for an integer). Whether a
 * mutated record is valid is not decided here: the tests ask an independent oracle.
 */
import type { Rng } from './rng.ts';

export const MUTATION_KINDS = [
  'truncate',
  'bit-flip',
  'inject-byte',
  'inject-control',
  'trailing-content',
  'invalid-utf8',
  'wrong-type',
  'huge-string',
  'huge-number',
  'deep-nesting',
  'duplicate-key',
  'empty',
  'null',
  'not-an-object',
  'bad-escape',
  'non-json-number',
  'trailing-comma',
  'pretty-printed',
  'escaped-key',
  'extra-field',
  'integral-float',
] as const;

export type MutationKind = (typeof MUTATION_KINDS)[number];

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A copy of `good` changed by one mutation of `kind` (random by default). */
export function mutate(
  rng: Rng,
  good: Uint8Array,
  kind: MutationKind = rng.pick(MUTATION_KINDS),
): { kind: MutationKind; value: Uint8Array } {
  return { kind, value: apply(rng, good, kind) };
}

function apply(rng: Rng, good: Uint8Array, kind: MutationKind): Uint8Array {
  const text = dec.decode(good);
  const at = (n: number) => rng.int(Math.max(1, n));
  switch (kind) {
    case 'truncate':
      return good.slice(0, at(good.length));
    case 'bit-flip': {
      const out = good.slice();
      const flips = 1 + rng.int(3);
      for (let k = 0; k < flips; k++) out[at(out.length)] ^= 1 << rng.int(8);
      return out;
    }
    case 'inject-byte':
      return splice(good, at(good.length + 1), Uint8Array.of(rng.int(256)));
    case 'inject-control':
      // Inside a string when the position falls in one (most of a record is strings).
      return splice(
        good,
        insideString(rng, text, good),
        Uint8Array.of(rng.pick([0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1f, 0x7f])),
      );
    case 'trailing-content':
      return concat(
        good,
        enc.encode(rng.pick([', "extra": 1', '{}', ' 1', '}', ']', '\n{"a":1}', ' x', ','])),
      );
    case 'invalid-utf8': {
      const bad = rng.pick([
        [0xff],
        [0xc0, 0xaf],
        [0xe0, 0x80, 0xaf],
        [0xed, 0xa0, 0x80],
        [0xf5, 0x80, 0x80, 0x80],
        [0xc3],
        [0x80],
      ]);
      return splice(good, insideString(rng, text, good), Uint8Array.from(bad));
    }
    case 'wrong-type':
      return enc.encode(
        replaceValue(rng, text, rng.pick(['1', '"1"', 'true', '[]', '{}', '1.5', '-0', '"yes"'])),
      );
    case 'huge-string': {
      // Past the 64 KiB a reader might assume for one value; rarely past 1 MiB.
      const n = rng.chance(0.01) ? 1_100_000 : rng.pick([5_000, 70_000]);
      return enc.encode(replaceValue(rng, text, `"${'x'.repeat(n)}"`));
    }
    case 'huge-number':
      return enc.encode(
        replaceValue(
          rng,
          text,
          rng.pick([
            '1e400',
            '-1e400',
            '9'.repeat(400),
            '9007199254740993',
            '1e-400',
            `0.${'1'.repeat(40)}`,
            '123456789012345678901234567890',
          ]),
        ),
      );
    case 'deep-nesting': {
      const depth = rng.pick([40, 63, 64, 65, 200, 5_000]);
      const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      return enc.encode(`${text.slice(0, -1)},"deep":${deep}}`);
    }
    case 'duplicate-key': {
      const keys = [...text.matchAll(/"([a-z_]+)":/g)].map((m) => m[1]);
      const key = rng.pick(keys.length ? keys : ['event_id']);
      const repeat = rng.chance(0.5) ? (rawValueOf(text, key) ?? '1') : rng.pick(['1', '"x"', 'null']);
      // First or last, or in a nested object of its own.
      if (rng.chance(0.2)) return enc.encode(text.replace(/"sku":/, `"sku":"dup","sku":`));
      return enc.encode(
        rng.chance(0.5) ? `{"${key}":${repeat},${text.slice(1)}` : `${text.slice(0, -1)},"${key}":${repeat}}`,
      );
    }
    case 'empty':
      return new Uint8Array(0);
    case 'null':
      return enc.encode(rng.pick(['null', ' ', '""', '{}', '\n']));
    case 'not-an-object':
      return enc.encode(rng.pick([`[${text}]`, JSON.stringify(text), '42', 'true', `\ufeff${text}`]));
    case 'bad-escape':
      return enc.encode(
        replaceValue(
          rng,
          text,
          rng.pick([
            '"\\x41"',
            '"\\ud800"',
            '"\\udc00x"',
            '"\\u12"',
            '"a\\',
            '"\\ud83d\\ude00"',
            '"\\u0000"',
          ]),
        ),
      );
    case 'non-json-number':
      return enc.encode(
        replaceValue(
          rng,
          text,
          rng.pick(['NaN', 'Infinity', '-Infinity', '01', '+1', '.5', '1.', '0x10', '1e']),
        ),
      );
    case 'trailing-comma':
      return enc.encode(rng.chance(0.5) ? `${text.slice(0, -1)},}` : text.replace(/\}\]/, '},]'));
    case 'pretty-printed':
      return enc.encode(text.replace(/,"/g, () => rng.pick([',\n"', ',\r\n  "', ', "', ',\t"'])));
    case 'escaped-key':
      return enc.encode(
        text.replace(
          /"currency":/,
          rng.pick(['"\\u0063urrency":', '"curr\\u0065ncy":', '"currency\\u0000":']),
        ),
      );
    case 'extra-field':
      return enc.encode(
        `${text.slice(0, -1)},"note":${rng.pick(['"hi"', '{"a":[1,2,{"b":null}]}', '1e5', '"\\n\\t\\u00e9"'])}}`,
      );
    case 'integral-float':
      return enc.encode(
        text.replace(
          /"quantity":(\d+)/,
          rng.pick(['"quantity":$1.0', '"quantity":$1e0', '"quantity":$1.5', '"quantity":$1.000']),
        ),
      );
  }
}

/** A position inside a string of the record (after an opening quote of a value), or anywhere. */
function insideString(rng: Rng, text: string, bytes: Uint8Array): number {
  const starts = [...text.matchAll(/:"/g)].map((m) => m.index + 2);
  if (starts.length === 0) return rng.int(bytes.length + 1);
  // Byte position of a character position (the generator's records are ASCII, but not all inputs are).
  return enc.encode(text.slice(0, rng.pick(starts))).length;
}

/** The raw JSON text of `key`'s value (a scalar), if the record has one. */
function rawValueOf(text: string, key: string): string | undefined {
  const m = new RegExp(`"${key}":("(?:[^"\\\\]|\\\\.)*"|[^,}\\]]+)`).exec(text);
  return m?.[1];
}

/** The record with one field's (scalar) value replaced by `raw`. */
function replaceValue(rng: Rng, text: string, raw: string): string {
  const fields = [...text.matchAll(/"([a-z_]+)":("(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null)/g)];
  if (fields.length === 0) return `${text.slice(0, -1)},"x":${raw}}`;
  const m = rng.pick(fields);
  const start = m.index + m[0].length - m[2].length;
  return `${text.slice(0, start)}${raw}${text.slice(start + m[2].length)}`;
}

function splice(a: Uint8Array, pos: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + insert.length);
  out.set(a.subarray(0, pos));
  out.set(insert, pos);
  out.set(a.subarray(pos), pos + insert.length);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
