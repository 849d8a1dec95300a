/**
 * The orders pipeline is its definition file: its contract's enums are the generator's
 * (so generated events are valid by construction, and a new event type cannot be added
 * to one without the other), and the tables it declares are the seed's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CATEGORIES,
  CURRENCIES,
  EVENT_TYPES,
  PAYMENT_METHODS,
} from '../../src/connectors/generators/orders.ts';
import { builtinDefinitionSync, builtinNames } from '../../src/pipeline/builtin.ts';
import { checkDefinition } from '../../src/pipeline/compile.ts';
import { ORDER_STATUSES } from '../../src/scenarios/orders/contract.ts';

test('orders.yaml: enums equal the generator’s, tables as the seed has them, SQL binds', async () => {
  assert.ok(builtinNames().includes('orders'));
  const loaded = builtinDefinitionSync('orders');
  const fields = new Map(loaded.definition.contract!.fields.map((f) => [f.name, f]));
  assert.deepEqual(fields.get('event_type')!.enum, [...EVENT_TYPES]);
  assert.deepEqual(fields.get('currency')!.enum, [...CURRENCIES]);
  assert.deepEqual(fields.get('payment_method')!.enum, [...PAYMENT_METHODS]);
  assert.deepEqual(fields.get('current_status')!.enum, [...ORDER_STATUSES]);
  const category = fields.get('items')!.items!.find((f) => f.name === 'category')!;
  assert.deepEqual(category.enum, [...CATEGORIES]);
  const { plan, checked } = await checkDefinition(loaded);
  assert.deepEqual([...plan.tables.keys()], ['orders_events', 'orders_current']);
  assert.deepEqual(plan.tables.get('orders_events')!.partitions, [{ name: 'event_hour' }]);
  assert.equal(checked.sinkColumns.get('orders_current')!.names[0], 'order_id');
});
