import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OrdersGenerator, STATUS_RANK } from '../../src/connectors/generators/orders.ts';
import { encodeBatch, produceLoop } from '../../src/connectors/generators/produce-loop.ts';
import { ManualClock } from '../../src/core/clock.ts';
import type { Log, ProduceRecord } from '../../src/log/log.ts';

const T0 = Date.UTC(2026, 0, 27, 12, 0, 0);

function take(g: OrdersGenerator, n: number) {
  return Array.from({ length: n }, () => g.next());
}

describe('orders generator', () => {
  test('is deterministic for a seed and differs across seeds', () => {
    const a = take(new OrdersGenerator({ seed: 9, clock: new ManualClock(T0) }), 2000);
    const b = take(new OrdersGenerator({ seed: 9, clock: new ManualClock(T0) }), 2000);
    const c = take(new OrdersGenerator({ seed: 10, clock: new ManualClock(T0) }), 2000);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  test('emits the seed schema, keyed by order_id, with valid lifecycles', () => {
    const g = new OrdersGenerator({
      seed: 3,
      clock: new ManualClock(T0),
      malformedRate: 0,
      duplicateRate: 0,
      outOfOrderRate: 0,
    });
    const byOrder = new Map<string, string[]>();
    for (const r of take(g, 50_000)) {
      const e = JSON.parse(r.value);
      assert.deepEqual(Object.keys(e), [
        'event_id',
        'event_type',
        'event_timestamp',
        'order_id',
        'user_id',
        'total_amount',
        'currency',
        'payment_method',
        'items',
        'current_status',
      ]);
      assert.equal(r.key, e.order_id);
      assert.match(e.order_id, /^ord-20260127-\d{10}$/);
      assert.match(e.event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(e.event_type, `ORDER_${e.current_status}`);
      assert.equal(e.event_timestamp, T0 / 1000);
      const sum = e.items.reduce(
        (s: number, it: { quantity: number; unit_price: number }) => s + it.quantity * it.unit_price,
        0,
      );
      assert.ok(Math.abs(sum - e.total_amount) < 0.005, 'total is the sum of the items');
      const seq = byOrder.get(e.order_id) ?? [];
      seq.push(e.current_status);
      byOrder.set(e.order_id, seq);
    }
    const allowed = new Set([
      'CREATED',
      'CREATED,PAID',
      'CREATED,CANCELLED',
      'CREATED,PAID,SHIPPED',
      'CREATED,PAID,CANCELLED',
      'CREATED,PAID,SHIPPED,RETURNED',
    ]);
    for (const seq of byOrder.values()) assert.ok(allowed.has(seq.join()), `lifecycle ${seq.join()}`);
    const statuses = [...byOrder.values()].map((s) => s.at(-1));
    for (const s of ['CANCELLED', 'RETURNED', 'SHIPPED']) assert.ok(statuses.includes(s), `${s} occurs`);
  });

  test('holds some events back so that a later event of an order arrives first', () => {
    const g = new OrdersGenerator({
      seed: 4,
      clock: new ManualClock(T0),
      outOfOrderRate: 0.05,
      maxDelay: 1000,
    });
    const arrival = new Map<string, number[]>();
    for (const r of take(g, 50_000)) {
      if (r.kind !== 'valid') continue;
      const e = JSON.parse(r.value);
      const ranks = arrival.get(e.order_id) ?? [];
      ranks.push(STATUS_RANK[e.current_status as keyof typeof STATUS_RANK]);
      arrival.set(e.order_id, ranks);
    }
    let late = 0;
    for (const ranks of arrival.values()) if (ranks.some((r, i) => i > 0 && r < ranks[i - 1])) late++;
    assert.ok(late > 200, `orders with an event after a later one: ${late}`);
  });

  test('emits duplicates and malformed records at about the configured shares', () => {
    const g = new OrdersGenerator({
      seed: 5,
      clock: new ManualClock(T0),
      duplicateRate: 0.02,
      malformedRate: 0.02,
    });
    const recs = take(g, 100_000);
    const dup = recs.filter((r) => r.kind === 'duplicate');
    const bad = recs.filter((r) => r.kind === 'malformed');
    assert.ok(dup.length > 1500 && dup.length < 2500, `duplicates ${dup.length}`);
    assert.ok(bad.length > 1500 && bad.length < 2500, `malformed ${bad.length}`);
    const valid = new Set(recs.filter((r) => r.kind === 'valid').map((r) => r.value));
    for (const d of dup) assert.ok(valid.has(d.value), 'a duplicate re-sends a valid event byte for byte');
    const kinds = { json: 0, missing: 0, type: 0, enum: 0 };
    for (const b of bad) {
      let e: Record<string, unknown>;
      try {
        e = JSON.parse(b.value);
      } catch {
        kinds.json++;
        continue;
      }
      if (['event_id', 'event_type', 'event_timestamp', 'order_id'].some((f) => !(f in e))) kinds.missing++;
      else if (
        typeof e.total_amount === 'string' ||
        typeof e.event_timestamp === 'string' ||
        typeof e.user_id === 'number'
      )
        kinds.type++;
      else kinds.enum++;
    }
    for (const [k, n] of Object.entries(kinds)) assert.ok(n > 100, `malformed kind ${k}: ${n}`);
  });

  test('order numbers continue from startSequence and sort in creation order', () => {
    const g = new OrdersGenerator({ seed: 1, clock: new ManualClock(T0), startSequence: 999_999 });
    const ids = [...new Set(take(g, 20).map((r) => r.key))];
    assert.equal(ids[0], 'ord-20260127-0000999999');
    assert.deepEqual([...ids].sort(), ids.slice().sort());
    assert.ok(ids.includes('ord-20260127-0001000000'));
  });

  test('encodeBatch keeps every key and value intact, including non-ASCII text', () => {
    const source = {
      i: 0,
      next() {
        this.i++;
        return { key: `k${this.i}`, value: this.i % 2 ? `{"n":${this.i}}` : `{"s":"é${this.i}"}` };
      },
    };
    const recs = encodeBatch('t', source, 5);
    const dec = new TextDecoder();
    assert.deepEqual(
      recs.map((r) => [dec.decode(r.key!), dec.decode(r.value!)]),
      [
        ['k1', '{"n":1}'],
        ['k2', '{"s":"é2"}'],
        ['k3', '{"n":3}'],
        ['k4', '{"s":"é4"}'],
        ['k5', '{"n":5}'],
      ],
    );
  });

  test('produceLoop holds the rate by the clock and stops at the count', async () => {
    const clock = new ManualClock(T0);
    const calls: number[] = [];
    const log = {
      async produce(records: ProduceRecord[]) {
        calls.push(records.length);
        return [];
      },
    } as unknown as Log;
    const slept: number[] = [];
    const produced = await produceLoop({
      log,
      topic: 'orders',
      source: new OrdersGenerator({ seed: 1, clock }),
      count: 3000,
      rate: 1000,
      clock,
      sleep: async (ms) => {
        slept.push(ms);
        clock.advance(ms);
      },
    });
    assert.equal(produced, 3000);
    assert.equal(
      calls.reduce((a, b) => a + b, 0),
      3000,
    );
    // 3,000 records at 1,000/s take about 3 s of clock time.
    assert.ok(clock.now() - T0 >= 2900 && clock.now() - T0 <= 3100, `took ${clock.now() - T0} ms`);
    assert.ok(Math.max(...calls) <= 50, 'batches of ~1/20 s at a fixed rate');
  });
});
