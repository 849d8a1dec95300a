/**
 * The contract's precise check is prepared once per connection and reused batch after
 * batch: each call must name the rule its own records break, never see an earlier
 * batch's records, and keep two contracts on one connection apart.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { explainViolations } from '../../src/connectors/json/explain.ts';
import { quoteString } from '../../src/core/sql.ts';
import { compileContract } from '../../src/quality/contract.ts';
import { ordersContract } from '../../src/scenarios/orders/contract.ts';
import { SAMPLE_ORDER_EVENT } from '../../src/scenarios/orders/sample.ts';
import { openConnection } from '../../src/table/index.ts';

const GOOD = SAMPLE_ORDER_EVENT;

const rec = (partition: number, offset: number, v: object) => ({
  partition,
  offset,
  value: Buffer.from(JSON.stringify(v)),
});

describe('prepared precise check', async () => {
  const conn = await openConnection();
  after(() => conn.closeSync());
  const orders = compileContract(ordersContract);

  test('each batch gets its own records explained, batch after batch', async () => {
    const first = await explainViolations(
      conn,
      [
        rec(0, 10, { ...GOOD, event_type: 'ORDER_LOST' }),
        rec(1, 11, { ...GOOD, event_timestamp: 1.5 }),
        rec(1, 12, GOOD),
      ],
      orders,
    );
    assert.deepEqual(first.get('0/10'), {
      field: 'event_type',
      rule: 'enum',
      message:
        "'ORDER_LOST' is not one of ORDER_CREATED, ORDER_PAID, ORDER_SHIPPED, ORDER_CANCELLED, ORDER_RETURNED",
    });
    assert.equal(first.get('1/11')?.rule, 'type');
    assert.equal(first.get('1/11')?.field, 'event_timestamp');
    // A record the precise check finds valid has no entry.
    assert.equal(first.has('1/12'), false);
    assert.equal(first.size, 2);

    const { items: _, ...noItems } = GOOD;
    const second = await explainViolations(conn, [rec(3, 7, noItems)], orders);
    assert.deepEqual([...second.keys()], ['3/7']);
    assert.equal(second.get('3/7')?.field, 'items');
    assert.equal(second.get('3/7')?.rule, 'required');
  });

  test('concurrent calls and a second contract on the same connection stay apart', async () => {
    const small = compileContract({ name: 'small', fields: [{ name: 'n', type: 'integer', min: 5 }] });
    const [a, b, c] = await Promise.all([
      explainViolations(conn, [rec(0, 1, { ...GOOD, currency: 'XXX' })], orders),
      explainViolations(conn, [rec(0, 2, { n: 3 })], small),
      explainViolations(conn, [rec(0, 3, { ...GOOD, total_amount: -1 })], orders),
    ]);
    assert.deepEqual(
      [...a.entries()].map(([k, v]) => [k, v.field, v.rule]),
      [['0/1', 'currency', 'enum']],
    );
    assert.deepEqual(
      [...b.entries()].map(([k, v]) => [k, v.field, v.rule]),
      [['0/2', 'n', 'min']],
    );
    assert.deepEqual(
      [...c.entries()].map(([k, v]) => [k, v.field, v.rule]),
      [['0/3', 'total_amount', 'min']],
    );
  });

  test('the prepared check names the same rule as the same check run unprepared, for every kind of break', async () => {
    const mutants: unknown[] = [5, [1], 'text', null];
    for (const k of Object.keys(GOOD)) {
      const without: Record<string, unknown> = { ...GOOD };
      delete without[k];
      mutants.push(without, { ...GOOD, [k]: null }, { ...GOOD, [k]: true }, { ...GOOD, [k]: -1.5 });
      mutants.push({ ...GOOD, [k]: 'nope' }, { ...GOOD, [k]: 99_999_999_999 }, { ...GOOD, [k]: [] });
    }
    const item = GOOD.items[0];
    for (const k of Object.keys(item)) {
      mutants.push(
        { ...GOOD, items: [item, { ...item, [k]: null }] },
        { ...GOOD, items: [{ ...item, [k]: -2 }] },
      );
      mutants.push({ ...GOOD, items: [{ ...item, [k]: 'x' }] });
    }
    const records = mutants.map((v, i) => ({
      partition: i % 4,
      offset: i,
      value: Buffer.from(JSON.stringify(v)),
    }));
    // Twice: the second call runs on the plan (and table) left by the first.
    for (let round = 0; round < 2; round++) {
      const got = await explainViolations(conn, records, orders);
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tributary-explain-'));
      try {
        const file = path.join(dir, 'r.ndjson');
        await fs.writeFile(
          file,
          records.map((r) => `{"o":${r.offset},"p":${r.partition},"v":${r.value.toString()}}\n`).join(''),
        );
        const rows = (
          await conn.runAndReadAll(
            `SELECT p, o, ${orders.violation} AS why FROM read_json(${quoteString(file)}, format='newline_delimited', columns={'o': 'BIGINT', 'p': 'INTEGER', 'v': ${quoteString(orders.preciseType)}}, ignore_errors=true) WHERE o IS NOT NULL ORDER BY o`,
          )
        ).getRowObjectsJson();
        const want = new Map(rows.filter((r) => r.why !== null).map((r) => [`${r.p}/${r.o}`, r.why]));
        assert.ok(want.size > 60, `expected most mutants to break a rule, got ${want.size}`);
        assert.deepEqual(Object.fromEntries(got), Object.fromEntries(want));
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    }
  });
});
