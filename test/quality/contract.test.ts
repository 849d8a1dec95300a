/**
 * The order contract compiled to DuckDB SQL, run through the runtime's decode step on a
 * hand-made batch: valid records come out typed, each invalid one with the field, the
 * rule and a message saying what was wrong.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { decodeBatch } from '../../src/connectors/json/decode.ts';
import type { ValueBatch } from '../../src/log/log.ts';
import { compileContract } from '../../src/quality/contract.ts';
import { ordersContract } from '../../src/scenarios/orders/contract.ts';
import { SAMPLE_ORDER_EVENT } from '../../src/scenarios/orders/sample.ts';
import { openConnection } from '../../src/table/index.ts';

const GOOD = SAMPLE_ORDER_EVENT;

function batch(values: Array<string | Buffer | null>, partition = 2, first = 100): ValueBatch {
  const parts: Buffer[] = [];
  const ends = new Uint32Array(values.length);
  let pos = 0;
  values.forEach((v, i) => {
    const b = v === null ? Buffer.alloc(0) : Buffer.isBuffer(v) ? v : Buffer.from(v);
    parts.push(b, Buffer.from('\n'));
    pos += b.length;
    ends[i] = pos;
    pos += 1;
  });
  return {
    topic: 'orders',
    partition,
    count: values.length,
    values: Buffer.concat(parts),
    offsets: Float64Array.from(values, (_, i) => first + i),
    timestamps: Float64Array.from(values, () => 1769515200123),
    ends,
    nextOffset: first + values.length,
    highWatermark: first + values.length,
  };
}

const conn = await openConnection();
after(() => conn.closeSync());
const contract = compileContract(ordersContract);
const json = (patch: Record<string, unknown>, drop?: string) => {
  const e: Record<string, unknown> = { ...GOOD, ...patch };
  if (drop) delete e[drop];
  return JSON.stringify(e);
};

describe('order contract', () => {
  test('valid records come out typed; each invalid one with field, rule and message', async () => {
    const cases: Array<[string | Buffer | null, string, string, RegExp]> = [
      ['{"event_id": "x", "order_id"', '', 'json', /not valid JSON/],
      [json({}, 'order_id'), 'order_id', 'required', /missing/],
      [json({ order_id: null }), 'order_id', 'required', /missing or null/],
      [
        json({ total_amount: 'a lot' }),
        'total_amount',
        'type',
        /expected number, got string \(at byte \d+\)/,
      ],
      [json({ event_timestamp: 'yesterday' }), 'event_timestamp', 'type', /expected integer/],
      [
        json({ event_timestamp: 1769515200.5 }),
        'event_timestamp',
        'type',
        /expected integer, got 1769515200.5/,
      ],
      [json({ event_type: 'ORDER_TELEPORTED' }), 'event_type', 'enum', /'ORDER_TELEPORTED' is not one of/],
      [json({ currency: 'DOGE' }), 'currency', 'enum', /DOGE/],
      [json({ event_id: 'not-a-uuid' }), 'event_id', 'pattern', /does not match/],
      [json({ event_timestamp: 1769515200123 }), 'event_timestamp', 'max', /above the maximum/],
      [json({ total_amount: -1 }), 'total_amount', 'min', /below the minimum 0/],
      [json({ total_amount: 10.999 }), 'total_amount', 'decimals', /10.999 has more than 2 decimal places/],
      [json({ total_amount: 1e11 }), 'total_amount', 'max', /above the maximum 9999999999.99/],
      [
        json({ items: [{ ...GOOD.items[0], unit_price: 0.005 }] }),
        'items[0].unit_price',
        'decimals',
        /0.005 has more than 2 decimal places/,
      ],
      [json({ items: [] }), 'items', 'minItems', /0 elements, at least 1/],
      [json({ items: {} }), 'items', 'type', /expected array, got object/],
      [
        json({ items: [GOOD.items[0], { ...GOOD.items[0], quantity: 0 }] }),
        'items[].quantity',
        'min',
        /element 2: 0 is below the minimum 1/,
      ],
      [json({ items: [{ ...GOOD.items[0], category: 'Weapons' }] }), 'items[].category', 'enum', /Weapons/],
      [null, '', 'json', /empty record/],
      [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), '', 'json', /not valid UTF-8/],
      ['[1, 2, 3]', '', 'json', /not a JSON object/],
    ];
    const values = [
      json({}),
      ...cases.map((c) => c[0]),
      // Cents fit, up to the largest DECIMAL(12,2): valid.
      json({ event_type: 'ORDER_SHIPPED', current_status: 'SHIPPED', total_amount: 9_999_999_999.99 }),
    ];
    const decoded = await decodeBatch(conn, [batch(values)], contract);
    assert.equal(decoded.valid, 2);
    assert.equal(decoded.rejected.length, cases.length);
    decoded.rejected.forEach((r, i) => {
      const [value, field, rule, message] = cases[i];
      assert.equal(r.offset, 101 + i, 'rejects in offset order');
      assert.equal(r.partition, 2);
      assert.equal(r.field, field, `field of case ${i}: ${r.message}`);
      assert.equal(r.rule, rule, `rule of case ${i}: ${r.message}`);
      assert.match(r.message, message);
      if (value === null) assert.equal(r.value, null);
      else assert.ok(Buffer.from(r.value!).equals(Buffer.from(value)), `original bytes of case ${i}`);
    });
    const rows = (
      await conn.runAndReadAll(`SELECT * FROM ${decoded.validTable} ORDER BY _o`)
    ).getRowObjectsJson();
    assert.equal(rows.length, 2);
    assert.equal(rows[0]._o, '100');
    assert.equal(rows[0].event_timestamp, '1769515200');
    assert.equal(rows[0].total_amount, 299);
    assert.deepEqual(rows[0].items, [
      { sku: 'SKU-999', quantity: '1', unit_price: 299, category: 'Electronics' },
    ]);
    assert.equal(rows[1].event_type, 'ORDER_SHIPPED');
    assert.equal(rows[1].total_amount, 9_999_999_999.99);
  });

  test('a value cannot override its own offset', async () => {
    const sneaky = `{"o":5,"p":0,"v":1}`;
    const decoded = await decodeBatch(conn, [batch([sneaky], 1, 7)], contract);
    assert.equal(decoded.rejected.length, 1);
    assert.equal(decoded.rejected[0].offset, 7);
    assert.equal(decoded.rejected[0].partition, 1);
  });

  test('a number field with precision is an exact DECIMAL; a value too large for it breaks the rule', async () => {
    const money = compileContract({
      name: 'tips',
      fields: [
        { name: 'id', type: 'integer' },
        { name: 'tip', type: 'number', required: false, decimals: 2, precision: 10 },
      ],
    });
    const values = [
      '{"id":1,"tip":2.50}',
      '{"id":2,"tip":0.1}',
      '{"id":3,"tip":99999999.99}',
      '{"id":4,"tip":null}',
      '{"id":5}',
      '{"id":6,"tip":100000000}',
      '{"id":7,"tip":-100000000.5}',
      '{"id":8,"tip":1.005}',
    ];
    const decoded = await decodeBatch(conn, [batch(values, 0, 0)], money);
    assert.equal(decoded.valid, 5);
    assert.deepEqual(
      decoded.rejected.map((r) => [r.offset, r.field, r.rule, r.message]),
      [
        [5, 'tip', 'precision', '100000000 has more than 8 digits before the point (DECIMAL(10, 2))'],
        [6, 'tip', 'precision', '-100000000.5 has more than 8 digits before the point (DECIMAL(10, 2))'],
        [7, 'tip', 'decimals', '1.005 has more than 2 decimal places (at byte 14)'],
      ],
    );
    const r = await conn.runAndReadAll(
      `SELECT id, tip::VARCHAR AS tip, typeof(tip) AS t FROM ${decoded.validTable} ORDER BY id`,
    );
    assert.deepEqual(r.getRowObjectsJson(), [
      { id: '1', tip: '2.50', t: 'DECIMAL(10,2)' },
      { id: '2', tip: '0.10', t: 'DECIMAL(10,2)' },
      { id: '3', tip: '99999999.99', t: 'DECIMAL(10,2)' },
      { id: '4', tip: null, t: 'DECIMAL(10,2)' },
      { id: '5', tip: null, t: 'DECIMAL(10,2)' },
    ]);
    assert.throws(
      () => compileContract({ name: 'x', fields: [{ name: 'a', type: 'number', precision: 10 }] }),
      /precision 10: only a number field with decimals/,
    );
  });
});
