/**
 * The explanation of a refusal (compat-explain.ts) against the decision (avsc's
 * resolver) on random schema pairs: a random record, and a copy changed at random
 * (types, fields added, removed or renamed with aliases, enum symbols and defaults,
 * union branches, names, namespaces, fixed sizes, decimals over bytes and fixed). Seeded, so a failure
 * repeats; the table in compat-cases*.ts has the hand-written decisions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolvingType } from '../../../src/connectors/avro/compat.ts';
import { canResolve, explainResolution } from '../../../src/connectors/avro/compat-explain.ts';
import { isTributaryError } from '../../../src/core/errors.ts';

type Schema = unknown;
type Obj = Record<string, unknown>;

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

const PRIMITIVES = ['boolean', 'int', 'long', 'float', 'double', 'bytes', 'string'];

class Generator {
  private count = 0;
  private readonly r: Random;
  constructor(r: Random) {
    this.r = r;
  }

  record(depth: number): Obj {
    return { type: 'record', name: `top`, fields: this.fields(depth) };
  }

  private fields(depth: number): Obj[] {
    const n = 1 + Math.floor(this.r.next() * 3);
    return ['a', 'b', 'c'].slice(0, n).map((name) => ({ name, type: this.type(depth) }));
  }

  private type(depth: number): Schema {
    const x = this.r.next();
    if (depth <= 0 || x < 0.35) return this.r.pick(PRIMITIVES);
    if (x < 0.5) return { type: 'record', name: `r${this.count++}`, fields: this.fields(depth - 1) };
    if (x < 0.6) {
      const symbols = ['A', 'B', 'C'].slice(0, 1 + Math.floor(this.r.next() * 3));
      return {
        type: 'enum',
        name: `e${this.count++}`,
        symbols,
        ...(this.r.next() < 0.3 ? { default: 'A' } : {}),
      };
    }
    if (x < 0.67) return { type: 'fixed', name: `x${this.count++}`, size: this.r.pick([2, 4]) };
    if (x < 0.75) return { type: 'array', items: this.type(depth - 1) };
    if (x < 0.82) return { type: 'map', values: this.type(depth - 1) };
    if (x < 0.88) {
      const decimal = { logicalType: 'decimal', precision: this.r.pick([4, 6]), scale: this.r.pick([0, 2]) };
      if (this.r.next() < 0.5) return { type: 'bytes', ...decimal };
      return { type: 'fixed', name: `d${this.count++}`, size: 4, ...decimal };
    }
    const branch = this.r.pick(['string', 'int', 'long', 'double']);
    const record = { type: 'record', name: `u${this.count++}`, fields: this.fields(depth - 1) };
    return this.r.next() < 0.5 ? ['null', branch, record] : ['null', branch];
  }

  mutate(s: Schema): Schema {
    const r = this.r;
    if (typeof s === 'string') {
      if (r.next() < 0.3) return r.pick(PRIMITIVES);
      return r.next() < 0.15 ? ['null', s] : s;
    }
    if (Array.isArray(s)) {
      const x = r.next();
      if (x < 0.2 && s.length > 1) return s.slice(0, -1);
      if (x < 0.35) return [...s, 'boolean'];
      if (x < 0.45) return s.find((b) => b !== 'null');
      return s.map((b) => this.mutate(b));
    }
    const t = { ...(s as Obj) };
    const x = r.next();
    switch (t.type) {
      case 'record': {
        let fields: Obj[] = (t.fields as Obj[]).map((f) => ({ ...f, type: this.mutate(f.type) }));
        if (x < 0.15)
          fields = [...fields, { name: 'z', type: 'int', ...(r.next() < 0.5 ? { default: 0 } : {}) }];
        else if (x < 0.25) fields = fields.slice(1);
        else if (x < 0.32) {
          const alias = r.next() < 0.6;
          fields = fields.map((f, i) =>
            i === 0 ? { ...f, name: 'q', ...(alias ? { aliases: [f.name] } : {}) } : f,
          );
        } else if (x < 0.36) Object.assign(t, { aliases: [t.name], name: `${t.name}x` });
        else if (x < 0.39) t.name = `${t.name}y`;
        else if (x < 0.43) t.namespace = `ns${Math.floor(r.next() * 3)}`;
        return { ...t, fields };
      }
      case 'enum': {
        const symbols = t.symbols as string[];
        if (x < 0.3) t.symbols = [...symbols, 'D'];
        else if (x < 0.5 && symbols.length > 1) {
          t.symbols = symbols.slice(1);
          if (t.default !== undefined && !symbols.slice(1).includes(t.default as string)) delete t.default;
        } else if (x < 0.65) {
          if (t.default === undefined) t.default = symbols[0];
          else delete t.default;
        } else if (x < 0.7) t.name = `${t.name}r`;
        return t;
      }
      case 'fixed':
        if (t.logicalType && x < 0.2)
          return { type: 'bytes', logicalType: 'decimal', precision: t.precision, scale: t.scale };
        if (x < 0.3) t.size = (t.size as number) + 1;
        else if (x < 0.5) Object.assign(t, { aliases: [t.name], name: `${t.name}n` });
        return t;
      case 'array':
        return x < 0.1 ? { type: 'map', values: t.items } : { ...t, items: this.mutate(t.items) };
      case 'map':
        return { ...t, values: this.mutate(t.values) };
      default: // a decimal
        if (x < 0.3) return { ...t, scale: 1 };
        return x < 0.5 ? 'bytes' : t;
    }
  }
}

test('the explanation is empty exactly when the resolver accepts, on about 2,000 random pairs', () => {
  const random = new Random(20_261_130);
  let pairs = 0;
  let refused = 0;
  for (let i = 0; i < 1000; i++) {
    const g = new Generator(random);
    const a = g.record(3);
    const b = g.mutate(a);
    const ta = resolvingType(JSON.stringify(a));
    let tb: ReturnType<typeof resolvingType>;
    try {
      tb = resolvingType(JSON.stringify(b));
    } catch (err) {
      // A change that breaks a rule (a union holding a type twice): not a pair to judge.
      assert.ok(isTributaryError(err, 'SCHEMA_INVALID'), String(err));
      continue;
    }
    for (const [reader, writer, direction] of [
      [tb, ta, 'backward'],
      [ta, tb, 'forward'],
    ] as const) {
      pairs++;
      const decided = canResolve(reader, writer);
      const explained = explainResolution(reader, writer, { direction, version: 1 });
      if (!decided) refused++;
      assert.equal(
        explained.length === 0,
        decided,
        `resolver ${decided ? 'accepts' : 'refuses'}; explanation: ${explained.join('; ') || 'none'}\nreader: ${JSON.stringify(reader.schema())}\nwriter: ${JSON.stringify(writer.schema())}`,
      );
      for (const m of explained) assert.match(m, /'top[a-z]*[.[{']|top-level/, `names a path: ${m}`);
    }
  }
  // Both outcomes are well represented.
  assert.ok(pairs > 1800, `${pairs} pairs`);
  assert.ok(refused > pairs / 4 && refused < (pairs * 3) / 4, `${refused} of ${pairs} refused`);
});
