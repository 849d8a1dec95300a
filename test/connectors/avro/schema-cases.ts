/**
 * Broken Avro schemas for schema.test.ts, one rule each: what parseSchema must say,
 * and where (the path of the field, '' for the top).
 */

export const rec = (fields: unknown[], more: Record<string, unknown> = {}) => ({
  type: 'record',
  name: 'sales_event',
  ...more,
  fields,
});
export const f = (name: string, type: unknown, more: Record<string, unknown> = {}) => ({
  name,
  type,
  ...more,
});

export interface Broken {
  name: string;
  schema: unknown;
  /** The path the message must name ('' for the top). */
  where: string;
  says: RegExp;
  /** avsc parses it although the specification does not allow it: why we refuse. */
  avscAccepts?: string;
}

export const BROKEN: Broken[] = [
  {
    name: 'unknown type name',
    schema: rec([f('amount', 'strin')]),
    where: 'sales_event.amount',
    says: /unknown type name 'strin'.*did you mean 'string'/,
  },
  {
    name: 'named type used before it is defined',
    schema: rec([f('a', 'tier'), f('b', { type: 'enum', name: 'tier', symbols: ['A'] })]),
    where: 'sales_event.a',
    says: /unknown type name 'tier'/,
  },
  {
    name: 'record without fields',
    schema: { type: 'record', name: 'sales_event' },
    where: 'sales_event',
    says: /needs "fields"/,
  },
  {
    name: 'nested record without fields',
    schema: rec([f('customer', { type: 'record', name: 'customer' })]),
    where: 'sales_event.customer',
    says: /needs "fields"/,
  },
  {
    name: 'default of the wrong type (string for int)',
    schema: rec([f('amount', 'int', { default: 'zero' })]),
    where: 'sales_event.amount',
    says: /default "zero" does not fit the field's type int/,
  },
  {
    name: 'default of the wrong type (1.5 for int)',
    schema: rec([f('amount', 'int', { default: 1.5 })]),
    where: 'sales_event.amount',
    says: /JSON integer/,
  },
  {
    name: 'int default out of range',
    schema: rec([f('amount', 'int', { default: 2 ** 31 })]),
    where: 'sales_event.amount',
    says: /-2147483648 to 2147483647/,
  },
  {
    name: 'long default past what avsc holds',
    schema: rec([f('total', 'long', { default: 2 ** 53 })]),
    where: 'sales_event.total',
    says: /within ±9007199254740990/,
  },
  {
    name: 'null default for a non-null type',
    schema: rec([f('region', 'string', { default: null })]),
    where: 'sales_event.region',
    says: /default null does not fit the field's type string/,
  },
  {
    name: 'union default of the second branch',
    schema: rec([f('coupon', ['string', 'null'], { default: null })]),
    where: 'sales_event.coupon',
    says: /first branch \(string\).*put null first/,
  },
  {
    name: 'enum field default not a symbol',
    schema: rec([
      f('plan_tier', { type: 'enum', name: 'plan_tier', symbols: ['free', 'pro'] }, { default: 'gold' }),
    ]),
    where: 'sales_event.plan_tier',
    says: /one of the symbols free, pro/,
  },
  {
    name: 'enum default not a symbol',
    schema: rec([f('plan_tier', { type: 'enum', name: 'plan_tier', symbols: ['free'], default: 'gold' })]),
    where: 'sales_event.plan_tier',
    says: /enum's default "gold" is not one of its symbols/,
  },
  {
    name: 'default inside a record default',
    schema: rec([
      f(
        'customer',
        { type: 'record', name: 'customer', fields: [f('tags', { type: 'array', items: 'string' })] },
        { default: { tags: ['a', 3] } },
      ),
    ]),
    where: 'sales_event.customer',
    says: /at \.tags\[1\] inside it.*found 3/,
  },
  {
    name: 'record default missing a field without default',
    schema: rec([
      f('customer', { type: 'record', name: 'customer', fields: [f('id', 'string')] }, { default: {} }),
    ]),
    where: 'sales_event.customer',
    says: /the field 'id' has no default/,
  },
  {
    name: 'fixed default of the wrong length',
    schema: rec([f('hash', { type: 'fixed', name: 'digest', size: 4 }, { default: 'abc' })]),
    where: 'sales_event.hash',
    says: /exactly 4 characters/,
  },
  {
    name: 'bytes default beyond code point 255',
    schema: rec([f('raw', 'bytes', { default: '\u0100' })]),
    where: 'sales_event.raw',
    says: /code points 0-255/,
    avscAccepts:
      'avsc keeps only the low byte of each character; the specification maps code points 0-255 to bytes',
  },
  {
    name: 'duplicate field',
    schema: rec([f('amount', 'double'), f('amount', 'int')]),
    where: 'sales_event.amount',
    says: /'amount' appears twice/,
  },
  {
    name: 'duplicate enum symbol',
    schema: rec([f('plan_tier', { type: 'enum', name: 'plan_tier', symbols: ['pro', 'pro'] })]),
    where: 'sales_event.plan_tier',
    says: /'pro' appears twice/,
  },
  {
    name: 'empty enum',
    schema: { type: 'enum', name: 'plan_tier', symbols: [] },
    where: 'plan_tier',
    says: /non-empty array/,
  },
  {
    name: 'name defined twice',
    schema: rec([
      f('a', { type: 'fixed', name: 'id', size: 4 }),
      f('b', { type: 'fixed', name: 'id', size: 8 }),
    ]),
    where: 'sales_event.b',
    says: /'id' is defined twice/,
  },
  {
    name: 'bad record name',
    schema: rec([], { name: 'sales-event' }),
    where: 'sales-event',
    says: /invalid name 'sales-event'/,
  },
  {
    name: 'name starting with a digit',
    schema: { type: 'record', name: '1sales', fields: [] },
    where: '1sales',
    says: /invalid name '1sales'/,
  },
  {
    name: 'bad namespace',
    schema: rec([], { namespace: 'com.acme-corp' }),
    where: 'sales_event',
    says: /invalid name 'com\.acme-corp\.sales_event'/,
  },
  {
    name: 'bad field name',
    schema: rec([f('event-id', 'string')]),
    where: 'sales_event.event-id',
    says: /invalid field name 'event-id'/,
  },
  {
    name: 'bad enum symbol',
    schema: rec([f('plan_tier', { type: 'enum', name: 'plan_tier', symbols: ['free', 'pro+'] })]),
    where: 'sales_event.plan_tier',
    says: /invalid symbol "pro\+"/,
  },
  {
    name: 'bad alias',
    schema: rec([], { aliases: ['old-name'] }),
    where: 'sales_event',
    says: /invalid alias 'old-name'/,
  },
  {
    name: 'record named after a primitive',
    schema: { type: 'record', name: 'string', fields: [] },
    where: 'string',
    says: /cannot be named 'string'/,
  },
  { name: 'anonymous record', schema: { type: 'record', fields: [] }, where: '', says: /needs a "name"/ },
  {
    name: 'field without a type',
    schema: rec([{ name: 'amount' }]),
    where: 'sales_event.amount',
    says: /has no "type"/,
  },
  {
    name: 'field without a name',
    schema: rec([{ type: 'int' }]),
    where: 'sales_event',
    says: /field 1 has no "name"/,
  },
  {
    name: 'bad order',
    schema: rec([f('amount', 'int', { order: 'up' })]),
    where: 'sales_event.amount',
    says: /"order" is ascending, descending or ignore/,
  },
  {
    name: 'fixed without a size',
    schema: { type: 'fixed', name: 'digest' },
    where: 'digest',
    says: /needs "size"/,
  },
  {
    name: 'array without items',
    schema: rec([f('lines', { type: 'array' })]),
    where: 'sales_event.lines',
    says: /needs "items"/,
  },
  {
    name: 'map without values',
    schema: rec([f('attrs', { type: 'map' })]),
    where: 'sales_event.attrs',
    says: /needs "values"/,
  },
  {
    name: 'bad type inside array items',
    schema: rec([
      f('lines', { type: 'array', items: { type: 'record', name: 'line', fields: [f('qty', 'integer')] } }),
    ]),
    where: 'sales_event.lines[].qty',
    says: /unknown type name 'integer'/,
  },
  {
    name: 'union inside a union',
    schema: rec([f('ref', ['null', ['string', 'int']])]),
    where: 'sales_event.ref (union branch 2)',
    says: /cannot hold a union directly/,
  },
  {
    name: 'union with a type twice',
    schema: rec([f('ref', ['null', 'string', 'string'])]),
    where: 'sales_event.ref (union branch 3)',
    says: /holds string twice/,
  },
  { name: 'empty union', schema: rec([f('ref', [])]), where: 'sales_event.ref', says: /at least one branch/ },
  {
    name: 'object type naming a named type',
    schema: rec([f('a', { type: 'enum', name: 'tier', symbols: ['A'] }), f('b', { type: 'tier' })]),
    where: 'sales_event.b',
    says: /write "tier" alone/,
  },
  {
    name: 'type keyword alone',
    schema: rec([f('a', 'record')]),
    where: 'sales_event.a',
    says: /"record" is not a type by itself/,
  },
  {
    name: 'null instead of "null"',
    schema: rec([f('a', null)]),
    where: 'sales_event.a',
    says: /did you mean "null"/,
  },
  {
    name: 'nested "type" object',
    schema: rec([f('a', { type: { type: 'string' } })]),
    where: 'sales_event.a',
    says: /"type" must be a string/,
  },
];
