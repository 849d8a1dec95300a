/**
 * Compatibility decisions against a table of schema pairs written by hand from the Avro
 * specification (compat-cases.ts), the explanation against the decision on every pair,
 * transitive modes over a chain of versions, and fastavro (an independent Avro
 * implementation, Python) writing with one schema and reading with the other.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  COMPATIBILITY_MODES,
  type CompatibilityMode,
  checkCompatibility,
  resolvingType,
} from '../../../src/connectors/avro/compat.ts';
import { canResolve, explainResolution } from '../../../src/connectors/avro/compat-explain.ts';
import { isTributaryError } from '../../../src/core/errors.ts';
import { type Avro, CASES as BASIC, type Case } from './compat-cases.ts';
import { NESTED_CASES } from './compat-cases-nested.ts';

const CASES: Case[] = [...BASIC, ...NESTED_CASES];

const text = (schema: Avro) => JSON.stringify(schema);

function says(messages: string[], fragments: string[] | undefined, label: string): void {
  for (const fragment of fragments ?? []) {
    assert.ok(
      messages.some((m) => m.includes(fragment)),
      `${label}: no message says "${fragment}"; messages:\n  ${messages.join('\n  ')}`,
    );
  }
}

describe('compatibility of one schema after another, per mode (the table)', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const [old, next] = [text(c.old), text(c.new)];
      assert.deepEqual(checkCompatibility('NONE', next, [old]), { compatible: true, messages: [] });
      for (const mode of ['BACKWARD', 'FORWARD', 'FULL'] as const) {
        const result = checkCompatibility(mode, next, [old]);
        assert.equal(result.compatible, c.expect[mode], `${mode}: ${result.messages.join('; ')}`);
        assert.equal(result.messages.length > 0, !c.expect[mode], `${mode}: messages exactly when refused`);
        // With one earlier version a transitive mode decides the same.
        assert.deepEqual(checkCompatibility(`${mode}_TRANSITIVE`, next, [old]), result);
        for (const m of result.messages) assert.match(m, /version 1/, `${mode}: names the version: ${m}`);
      }
      says(checkCompatibility('BACKWARD', next, [old]).messages, c.backwardSays, 'BACKWARD');
      says(checkCompatibility('FORWARD', next, [old]).messages, c.forwardSays, 'FORWARD');
      const full = checkCompatibility('FULL', next, [old]).messages;
      if (!c.expect.BACKWARD) says(full, c.backwardSays, 'FULL');
      if (!c.expect.FORWARD) says(full, c.forwardSays, 'FULL');
    });
  }
});

describe('the explanation agrees with the decision (avsc resolver)', () => {
  test('on every pair of the table, both ways', () => {
    for (const c of CASES) {
      const [old, next] = [resolvingType(text(c.old)), resolvingType(text(c.new))];
      for (const [reader, writer, direction] of [
        [next, old, 'backward'],
        [old, next, 'forward'],
      ] as const) {
        const decided = canResolve(reader, writer);
        const explained = explainResolution(reader, writer, { direction, version: 1 });
        assert.equal(
          explained.length === 0,
          decided,
          `${c.name} (${direction}): resolver ${decided ? 'accepts' : 'refuses'}, explanation: ${explained.join('; ') || 'none'}`,
        );
      }
    }
  });

  test('on every pair of schemas drawn from the whole table (each against each)', () => {
    const schemas = [...new Set(CASES.flatMap((c) => [text(c.old), text(c.new)]))].map(resolvingType);
    let refused = 0;
    for (const reader of schemas) {
      for (const writer of schemas) {
        const decided = canResolve(reader, writer);
        const explained = explainResolution(reader, writer, { direction: 'backward', version: 1 });
        assert.equal(explained.length === 0, decided, `explanation: ${explained.join('; ') || 'none'}`);
        if (!decided) refused++;
      }
    }
    assert.ok(schemas.length > 60 && refused > 1000, `${schemas.length} schemas, ${refused} refused pairs`);
  });
});

describe('transitive modes over a chain v1 -> v2 -> v3', () => {
  const rec = (fields: unknown[]) => text({ type: 'record', name: 'sales_event', fields });
  const id = { name: 'event_id', type: 'string' };

  test('BACKWARD: v3 reads v2 but not v1 (a default dropped)', () => {
    const v1 = rec([id]);
    const v2 = rec([id, { name: 'region', type: 'string', default: 'eu' }]);
    const v3 = rec([id, { name: 'region', type: 'string' }]);
    assert.equal(checkCompatibility('BACKWARD', v2, [v1]).compatible, true);
    assert.equal(checkCompatibility('BACKWARD', v3, [v1, v2]).compatible, true);
    const t = checkCompatibility('BACKWARD_TRANSITIVE', v3, [v1, v2]);
    assert.equal(t.compatible, false);
    assert.deepEqual(t.messages, [
      "field 'sales_event.region' was added without a default: data written with version 1 has no value for it",
    ]);
  });

  test('FORWARD: v2 reads v3 but v1 does not (a field v1 needs is gone)', () => {
    const v1 = rec([id, { name: 'region', type: 'string' }]);
    const v2 = rec([id, { name: 'region', type: 'string', default: 'eu' }]);
    const v3 = rec([id]);
    assert.equal(checkCompatibility('FORWARD', v2, [v1]).compatible, true);
    assert.equal(checkCompatibility('FORWARD', v3, [v1, v2]).compatible, true);
    const t = checkCompatibility('FORWARD_TRANSITIVE', v3, [v1, v2]);
    assert.equal(t.compatible, false);
    assert.deepEqual(t.messages, [
      "field 'sales_event.region' was removed, but version 1 has no default for it: version 1 cannot read data written with the new schema",
    ]);
  });

  test('FULL: v3 and v2 read each other, v3 and v1 do not (a field back with another type)', () => {
    const v1 = rec([id, { name: 'channel', type: 'string', default: 'web' }]);
    const v2 = rec([id]);
    const v3 = rec([id, { name: 'channel', type: 'int', default: 0 }]);
    assert.equal(checkCompatibility('FULL', v2, [v1]).compatible, true);
    assert.equal(checkCompatibility('FULL', v3, [v1, v2]).compatible, true);
    const t = checkCompatibility('FULL_TRANSITIVE', v3, [v1, v2]);
    assert.equal(t.compatible, false);
    assert.deepEqual(t.messages, [
      "field 'sales_event.channel' changed from string (version 1) to int: a string cannot be read as an int",
      "field 'sales_event.channel' changed from string (version 1) to int: an int cannot be read as a string, as version 1 reads it",
    ]);
  });

  test('every earlier version that conflicts is named, newest first', () => {
    const v1 = rec([id]);
    const v2 = rec([id, { name: 'note', type: 'string', default: '' }]);
    const v3 = rec([
      id,
      { name: 'note', type: 'string', default: '' },
      { name: 'x', type: 'int', default: 0 },
    ]);
    const v4 = rec([id, { name: 'x', type: 'int' }]);
    const t = checkCompatibility('BACKWARD_TRANSITIVE', v4, [v1, v2, v3]);
    assert.equal(t.compatible, false);
    assert.deepEqual(
      t.messages.map((m) => /version (\d)/.exec(m)?.[1]),
      ['2', '1'],
      t.messages.join('\n'),
    );
  });

  test('NONE accepts anything; no earlier version accepts anything', () => {
    for (const mode of COMPATIBILITY_MODES) {
      assert.deepEqual(checkCompatibility(mode, text('string'), []), { compatible: true, messages: [] });
    }
    assert.equal(checkCompatibility('NONE', text('string'), [rec([id])]).compatible, true);
  });

  test('an invalid schema is SCHEMA_INVALID, not a decision', () => {
    for (const mode of ['BACKWARD', 'FULL_TRANSITIVE'] as CompatibilityMode[]) {
      assert.throws(
        () => checkCompatibility(mode, '{"type": "record", "name": "r"}', [rec([id])]),
        (err) => isTributaryError(err, 'SCHEMA_INVALID') && /fields/.test(err.message),
      );
    }
  });
});

// fastavro: one Python process over the whole table.
const PYTHON = process.env.TRIBUTARY_TEST_PYTHON;
const noPython = PYTHON
  ? false
  : 'TRIBUTARY_TEST_PYTHON is not set: set it to a Python with fastavro, such as the .venv/bin/python that scripts/provision/python.sh makes (npm test sets it)';
if (!PYTHON && process.env.CI) throw new Error(noPython as string);

interface PyResult {
  id: string;
  ok: boolean;
  value?: unknown;
  error?: string;
}

describe('fastavro writes with one schema and reads with the other', { skip: noPython }, () => {
  const results = new Map<string, PyResult>();

  before(async () => {
    const input = CASES.flatMap((c, i) => [
      ...(c.oldDatum === undefined
        ? []
        : [{ id: `${i}:b`, writer: c.old, reader: c.new, datum: c.oldDatum }]),
      ...(c.newDatum === undefined
        ? []
        : [{ id: `${i}:f`, writer: c.new, reader: c.old, datum: c.newDatum }]),
    ]);
    const script = join(import.meta.dirname, 'fastavro_resolve.py');
    const child = promisify(execFile)(PYTHON!, [script], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    child.child.stdin!.end(JSON.stringify(input));
    const { stdout } = await child;
    for (const r of JSON.parse(stdout) as PyResult[]) results.set(r.id, r);
  });

  for (const [i, c] of CASES.entries()) {
    test(c.name, () => {
      check(c, results.get(`${i}:b`), 'backward', c.expect.BACKWARD, c.backwardValue, c.lazy?.backward);
      check(c, results.get(`${i}:f`), 'forward', c.expect.FORWARD, c.forwardValue, c.lazy?.forward);
    });
  }
});

function check(
  c: Case,
  r: PyResult | undefined,
  direction: string,
  compatible: boolean,
  value: unknown,
  lazy: string | undefined,
): void {
  assert.ok(r, `${c.name}: no ${direction} datum`);
  const what = `${c.name} (${direction}): fastavro ${r.ok ? `read ${JSON.stringify(r.value)}` : r.error}`;
  if (compatible) {
    assert.ok(r.ok, what);
    if (value !== undefined) assert.deepEqual(r.value, value, what);
  } else if (lazy) {
    // fastavro reads this datum although the pair is refused: the note says why it cannot show it.
    assert.ok(r.ok, `${what}; the table says fastavro accepts it (${lazy})`);
  } else {
    assert.equal(r.ok, false, what);
  }
}
