/**
 * parseSchema: broken schemas are refused saying what and where, and the refusals agree
 * with avsc (which parses them afterwards) both ways. normalizeSchema: the same schema
 * written differently has one normal form; a changed default, doc, alias, logical type
 * or order does not; and fastavro's Parsing Canonical Form (an independent reading of
 * names and namespaces) agrees wherever ours says "the same".
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import avro from 'avsc';
import { normalizeSchema, parseSchema, schemaFingerprint } from '../../../src/connectors/avro/schema.ts';
import { isTributaryError } from '../../../src/core/errors.ts';
import { BROKEN, f, rec } from './schema-cases.ts';

describe('parseSchema refuses broken schemas, saying what and where', () => {
  for (const c of BROKEN) {
    test(c.name, () => {
      assert.throws(
        () => parseSchema(JSON.stringify(c.schema)),
        (err) => {
          assert.ok(isTributaryError(err, 'SCHEMA_INVALID'), String(err));
          assert.match(err.message, c.says);
          assert.equal(err.details.where, c.where, err.message);
          if (c.where) assert.ok(err.message.includes(`at '${c.where}'`), err.message);
          return true;
        },
      );
      // avsc, which parses the schema afterwards, refuses it too (or the case says why not).
      let avscRefused = false;
      try {
        avro.Type.forSchema(c.schema as avro.Schema, { noAnonymousTypes: true });
      } catch {
        avscRefused = true;
      }
      assert.equal(avscRefused, c.avscAccepts === undefined, c.avscAccepts ?? 'avsc accepted it');
    });
  }

  test('not JSON: the parser says where', () => {
    assert.throws(
      () => parseSchema('{"type": "record",\n "name": "x",}'),
      (err) => isTributaryError(err, 'SCHEMA_INVALID') && /not JSON.*line 2/.test(err.message),
    );
  });
});

describe('parseSchema accepts valid schemas', () => {
  const VALID: [string, unknown][] = [
    ['a primitive', 'string'],
    ['a primitive as an object', { type: 'long', logicalType: 'timestamp-millis' }],
    ['a union at the top', ['null', 'string']],
    ['a record with no fields', { type: 'record', name: 'empty', fields: [] }],
    [
      'the seed record',
      rec(
        [
          f('event_id', 'string'),
          f('event_time', { type: 'long', logicalType: 'timestamp-millis' }),
          f('schema_version', 'int', { default: 1 }),
          f('plan_tier', {
            type: 'enum',
            name: 'plan_tier',
            symbols: ['free', 'pro', 'enterprise'],
            default: 'free',
          }),
          f('region', ['null', 'string'], { default: null }),
          f(
            'amount',
            { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 },
            { default: '\u0000' },
          ),
        ],
        { namespace: 'com.acme.sales', doc: 'one SaaS sale' },
      ),
    ],
    [
      'recursive record',
      { type: 'record', name: 'node', fields: [f('next', ['null', 'node'], { default: null })] },
    ],
    [
      'defaults of every kind',
      rec([
        f('a', { type: 'array', items: 'int' }, { default: [1, 2] }),
        f('m', { type: 'map', values: 'double' }, { default: { x: 1.5 } }),
        f('x', { type: 'fixed', name: 'two', size: 2 }, { default: '\u00ff\u0000' }),
        f(
          'r',
          { type: 'record', name: 'inner', fields: [f('p', 'int', { default: 1 }), f('q', 'string')] },
          { default: { q: 'z' } },
        ),
        f('b', 'boolean', { default: false }),
        f('l', 'long', { default: -9007199254740990 }),
      ]),
    ],
    [
      'a reference across namespaces',
      {
        type: 'record',
        name: 'a.outer',
        fields: [f('x', { type: 'enum', name: 'b.tier', symbols: ['A'] }), f('y', 'b.tier')],
      },
    ],
    [
      'an invalid decimal (ignored, as the specification says)',
      { type: 'bytes', logicalType: 'decimal', precision: 2, scale: 5 },
    ],
    [
      'custom properties',
      rec([f('a', { type: 'string', 'avro.java.string': 'String' }, { pii: true })], { owner: 'sales' }),
    ],
  ];
  for (const [name, schema] of VALID) {
    test(name, () => {
      const type = parseSchema(JSON.stringify(schema));
      assert.ok(avro.Type.isType(type));
    });
  }

  test('options go to avsc (a logical type given)', () => {
    class Millis extends avro.types.LogicalType {
      protected override _fromValue(v: number) {
        return new Date(v);
      }
      protected override _toValue(d: Date) {
        return d.getTime();
      }
    }
    const type = parseSchema('{"type": "long", "logicalType": "timestamp-millis"}', {
      logicalTypes: { 'timestamp-millis': Millis },
    });
    assert.deepEqual(type.fromBuffer(type.toBuffer(new Date(5))), new Date(5));
  });
});

describe('normalizeSchema: the same schema, written differently', () => {
  const base = rec(
    [
      f('event_id', 'string', { doc: 'unique' }),
      f('plan_tier', { type: 'enum', name: 'plan_tier', symbols: ['free', 'pro'], default: 'free' }),
      f('tier2', 'plan_tier', { default: 'pro' }),
      f('amount', { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 }),
      f('attrs', { type: 'map', values: 'string' }, { default: { b: '1', a: '2' } }),
      f('region', ['null', 'string'], { default: null, aliases: ['area', 'zone'] }),
    ],
    { namespace: 'com.acme', aliases: ['sale', 'com.old.sale'], doc: 'one sale' },
  );
  const same: [string, unknown][] = [
    ['reformatted with whitespace', base],
    ['keys reordered', reorder(base)],
    [
      'full names instead of a namespace',
      {
        ...rec([], {
          name: 'com.acme.sales_event',
          aliases: ['com.old.sale', 'com.acme.sale'],
          doc: 'one sale',
        }),
        fields: [
          f('event_id', { type: 'string' }, { doc: 'unique' }),
          f('plan_tier', {
            type: 'enum',
            name: 'com.acme.plan_tier',
            symbols: ['free', 'pro'],
            default: 'free',
          }),
          f('tier2', 'com.acme.plan_tier', { default: 'pro', order: 'ascending' }),
          f('amount', { scale: 2, precision: 12, logicalType: 'decimal', type: 'bytes' }),
          f('attrs', { type: 'map', values: 'string' }, { default: { a: '2', b: '1' } }),
          f('region', ['null', 'string'], { aliases: ['zone', 'area'], default: null }),
        ],
      },
    ],
  ];
  const texts = same.map(([, s], i) => (i === 0 ? JSON.stringify(s, null, 4) : JSON.stringify(s)));

  test('one normal form for all of them', () => {
    const forms = texts.map(normalizeSchema);
    for (const [i, form] of forms.entries()) assert.equal(form, forms[0], same[i]![0]);
    assert.equal(new Set(texts.map(schemaFingerprint)).size, 1);
    assert.match(schemaFingerprint(texts[0]!), /^[0-9a-f]{64}$/);
  });

  test('the normal form is itself a valid schema with the same normal form', () => {
    const form = normalizeSchema(texts[0]!);
    parseSchema(form);
    assert.equal(normalizeSchema(form), form);
  });

  test('a type of the null namespace inside a namespaced record keeps its name in the normal form', () => {
    const inner = { type: 'enum', name: 'tier', namespace: null, symbols: ['A'] };
    const schema = {
      type: 'record',
      name: 'outer',
      namespace: 'a',
      fields: [f('x', inner), f('y', '.tier')],
    };
    const form = normalizeSchema(JSON.stringify(schema));
    assert.equal(normalizeSchema(form), form);
    const inNamespace = { ...schema, fields: [f('x', { ...inner, namespace: 'a' }), f('y', 'tier')] };
    assert.notEqual(normalizeSchema(JSON.stringify(inNamespace)), form);
    // Written with "namespace": "" it is the same schema.
    const empty = { ...schema, fields: [f('x', { ...inner, namespace: '' }), f('y', '.tier')] };
    assert.equal(normalizeSchema(JSON.stringify(empty)), form);
  });

  const changed: [string, (s: ReturnType<typeof rec>) => void][] = [
    ['a default changed', (s) => ((s.fields[2] as { default: unknown }).default = 'free')],
    ['a default added', (s) => ((s.fields[0] as Record<string, unknown>).default = '')],
    ['a doc changed', (s) => ((s as Record<string, unknown>).doc = 'a sale')],
    ['a field doc removed', (s) => delete (s.fields[0] as Record<string, unknown>).doc],
    ['an alias added', (s) => ((s.fields[0] as Record<string, unknown>).aliases = ['id'])],
    ['a logical type removed', (s) => ((s.fields[3] as Record<string, unknown>).type = 'bytes')],
    ['a decimal scale changed', (s) => ((s.fields[3] as { type: { scale: number } }).type.scale = 3)],
    ['the order of fields', (s) => s.fields.push(...s.fields.splice(4, 1))],
    ['a field order attribute', (s) => ((s.fields[0] as Record<string, unknown>).order = 'descending')],
    ['a custom property', (s) => ((s as Record<string, unknown>).owner = 'sales')],
    ['the namespace', (s) => ((s as Record<string, unknown>).namespace = 'com.other')],
    ['the enum default', (s) => delete (s.fields[1] as { type: Record<string, unknown> }).type.default],
    ['union branches reordered', (s) => ((s.fields[5] as Record<string, unknown>).type = ['string', 'null'])],
  ];
  for (const [name, change] of changed) {
    test(`differs when ${name}`, () => {
      const copy = structuredClone(base) as ReturnType<typeof rec>;
      change(copy);
      let text = JSON.stringify(copy);
      // A union reordered needs a default of its new first branch to stay valid.
      if (name.startsWith('union')) text = text.replace('"default":null,"aliases"', '"default":"","aliases"');
      assert.notEqual(normalizeSchema(text), normalizeSchema(texts[0]!));
      assert.notEqual(schemaFingerprint(text), schemaFingerprint(texts[0]!));
    });
  }

  test('fastavro agrees on names: its Parsing Canonical Form is equal wherever ours is', {
    skip: noPython(),
  }, async () => {
    // Parsing Canonical Form keeps only what parsing needs (names, types, fields, symbols,
    // sizes), so it is coarser than ours: equal normal forms must give equal PCFs, and the
    // PCF of our normal form must be the PCF of the original.
    const all = [...texts, ...texts.map(normalizeSchema)];
    const pcf = await canonicalForms(all);
    assert.equal(new Set(pcf).size, 1, pcf.join('\n'));
  });
});

function reorder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reorder);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reorder(v)]),
  );
}

function noPython(): string | false {
  if (process.env.TRIBUTARY_TEST_PYTHON) return false;
  const why =
    'TRIBUTARY_TEST_PYTHON is not set: set it to a Python with fastavro, such as the .venv/bin/python that scripts/provision/python.sh makes (npm test sets it)';
  if (process.env.CI) throw new Error(why);
  return why;
}

async function canonicalForms(texts: string[]): Promise<string[]> {
  const script = [
    'import json, sys',
    'from fastavro.schema import to_parsing_canonical_form',
    'print(json.dumps([to_parsing_canonical_form(json.loads(t)) for t in json.load(sys.stdin)]))',
  ].join('\n');
  const run = promisify(execFile)(process.env.TRIBUTARY_TEST_PYTHON!, ['-c', script], { timeout: 60_000 });
  run.child.stdin!.end(JSON.stringify(texts));
  return JSON.parse((await run).stdout) as string[];
}
