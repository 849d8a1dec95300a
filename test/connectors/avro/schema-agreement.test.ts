/**
 * The rules parseSchema checks (schema-rules.ts) against avsc's own parser on random
 * schemas, valid and broken (bad names, duplicate symbols, negative sizes, defaults of
 * any JSON value, unknown and primitive-like names, nested unions): what one refuses the
 * other refuses too. Seeded, so a failure repeats. One known difference: avsc takes any
 * default for a record with no fields, where the specification (and Avro Java) want a
 * JSON object; we refuse.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import avro from 'avsc';
import { checkSchema } from '../../../src/connectors/avro/schema-rules.ts';

class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed;
  }
  next(): number {
    this.state = (this.state * 1103515245 + 12345) % 2147483648;
    return this.state / 2147483648;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

const VALUES: unknown[] = [
  null,
  true,
  0,
  1,
  -1,
  1.5,
  2 ** 31,
  2 ** 53,
  'x',
  'A',
  '',
  'ab',
  [],
  [1],
  ['x'],
  {},
  { a: 1 },
];
const NAMES = ['a', 'b', 'r', 'x', 'int', 'string', '1a', 'a-b', 'n.a', '.a', 'record', 'A'];
const PRIMITIVES = ['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string'];

function schema(r: Random, depth: number, count: { n: number }): unknown {
  const x = r.next();
  const name = () => r.pick(NAMES) + (r.next() < 0.7 ? count.n++ : '');
  if (depth <= 0 || x < 0.3) return r.pick([...PRIMITIVES, ...NAMES]);
  if (x < 0.5) {
    const fields = Array.from({ length: Math.floor(r.next() * 3) }, () => ({
      name: r.pick(['f', 'g', 'h', '1x']),
      type: schema(r, depth - 1, count),
      ...(r.next() < 0.4 ? { default: r.pick(VALUES) } : {}),
    }));
    const namespace = r.next() < 0.2 ? { namespace: r.pick(['ns', '', null, 'a-b', 'n.s']) } : {};
    return { type: 'record', name: name(), ...namespace, fields };
  }
  if (x < 0.6) {
    const symbols = r.pick([['A'], ['A', 'B'], ['A', 'A'], [], ['a-b']]);
    return {
      type: 'enum',
      name: name(),
      symbols,
      ...(r.next() < 0.3 ? { default: r.pick(['A', 'C']) } : {}),
    };
  }
  if (x < 0.67) return { type: 'fixed', name: name(), size: r.pick([1, 2, -1, 1.5]) };
  if (x < 0.75) return { type: 'array', items: schema(r, depth - 1, count) };
  if (x < 0.82) return { type: 'map', values: schema(r, depth - 1, count) };
  return Array.from({ length: Math.floor(r.next() * 3) }, () => schema(r, depth - 1, count));
}

test('our rules and avsc accept and refuse the same schemas (10,000 random ones)', () => {
  const r = new Random(4_004);
  let valid = 0;
  let known = 0;
  for (let i = 0; i < 10_000; i++) {
    const s = schema(r, 3, { n: 0 });
    let ours: string | undefined;
    let theirs: string | undefined;
    try {
      checkSchema(structuredClone(s));
    } catch (err) {
      ours = (err as Error).message;
    }
    try {
      avro.Type.forSchema(structuredClone(s) as avro.Schema, { noAnonymousTypes: true });
    } catch (err) {
      theirs = (err as Error).message;
    }
    if (ours !== undefined && theirs === undefined && /JSON object with the fields of record/.test(ours)) {
      known++;
      continue;
    }
    assert.equal(
      ours === undefined,
      theirs === undefined,
      `ours: ${ours}; avsc: ${theirs}\n${JSON.stringify(s)}`,
    );
    if (ours === undefined) valid++;
  }
  assert.ok(valid > 2500 && valid < 7500, `${valid} valid`);
  assert.ok(known < 20, `${known} defaults of records without fields`);
});
