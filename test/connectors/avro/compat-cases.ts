/**
 * Schema pairs with the compatibility decisions the Avro specification gives, written by
 * hand ("Schema Resolution" in the specification; B = the new schema reads data of the
 * old, F = the old reads data of the new). Used by compat.test.ts.
 *
 * `oldDatum` / `newDatum` are values of the old / new schema that fastavro writes with
 * that schema and reads with the other: where the expected decision is a refusal, the
 * datum is one that shows it (the removed symbol, the removed union branch). `lazy`
 * names the directions where fastavro cannot show a refusal, and why.
 */

export type Avro = unknown;

export interface Case {
  name: string;
  old: Avro;
  new: Avro;
  expect: { BACKWARD: boolean; FORWARD: boolean; FULL: boolean };
  /** Substrings of the refusal messages, when refused. */
  backwardSays?: string[];
  forwardSays?: string[];
  oldDatum?: unknown;
  newDatum?: unknown;
  /** What fastavro reads, when it reads: the old datum with the new schema, and the reverse. */
  backwardValue?: unknown;
  forwardValue?: unknown;
  /** Directions where fastavro accepts a pair the specification refuses, and why. */
  lazy?: { backward?: string; forward?: string };
}

export const OK = true;
export const NO = false;

/** The seed's record, with `fields` after its two first fields. */
export function sales(fields: unknown[], extra: Record<string, unknown> = {}): Avro {
  return {
    type: 'record',
    name: 'sales_event',
    ...extra,
    fields: [{ name: 'event_id', type: 'string' }, ...fields],
  };
}
export const f = (name: string, type: unknown, more: Record<string, unknown> = {}) => ({
  name,
  type,
  ...more,
});
const tier = (symbols: string[], more: Record<string, unknown> = {}) => ({
  type: 'enum',
  name: 'plan_tier',
  symbols,
  ...more,
});

/** A promotion the specification allows one way only: B reads the old narrower type, F refuses. */
function promotion(from: string, to: string, oldValue: number, readAs: number): Case {
  return {
    name: `${from} -> ${to}`,
    old: sales([f('amount', from)]),
    new: sales([f('amount', to)]),
    expect: { BACKWARD: OK, FORWARD: NO, FULL: NO },
    forwardSays: ["'sales_event.amount'", `changed from ${from} (version 1) to ${to}`, `as ${article(from)}`],
    oldDatum: { event_id: 'e1', amount: oldValue },
    newDatum: { event_id: 'e1', amount: readAs },
    backwardValue: { event_id: 'e1', amount: readAs },
  };
}
function demotion(from: string, to: string, value: number): Case {
  return {
    name: `${from} -> ${to} (narrowing)`,
    old: sales([f('amount', from)]),
    new: sales([f('amount', to)]),
    expect: { BACKWARD: NO, FORWARD: OK, FULL: NO },
    backwardSays: [
      "'sales_event.amount'",
      `changed from ${from} (version 1) to ${to}`,
      `cannot be read as ${article(to)}`,
    ],
    oldDatum: { event_id: 'e1', amount: value },
    newDatum: { event_id: 'e1', amount: value },
    forwardValue: { event_id: 'e1', amount: value },
  };
}
function article(t: string): string {
  return /^[aeio]/.test(t) ? `an ${t}` : `a ${t}`;
}

/** Fields, promotions, enums and unions; compat-cases-nested.ts has the rest. */
export const CASES: Case[] = [
  // Fields added and removed
  {
    name: 'field added with a default',
    old: sales([]),
    new: sales([f('discount', 'double', { default: 0 })]),
    expect: { BACKWARD: OK, FORWARD: OK, FULL: OK },
    oldDatum: { event_id: 'e1' },
    newDatum: { event_id: 'e1', discount: 2.5 },
    backwardValue: { event_id: 'e1', discount: 0 },
    forwardValue: { event_id: 'e1' },
  },
  {
    name: 'field added without a default',
    old: sales([]),
    new: sales([f('discount', 'double')]),
    expect: { BACKWARD: NO, FORWARD: OK, FULL: NO },
    backwardSays: [
      "field 'sales_event.discount' was added without a default",
      'version 1 has no value for it',
    ],
    oldDatum: { event_id: 'e1' },
    newDatum: { event_id: 'e1', discount: 2.5 },
  },
  {
    name: 'optional field added (union with null, default null)',
    old: sales([]),
    new: sales([f('coupon', ['null', 'string'], { default: null })]),
    expect: { BACKWARD: OK, FORWARD: OK, FULL: OK },
    oldDatum: { event_id: 'e1' },
    newDatum: { event_id: 'e1', coupon: 'SPRING' },
    backwardValue: { event_id: 'e1', coupon: null },
  },
  {
    name: 'field with a default removed',
    old: sales([f('discount', 'double', { default: 0 })]),
    new: sales([]),
    expect: { BACKWARD: OK, FORWARD: OK, FULL: OK },
    oldDatum: { event_id: 'e1', discount: 2.5 },
    newDatum: { event_id: 'e1' },
    forwardValue: { event_id: 'e1', discount: 0 },
  },
  {
    name: 'field without a default removed',
    old: sales([f('discount', 'double')]),
    new: sales([]),
    expect: { BACKWARD: OK, FORWARD: NO, FULL: NO },
    forwardSays: ["field 'sales_event.discount' was removed", 'version 1 has no default for it'],
    oldDatum: { event_id: 'e1', discount: 2.5 },
    newDatum: { event_id: 'e1' },
  },
  {
    name: 'default given to an existing field',
    old: sales([f('discount', 'double')]),
    new: sales([f('discount', 'double', { default: 0 })]),
    expect: { BACKWARD: OK, FORWARD: OK, FULL: OK },
    oldDatum: { event_id: 'e1', discount: 1.5 },
    newDatum: { event_id: 'e1', discount: 1.5 },
  },
  {
    name: 'fields reordered',
    old: sales([f('a', 'int'), f('b', 'string')]),
    new: sales([f('b', 'string'), f('a', 'int')]),
    expect: { BACKWARD: OK, FORWARD: OK, FULL: OK },
    oldDatum: { event_id: 'e1', a: 1, b: 'x' },
    newDatum: { event_id: 'e1', b: 'x', a: 1 },
    backwardValue: { event_id: 'e1', b: 'x', a: 1 },
  },
  // Promotions: int -> long -> float -> double, and string <-> bytes
  promotion('int', 'long', 7, 7),
  promotion('int', 'float', 7, 7),
  promotion('int', 'double', 7, 7),
  promotion('long', 'float', 7, 7),
  promotion('long', 'double', 7, 7),
  promotion('float', 'double', 1.5, 1.5),
  demotion('long', 'int', 7),
  demotion('float', 'int', 7),
  demotion('double', 'int', 7),
  demotion('double', 'long', 7),
  demotion('double', 'float', 1.5),
  {
    name: 'string -> bytes',
    old: sales([f('note', 'string')]),
    new: sales([f('note', 'bytes')]),
    expect: { BACKWARD: OK, FORWARD: OK, FULL: OK },
    oldDatum: { event_id: 'e1', note: 'ok' },
    newDatum: { event_id: 'e1', note: 'ok' },
    backwardValue: { event_id: 'e1', note: 'ok' },
    forwardValue: { event_id: 'e1', note: 'ok' },
  },
  {
    name: 'bytes -> string',
    old: sales([f('note', 'bytes')]),
    new: sales([f('note', 'string')]),
    expect: { BACKWARD: OK, FORWARD: OK, FULL: OK },
    oldDatum: { event_id: 'e1', note: 'ok' },
    newDatum: { event_id: 'e1', note: 'ok' },
  },
  {
    name: 'int -> string',
    old: sales([f('amount', 'int')]),
    new: sales([f('amount', 'string')]),
    expect: { BACKWARD: NO, FORWARD: NO, FULL: NO },
    backwardSays: [
      "field 'sales_event.amount' changed from int (version 1) to string",
      'an int cannot be read as a string',
    ],
    forwardSays: [
      "field 'sales_event.amount' changed from int (version 1) to string",
      'a string cannot be read as an int',
    ],
    oldDatum: { event_id: 'e1', amount: 1 },
    newDatum: { event_id: 'e1', amount: '1' },
  },
  {
    name: 'boolean -> int',
    old: sales([f('paid', 'boolean')]),
    new: sales([f('paid', 'int')]),
    expect: { BACKWARD: NO, FORWARD: NO, FULL: NO },
    backwardSays: ["'sales_event.paid'", 'a boolean cannot be read as an int'],
    forwardSays: ["'sales_event.paid'", 'an int cannot be read as a boolean'],
    oldDatum: { event_id: 'e1', paid: true },
    newDatum: { event_id: 'e1', paid: 1 },
  },
  // Enums
  {
    name: 'enum symbol added',
    old: sales([f('plan_tier', tier(['free', 'pro']))]),
    new: sales([f('plan_tier', tier(['free', 'pro', 'enterprise']))]),
    expect: { BACKWARD: OK, FORWARD: NO, FULL: NO },
    forwardSays: ["enum 'plan_tier'", "has new symbol 'enterprise'", 'version 1 cannot read'],
    oldDatum: { event_id: 'e1', plan_tier: 'pro' },
    newDatum: { event_id: 'e1', plan_tier: 'enterprise' },
  },
  {
    name: 'enum symbol removed',
    old: sales([f('plan_tier', tier(['free', 'pro', 'enterprise']))]),
    new: sales([f('plan_tier', tier(['free', 'pro']))]),
    expect: { BACKWARD: NO, FORWARD: OK, FULL: NO },
    backwardSays: ["enum 'plan_tier'", "no longer has symbol 'enterprise', which version 1 may have written"],
    oldDatum: { event_id: 'e1', plan_tier: 'enterprise' },
    newDatum: { event_id: 'e1', plan_tier: 'pro' },
  },
  {
    name: 'enum symbol removed, the new enum has a default',
    old: sales([f('plan_tier', tier(['free', 'pro', 'enterprise']))]),
    new: sales([f('plan_tier', tier(['free', 'pro'], { default: 'free' }))]),
    expect: { BACKWARD: OK, FORWARD: OK, FULL: OK },
    oldDatum: { event_id: 'e1', plan_tier: 'enterprise' },
    newDatum: { event_id: 'e1', plan_tier: 'pro' },
    backwardValue: { event_id: 'e1', plan_tier: 'free' },
  },
  {
    name: 'enum symbol added, the old enum has a default',
    old: sales([f('plan_tier', tier(['free', 'pro'], { default: 'free' }))]),
    new: sales([f('plan_tier', tier(['free', 'pro', 'enterprise'], { default: 'free' }))]),
    expect: { BACKWARD: OK, FORWARD: OK, FULL: OK },
    oldDatum: { event_id: 'e1', plan_tier: 'pro' },
    newDatum: { event_id: 'e1', plan_tier: 'enterprise' },
    forwardValue: { event_id: 'e1', plan_tier: 'free' },
  },
  {
    name: 'enum symbols reordered',
    old: sales([f('plan_tier', tier(['free', 'pro']))]),
    new: sales([f('plan_tier', tier(['pro', 'free']))]),
    expect: { BACKWARD: OK, FORWARD: OK, FULL: OK },
    oldDatum: { event_id: 'e1', plan_tier: 'free' },
    newDatum: { event_id: 'e1', plan_tier: 'free' },
    backwardValue: { event_id: 'e1', plan_tier: 'free' },
  },
  {
    name: 'enum renamed',
    old: sales([f('plan_tier', tier(['free']))]),
    new: sales([f('plan_tier', { type: 'enum', name: 'tier', symbols: ['free'] })]),
    expect: { BACKWARD: NO, FORWARD: NO, FULL: NO },
    backwardSays: [
      "enum 'plan_tier' (field 'sales_event.plan_tier') was renamed to 'tier'",
      "alias 'plan_tier'",
    ],
    forwardSays: [
      "enum 'plan_tier' (field 'sales_event.plan_tier') was renamed to 'tier'",
      "version 1 reads only 'plan_tier'",
    ],
    oldDatum: { event_id: 'e1', plan_tier: 'free' },
    newDatum: { event_id: 'e1', plan_tier: 'free' },
  },
  {
    name: 'enum renamed with an alias',
    old: sales([f('plan_tier', tier(['free']))]),
    new: sales([f('plan_tier', { type: 'enum', name: 'tier', aliases: ['plan_tier'], symbols: ['free'] })]),
    expect: { BACKWARD: OK, FORWARD: NO, FULL: NO },
    forwardSays: ['was renamed to', "version 1 reads only 'plan_tier'"],
    oldDatum: { event_id: 'e1', plan_tier: 'free' },
    newDatum: { event_id: 'e1', plan_tier: 'free' },
  },
  // Unions
  {
    name: 'union branch added',
    old: sales([f('ref', ['null', 'string'])]),
    new: sales([f('ref', ['null', 'string', 'int'])]),
    expect: { BACKWARD: OK, FORWARD: NO, FULL: NO },
    forwardSays: ["field 'sales_event.ref' now accepts int, which version 1 cannot read"],
    oldDatum: { event_id: 'e1', ref: 'x' },
    newDatum: { event_id: 'e1', ref: 5 },
  },
  {
    name: 'union branch removed',
    old: sales([f('ref', ['null', 'string', 'int'])]),
    new: sales([f('ref', ['null', 'string'])]),
    expect: { BACKWARD: NO, FORWARD: OK, FULL: NO },
    backwardSays: ["field 'sales_event.ref' no longer accepts int, which version 1 may have written"],
    oldDatum: { event_id: 'e1', ref: 5 },
    newDatum: { event_id: 'e1', ref: 'x' },
  },
  {
    name: 'plain type -> union containing it',
    old: sales([f('ref', 'string')]),
    new: sales([f('ref', ['null', 'string'])]),
    expect: { BACKWARD: OK, FORWARD: NO, FULL: NO },
    forwardSays: ["field 'sales_event.ref' now accepts null, which version 1 cannot read"],
    oldDatum: { event_id: 'e1', ref: 'x' },
    newDatum: { event_id: 'e1', ref: null },
    backwardValue: { event_id: 'e1', ref: 'x' },
  },
  {
    name: 'union -> plain type it contained',
    old: sales([f('ref', ['null', 'string'])]),
    new: sales([f('ref', 'string')]),
    expect: { BACKWARD: NO, FORWARD: OK, FULL: NO },
    backwardSays: ["field 'sales_event.ref' no longer accepts null, which version 1 may have written"],
    oldDatum: { event_id: 'e1', ref: null },
    newDatum: { event_id: 'e1', ref: 'x' },
    forwardValue: { event_id: 'e1', ref: 'x' },
  },
  {
    name: 'union branches reordered',
    old: sales([f('ref', ['null', 'string'])]),
    new: sales([f('ref', ['string', 'null'])]),
    expect: { BACKWARD: OK, FORWARD: OK, FULL: OK },
    oldDatum: { event_id: 'e1', ref: 'x' },
    newDatum: { event_id: 'e1', ref: null },
    backwardValue: { event_id: 'e1', ref: 'x' },
    forwardValue: { event_id: 'e1', ref: null },
  },
  {
    name: 'int -> union [null, long] (promotion into a union)',
    old: sales([f('amount', 'int')]),
    new: sales([f('amount', ['null', 'long'])]),
    expect: { BACKWARD: OK, FORWARD: NO, FULL: NO },
    forwardSays: [
      "field 'sales_event.amount' now accepts null",
      "field 'sales_event.amount' now accepts long",
    ],
    oldDatum: { event_id: 'e1', amount: 3 },
    newDatum: { event_id: 'e1', amount: null },
    backwardValue: { event_id: 'e1', amount: 3 },
  },
  {
    name: 'int -> union [null, string] (no branch reads an int)',
    old: sales([f('amount', 'int')]),
    new: sales([f('amount', ['null', 'string'])]),
    expect: { BACKWARD: NO, FORWARD: NO, FULL: NO },
    backwardSays: [
      "field 'sales_event.amount' changed from int (version 1) to union [null, string]",
      'any branch',
    ],
    oldDatum: { event_id: 'e1', amount: 3 },
    newDatum: { event_id: 'e1', amount: 'x' },
  },
  {
    name: 'record inside a union gains a field without a default',
    old: sales([f('payment', ['null', { type: 'record', name: 'card', fields: [f('last4', 'string')] }])]),
    new: sales([
      f('payment', [
        'null',
        { type: 'record', name: 'card', fields: [f('last4', 'string'), f('brand', 'string')] },
      ]),
    ]),
    expect: { BACKWARD: NO, FORWARD: OK, FULL: NO },
    backwardSays: ["field 'sales_event.payment.brand' was added without a default"],
    oldDatum: { event_id: 'e1', payment: { last4: '4242' } },
    newDatum: { event_id: 'e1', payment: { last4: '4242', brand: 'visa' } },
  },
];
