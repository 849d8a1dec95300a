/**
 * The sales_event schemas (pipelines/saas/*.avsc): the seed's fields with their logical
 * types, and the evolution each version shows: v2 may follow v1 under BACKWARD (and
 * FULL), v3 may not (its required sales_channel has no default), which a registry
 * refuses, naming the field.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import avro from 'avsc';
import { checkCompatibility } from '../../../src/connectors/avro/compat.ts';
import { isTributaryError } from '../../../src/core/errors.ts';
import { salesSchemaText } from '../../../src/scenarios/saas-sales/schemas.ts';
import { MemoryRegistry } from './memory-registry.ts';

const v1 = salesSchemaText(1);
const v2 = salesSchemaText(2);
const v3 = salesSchemaText(3);

describe('sales_event schemas', () => {
  test("v1 holds the seed's fields, namespaced, with timestamps in ms and the amount a decimal(12,2)", () => {
    const s = JSON.parse(v1);
    assert.equal(avro.Type.forSchema(s).name, 'com.tributary.sales.sales_event');
    const fields = new Map<string, { type: unknown }>(s.fields.map((f: { name: string }) => [f.name, f]));
    for (const name of [
      'event_id',
      'event_time',
      'ingest_time',
      'schema_version',
      'account_id',
      'plan_tier',
      'region',
    ]) {
      assert.ok(fields.has(name), name);
    }
    assert.deepEqual(fields.get('event_time')!.type, { type: 'long', logicalType: 'timestamp-millis' });
    assert.deepEqual(fields.get('ingest_time')!.type, { type: 'long', logicalType: 'timestamp-millis' });
    assert.deepEqual(fields.get('amount')!.type, {
      type: 'bytes',
      logicalType: 'decimal',
      precision: 12,
      scale: 2,
    });
    assert.equal(fields.get('schema_version')!.type, 'int');
  });

  test('v2 adds only the optional discount_code: BACKWARD and FULL accept it', () => {
    const a = JSON.parse(v1).fields.map((f: { name: string }) => f.name);
    const b = JSON.parse(v2).fields.map((f: { name: string }) => f.name);
    assert.deepEqual(b, [...a, 'discount_code']);
    for (const mode of ['BACKWARD', 'FORWARD', 'FULL', 'BACKWARD_TRANSITIVE'] as const) {
      assert.deepEqual(checkCompatibility(mode, v2, [v1]), { compatible: true, messages: [] }, mode);
    }
  });

  test('v3 (a required sales_channel without a default) is refused by BACKWARD, naming the field', async () => {
    const r = checkCompatibility('BACKWARD', v3, [v1, v2]);
    assert.equal(r.compatible, false);
    assert.match(r.messages.join('\n'), /sales_channel/);
    // Older readers ignore the new field: it would pass FORWARD, not FULL.
    assert.equal(checkCompatibility('FORWARD', v3, [v1, v2]).compatible, true);
    assert.equal(checkCompatibility('FULL', v3, [v1, v2]).compatible, false);

    const registry = new MemoryRegistry();
    assert.equal(await registry.register('sales.events.v1-value', v1), 1);
    assert.equal(await registry.register('sales.events.v1-value', v2), 2);
    await assert.rejects(
      registry.register('sales.events.v1-value', v3),
      (err) => isTributaryError(err, 'SCHEMA_INCOMPATIBLE') && /sales_channel/.test(err.message),
    );
    assert.equal((await registry.latest('sales.events.v1-value'))?.version, 2);
  });
});
