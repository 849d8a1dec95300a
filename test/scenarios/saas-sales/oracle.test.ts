/**
 * The sales oracle on small hand-made inputs whose answers are worked out by hand:
 * invalid records and why, dedup (first copy by partition and offset), the runtime's late
 * rule over given batches and its bound without them, 5-minute revenue windows in exact
 * cents (refunds negative, events at a window's end in the next window, currencies
 * apart).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import avro from 'avsc';
import { ManualClock } from '../../../src/core/clock.ts';
import { partitionForKey } from '../../../src/log/partitioner.ts';
import { REVENUE_SIGN, type SalesEventType } from '../../../src/scenarios/saas-sales/domain.ts';
import { expectedSales } from '../../../src/scenarios/saas-sales/expected.ts';
import { SalesGenerator, type SalesRecord } from '../../../src/scenarios/saas-sales/generator.ts';
import {
  type BatchEnd,
  classify,
  dedup,
  lateBound,
  lateByBatches,
  type OracleEvent,
  type RawRecord,
} from '../../../src/scenarios/saas-sales/oracle.ts';
import { closedWindows, revenueWindows } from '../../../src/scenarios/saas-sales/revenue-windows.ts';
import { salesSchemaText } from '../../../src/scenarios/saas-sales/schemas.ts';

const V1 = avro.Type.forSchema(JSON.parse(salesSchemaText(1)));
const V2 = avro.Type.forSchema(JSON.parse(salesSchemaText(2)));
const SCHEMAS = new Map([
  [7, salesSchemaText(1)],
  [8, salesSchemaText(2)],
]);
const T = Date.UTC(2026, 10, 30, 10, 0, 0);
const MIN = 60_000;

/** Cents as Avro decimal bytes, written by hand (two's complement, big-endian). */
function cents(n: number): Buffer {
  if (n === 0) return Buffer.from([0]);
  if (n > 0 && n < 0x80) return Buffer.from([n]);
  if (n >= -0x80 && n < 0) return Buffer.from([n & 0xff]);
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

let uuids = 0;
function event(over: Record<string, unknown> = {}): Record<string, unknown> {
  uuids++;
  return {
    event_id: `00000000-0000-4000-8000-${String(uuids).padStart(12, '0')}`,
    event_time: T,
    ingest_time: T + 500,
    schema_version: 1,
    account_id: 'acct-000001',
    subscription_id: 'sub-000001-1',
    plan_tier: 'pro',
    previous_plan_tier: null,
    region: 'emea',
    event_type: 'renewal',
    billing_period: 'monthly',
    amount: cents(4900),
    currency: 'EUR',
    seats: 1,
    ...over,
  };
}

function framed(id: number, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(id, 1);
  return Buffer.concat([head, body]);
}

const v1 = (over: Record<string, unknown> = {}) => framed(7, V1.toBuffer(event(over)));
const v2 = (over: Record<string, unknown> = {}) =>
  framed(
    8,
    V2.toBuffer({ ...event({ schema_version: 2, ...over }), discount_code: over.discount_code ?? null }),
  );

function records(parts: Buffer[][]): RawRecord[] {
  return parts.flatMap((values, partition) => values.map((value, offset) => ({ partition, offset, value })));
}

describe('sales oracle: classify', () => {
  test('frames, ids, bodies and rules, each with its reason; the first broken rule in field order', () => {
    const good = v1();
    const input = records([
      [
        good,
        v2({ discount_code: 'WELCOME10' }),
        Buffer.alloc(0),
        Buffer.from([0, 0, 0]),
        Buffer.concat([Buffer.from([1]), good.subarray(1)]),
        Buffer.from('{"event_id":"x"}'),
        framed(9, V1.toBuffer(event())),
        good.subarray(0, good.length - 1),
        Buffer.concat([good, Buffer.from([0])]),
        v1({ seats: -3 }),
        v1({ amount: cents(-1) }),
        v1({ region: 'EMEA' }),
        v1({ region: 'mars', seats: -1 }),
        v1({ currency: 'usd' }),
        v1({ event_id: 'not-a-uuid' }),
        v1({ amount: Buffer.from([0x00, 0xe8, 0xd4, 0xa5, 0x10, 0x00]) }),
        v1({ previous_plan_tier: 'gold' }),
      ],
    ]);
    const { invalid, valid } = classify(input, SCHEMAS);
    assert.deepEqual(
      valid.map((e) => [e.offset, e.schemaId, e.schemaVersion, e.discountCode, e.amountCents]),
      [
        [0, 7, 1, null, 4900n],
        [1, 8, 2, 'WELCOME10', 4900n],
      ],
    );
    assert.deepEqual(
      invalid.map((x) => [x.offset, x.reason, x.field ?? null, x.rule ?? null]),
      [
        [2, 'too-short', null, null],
        [3, 'too-short', null, null],
        [4, 'magic-byte', null, null],
        [5, 'magic-byte', null, null],
        [6, 'unknown-schema-id', null, null],
        [7, 'decode', null, null],
        // Bytes after the record: not what a serializer writes.
        [8, 'decode', null, null],
        [9, 'rule', 'seats', 'min'],
        [10, 'rule', 'amount', 'min'],
        [11, 'rule', 'region', 'enum'],
        // region comes before seats in the schema.
        [12, 'rule', 'region', 'enum'],
        [13, 'rule', 'currency', 'enum'],
        [14, 'rule', 'event_id', 'pattern'],
        // 10^12 cents: one digit more than decimal(12,2) holds.
        [15, 'rule', 'amount', 'max'],
        [16, 'rule', 'previous_plan_tier', 'enum'],
      ],
    );
    assert.match(invalid[4].message, /schema id 9 is not registered/);
    assert.match(invalid[5].message, /truncated/);
  });
});

describe('sales oracle: dedup and late events', () => {
  const ev = (partition: number, offset: number, eventTime: number, eventId = `${partition}/${offset}`) =>
    ({ partition, offset, eventTime, eventId }) as OracleEvent;

  test('the first copy by partition and offset wins', () => {
    const { events, duplicates } = dedup([
      ev(1, 5, T, 'a'),
      ev(0, 9, T, 'b'),
      ev(1, 2, T, 'a'),
      ev(0, 1, T, 'c'),
    ]);
    assert.deepEqual(
      events.map((e) => `${e.partition}/${e.offset}`),
      ['0/1', '0/9', '1/2'],
    );
    assert.deepEqual(
      duplicates.map((d) => [`${d.event.partition}/${d.event.offset}`, d.first]),
      [['1/5', { partition: 1, offset: 2 }]],
    );
  });

  test("the runtime's rule over given batches: behind the watermark as it stood before the batch", () => {
    const delay = 2 * MIN;
    const events = [
      // batch 1: p0 0..1, p1 0. Nothing is late in the first batch, however far behind.
      ev(0, 0, T + 10 * MIN),
      ev(0, 1, T),
      ev(1, 0, T + 5 * MIN),
      // batch 2: watermark T+8m. 7m59.999s is late, 8m is not; a batch cannot make its own rows late.
      ev(0, 2, T + 8 * MIN - 1),
      ev(1, 1, T + 8 * MIN),
      ev(1, 2, T + 20 * MIN),
      ev(1, 3, T + 9 * MIN),
      // batch 3 reads p1 only: watermark T+18m.
      ev(1, 4, T + 17 * MIN),
      // past the last batch
      ev(0, 3, T),
    ];
    const batches: BatchEnd[] = [{ 0: 2, 1: 1 }, { 0: 3, 1: 4 }, { 1: 5 }];
    const r = lateByBatches(events, batches, delay);
    const pos = (xs: OracleEvent[]) => xs.map((e) => `${e.partition}/${e.offset}`);
    assert.deepEqual(pos(r.late), ['0/2', '1/4']);
    assert.deepEqual(pos(r.onTime), ['0/0', '0/1', '1/0', '1/1', '1/2', '1/3']);
    assert.deepEqual(pos(r.pending), ['0/3']);
    assert.deepEqual(r.watermarks, [T + 8 * MIN, T + 18 * MIN, T + 18 * MIN]);

    // One batch of everything: nothing late.
    assert.equal(lateByBatches(events, [{ 0: 4, 1: 5 }], delay).late.length, 0);

    // Without batches: 0/2 may be late (0/0 may be in an earlier batch), so may 1/0 and 0/0
    // (an event of the other partition 2 minutes newer may precede them); 1/2, the newest
    // of all, never can be, nor 1/1 (T+8m: exactly 2 minutes behind the newest before it).
    const bound = lateBound(events, new Set(['0/2', '1/0', '1/2', '0/0']), delay);
    assert.deepEqual(pos(bound.impossible), ['1/2']);
    assert.equal(bound.neverLate, 2);
  });
});

describe('sales oracle: revenue windows', () => {
  const at = (eventTime: number, over: Partial<OracleEvent>): OracleEvent =>
    ({
      eventTime,
      planTier: 'pro',
      region: 'na',
      currency: 'USD',
      accountId: 'acct-000001',
      eventType: 'renewal',
      amountCents: 0n,
      ...over,
    }) as OracleEvent;

  test('net revenue in exact cents, refunds negative, window ends exclusive, groups apart', () => {
    const w = revenueWindows([
      at(T, { amountCents: 10n }),
      at(T + 4 * MIN, { amountCents: 20n, eventType: 'upgrade', accountId: 'acct-000002' }),
      at(T + 5 * MIN - 1, { amountCents: 5n, eventType: 'refund' }),
      at(T + MIN, { eventType: 'churn' }),
      // Exactly at the end: the next window.
      at(T + 5 * MIN, { amountCents: 999_999_999_999n, eventType: 'subscription_created' }),
      at(T, { amountCents: 700n, currency: 'EUR', region: 'emea' }),
      at(T, { amountCents: 300n, planTier: 'starter' }),
      at(T, { amountCents: 2_000n, eventType: 'refund', planTier: 'starter' }),
    ]);
    const start = new Date(T).toISOString();
    const next = new Date(T + 5 * MIN).toISOString();
    const end = new Date(T + 10 * MIN).toISOString();
    assert.deepEqual(
      w.map((x) => [
        x.window_start,
        x.window_end,
        x.plan_tier,
        x.region,
        x.currency,
        x.revenue,
        x.gross_revenue,
        x.refunds,
        x.events,
        x.accounts,
      ]),
      [
        [start, next, 'pro', 'emea', 'EUR', '7.00', '7.00', '0.00', 1, 1],
        [start, next, 'pro', 'na', 'USD', '0.25', '0.30', '0.05', 4, 2],
        [start, next, 'starter', 'na', 'USD', '-17.00', '3.00', '20.00', 2, 1],
        [next, end, 'pro', 'na', 'USD', '9999999999.99', '9999999999.99', '0.00', 1, 1],
      ],
    );
    assert.equal(closedWindows(w, T + 5 * MIN - 1).length, 0);
    assert.equal(closedWindows(w, T + 5 * MIN).length, 3);
    assert.equal(closedWindows(w, null).length, 0);
  });

  test('expectedSales: DLQ, dedup, late over batches and the windows closed by the last watermark', () => {
    const a = v1({ event_time: T + MIN, amount: cents(100) });
    const input = records([
      [a, a, v1({ event_time: T + 11 * MIN, amount: cents(50), event_type: 'refund' })],
      [
        v2({ event_time: T + 2 * MIN, amount: cents(1234), region: 'na', currency: 'USD' }),
        v1({ seats: -1 }),
        v2({ event_time: T + MIN, amount: cents(7) }),
      ],
    ]);
    const x = expectedSales(input, SCHEMAS, {
      delayMs: 2 * MIN,
      batches: [{ 0: 3, 1: 1 }, { 1: 3 }],
    });
    assert.deepEqual(
      x.invalid.map((i) => [i.partition, i.offset, i.field]),
      [[1, 1, 'seats']],
    );
    assert.deepEqual(
      x.duplicates.map((d) => [d.event.partition, d.event.offset]),
      [[0, 1]],
    );
    // After batch 1 the watermark is T+9m: 1/2 (T+1m) is late.
    assert.deepEqual(
      x.late.map((e) => [e.partition, e.offset]),
      [[1, 2]],
    );
    assert.equal(x.watermark, T + 9 * MIN);
    assert.deepEqual(
      x.closed.map((w) => [w.region, w.revenue, w.events]),
      [
        ['emea', '1.00', 1],
        ['na', '12.34', 1],
      ],
    );
    assert.deepEqual(
      x.windows.map((w) => w.revenue),
      ['1.00', '12.34', '-0.50'],
    );
    // The same with the late set as the pipeline reported it.
    const y = expectedSales(input, SCHEMAS, { delayMs: 2 * MIN, late: new Set(['1/2']) });
    assert.deepEqual(y.windows, x.windows);
    assert.deepEqual(y.impossibleLate, []);
  });
});

describe('sales oracle on a generated stream', () => {
  test("agrees with the generator's claims: invalid, duplicate, late by a real-time batching; revenue conserved", () => {
    // 20,000 records at 50/s (20 ms apart), 3 partitions by key; v2 (id 8) from the middle.
    const clock = new ManualClock(T);
    const g = new SalesGenerator({ seed: 5, clock, schema: { version: 1, id: 7 } });
    const parts: Array<Array<{ rec: SalesRecord; at: number }>> = [[], [], []];
    const order: Array<[number, number]> = [];
    for (let i = 0; i < 20_000; i++) {
      if (i === 10_000) g.useSchema(2, 8);
      clock.advance(20);
      const rec = g.next();
      const p = partitionForKey(Buffer.from(rec.key), 3);
      order.push([p, parts[p].length]);
      parts[p].push({ rec, at: clock.now() });
    }
    const input = records(parts.map((xs) => xs.map((x) => x.rec.value)));
    // A pipeline keeping up: a batch every 250 records produced (5 s), reading every partition to its end.
    const batches: BatchEnd[] = [];
    const ends: Record<number, number> = {};
    order.forEach(([p, o], i) => {
      ends[p] = o + 1;
      if ((i + 1) % 250 === 0) batches.push({ ...ends });
    });
    const x = expectedSales(input, SCHEMAS, { delayMs: 2 * MIN, batches });
    const at = (p: number, o: number) => parts[p][o];
    const kinds = (xs: Array<{ partition: number; offset: number }>) =>
      [...new Set(xs.map((e) => at(e.partition, e.offset).rec.kind))].sort();

    assert.deepEqual(kinds(x.invalid), ['invalid']);
    assert.equal(x.invalid.length, parts.flat().filter((r) => r.rec.kind === 'invalid').length);
    for (const i of x.invalid) {
      const kind = at(i.partition, i.offset).rec.invalid!;
      const reason = i.reason === 'rule' ? `rule:${i.field}` : i.reason;
      const expected = {
        'negative-seats': 'rule:seats',
        'negative-amount': 'rule:amount',
        'unknown-region': 'rule:region',
        'unknown-plan-tier': 'rule:plan_tier',
        'unknown-event-type': 'rule:event_type',
        'unknown-currency': 'rule:currency',
        'wrong-magic-byte': 'magic-byte',
        'unknown-schema-id': 'unknown-schema-id',
        truncated: 'decode',
        'too-short': 'too-short',
      }[kind];
      assert.equal(reason, expected, `${kind} at ${i.partition}/${i.offset}: ${i.message}`);
    }
    assert.deepEqual(kinds(x.duplicates.map((d) => d.event)), ['duplicate']);
    assert.equal(x.duplicates.length, parts.flat().filter((r) => r.rec.kind === 'duplicate').length);
    assert.ok(x.events.some((e) => e.schemaId === 7) && x.events.some((e) => e.schemaId === 8));

    // Late: only generated-late records; after the first batch, those more than 2 min + one
    // batch (5 s) + the 2 s delivery delay behind their clock are late, those less than
    // 2 min − 2 s are not.
    assert.deepEqual(kinds(x.late), ['late']);
    for (const e of x.events) {
      const { rec, at: now } = at(e.partition, e.offset);
      // The first batch (the first 5 s) has no watermark yet: nothing in it is late.
      if (rec.kind !== 'late' || now <= T + 5_000) continue;
      const behind = now - e.eventTime;
      const isLate = x.late.includes(e);
      if (behind > 2 * MIN + 7_000) assert.ok(isLate, `${behind} ms behind, not late`);
      if (behind < 2 * MIN - 2_000) assert.ok(!isLate, `${behind} ms behind, late`);
    }
    assert.ok(x.late.length > 250, `${x.late.length} late`);
    assert.deepEqual(
      expectedSales(input, SCHEMAS, {
        delayMs: 2 * MIN,
        late: new Set(x.late.map((e) => `${e.partition}/${e.offset}`)),
      }).impossibleLate,
      [],
    );

    // Every on-time event's money is in exactly one window.
    const net = (es: OracleEvent[]) =>
      es.reduce((sum, e) => sum + BigInt(REVENUE_SIGN[e.eventType as SalesEventType]) * e.amountCents, 0n);
    const inWindows = x.windows.reduce((sum, w) => sum + BigInt(w.revenue.replace('.', '')), 0n);
    assert.equal(inWindows, net(x.onTime));
    assert.equal(
      x.windows.reduce((n, w) => n + w.events, 0),
      x.onTime.length,
    );
    assert.ok(x.closed.length > 0 && x.closed.length < x.windows.length);
  });
});
