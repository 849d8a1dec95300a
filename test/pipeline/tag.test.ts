/**
 * A contract with `on_failure: tag` (seed 003's validation_status): records that break a
 * rule are kept as rows tagged FAILED with the reason, valid ones tagged SUCCESS; records
 * that are not JSON objects of the contract's types still go to the DLQ. Checked against
 * the rules applied in plain code to the raw input.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compilePipeline } from '../../src/pipeline/compile.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import { decodeDeadLetter } from '../../src/stream/dead-letter.ts';
import { readRows } from '../../src/table/index.ts';
import { withLog } from '../stream/with-log.ts';

const DEFINITION = `
name: food_orders
source: { topic: food_orders, partitions: 3 }
contract:
  name: food_orders.v1
  on_failure: tag
  fields:
    - { name: order_id, type: integer }
    - { name: customer_name, type: string, pattern: '.*[^ ].*' }
    - { name: amount, type: number, min: 0.01 }
    - { name: order_status, type: string, pattern: '.*[^ ].*' }
    - { name: created_at, type: string }
transforms:
  - name: all_orders
    sql: SELECT order_id, customer_name, amount, order_status, validation_status, validation_reason FROM input
  - name: good
    sql: SELECT order_id, customer_name, amount, order_status, created_at[1:10] AS date FROM input WHERE validation_status = 'SUCCESS'
sinks:
  - { name: validated, type: delta_append, from: all_orders, table: validated }
  - { name: orders, type: delta_append, from: good, table: orders }
tables:
  - { name: orders, partition_by: [date] }
runtime: { trigger: 10ms, max_records_per_batch: 200 }
`;

interface Order {
  order_id?: unknown;
  customer_name?: unknown;
  amount?: unknown;
  order_status?: unknown;
  created_at?: unknown;
}

/** The seed's rules in plain code: the field that fails first, or undefined. */
function failing(o: Order): string | undefined {
  if (o.order_id === undefined || o.order_id === null) return 'order_id';
  if (typeof o.customer_name !== 'string' || o.customer_name.trim() === '') return 'customer_name';
  if (typeof o.amount !== 'number' || o.amount < 0.01) return 'amount';
  if (typeof o.order_status !== 'string' || o.order_status.trim() === '') return 'order_status';
  return undefined;
}

describe('contract failures tagged, not dropped', () => {
  it('keeps rule failures as FAILED rows with the reason, sends non-JSON and wrong types to the DLQ', async () => {
    await withLog('tag', async (log, dir) => {
      const values: string[] = [];
      const orders: Order[] = [];
      const dlq = new Set<string>();
      for (let i = 0; i < 900; i++) {
        const o: Order = {
          order_id: i,
          customer_name: ['Alice', 'Bob', '', '  ', 'Chen'][
            i % 5 === 2 ? 2 : i % 13 === 3 ? 3 : i % 5 === 4 ? 4 : i % 2
          ],
          amount: i % 11 === 5 ? -3 : i % 17 === 0 ? 0 : 10 + (i % 50),
          order_status: i % 19 === 7 ? '' : 'PLACED',
          created_at: `2026-11-${String(20 + (i % 9)).padStart(2, '0')}T10:00:00Z`,
        };
        if (i % 23 === 11) delete o.order_id;
        let text = JSON.stringify(o);
        if (i % 41 === 9) {
          text = `{"order_id": ${i}, "customer_name": `; // not JSON
          dlq.add(text);
        } else if (i % 43 === 10) {
          text = JSON.stringify({ ...o, amount: '12.50' }); // a number sent as text: wrong JSON type
          dlq.add(text);
        } else {
          orders.push(o);
        }
        values.push(text);
      }
      await log.ensureTopic('food_orders', { partitions: 3 });
      await log.produce(
        values.map((v, i) => ({
          topic: 'food_orders',
          partition: i % 3,
          value: new TextEncoder().encode(v),
        })),
      );
      const c = await compilePipeline(fromYaml(DEFINITION, 'food.yaml'), { dataDir: join(dir, 'data'), log });
      try {
        await c.pipeline.run({ untilCaughtUp: true });
      } finally {
        await c.pipeline.close();
      }
      const validated = c.tables.get('validated')!;
      const rows = await readRows(validated, await validated.snapshot());
      assert.equal(rows.length, orders.length, 'every JSON record of the contract types is a row');
      const byKey = new Map(
        rows.map((r) => [`${r.customer_name}|${r.amount}|${r.order_id}|${r.order_status}`, r]),
      );
      let failed = 0;
      for (const o of orders) {
        const r = byKey.get(`${o.customer_name}|${o.amount}|${o.order_id ?? null}|${o.order_status}`);
        assert.ok(r, `row for ${JSON.stringify(o)}`);
        const field = failing(o);
        if (field === undefined) {
          assert.equal(r.validation_status, 'SUCCESS');
          assert.equal(r.validation_reason, null);
        } else {
          failed++;
          assert.equal(r.validation_status, 'FAILED', JSON.stringify(o));
          assert.match(String(r.validation_reason), new RegExp(`^${field}: `), JSON.stringify(r));
        }
      }
      assert.ok(failed > 100, `${failed} failed rows`);
      assert.equal(c.pipeline.metrics.tagged, failed);
      const good = c.tables.get('orders')!;
      const goodRows = await readRows(good, await good.snapshot());
      assert.equal(goodRows.length, orders.length - failed, 'only SUCCESS rows in the orders table');
      assert.deepEqual((await good.snapshot()).metadata.partitionColumns, ['date']);

      const dead: string[] = [];
      for (let p = 0; p < 3; p++) {
        for (const rec of (await log.fetch('food_orders.dlq', p, 0, { maxRecords: 1000 })).records) {
          dead.push(decodeDeadLetter(rec.value!).value ?? '');
        }
      }
      assert.deepEqual(
        dead.sort(),
        [...dlq].sort(),
        'only the records that are not JSON objects of the contract types',
      );
    });
  });
});
