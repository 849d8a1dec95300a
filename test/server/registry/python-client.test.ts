/**
 * Python's confluent-kafka (2.16: SchemaRegistryClient, AvroSerializer, AvroDeserializer)
 * against our registry, unchanged, one Python process per test: a producer's serializer
 * registers and serializes, a client evolves a subject and is refused a breaking
 * version, a consumer's deserializer decodes what the JavaScript client encoded, and
 * configuration and deletes behave as with Confluent's registry. Bytes the Python
 * serializer wrote are decoded by the JavaScript client and by avsc.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import {
  call,
  pythonSkip,
  type Running,
  runPython,
  SALES_V1,
  SALES_V2,
  SALES_V3,
  sampleV1,
  startRegistry,
} from './helpers.ts';

const skip = pythonSkip();
const plain = (record: unknown): Record<string, unknown> => ({ ...(record as Record<string, unknown>) });

describe('registry: Python’s confluent-kafka', { skip, timeout: 180_000 }, () => {
  let reg: Running;
  let js: SchemaRegistry;
  before(async () => {
    reg = await startRegistry();
    js = new SchemaRegistry({ host: reg.url, retry: { retries: 0 } });
  });
  after(async () => {
    await reg?.stop();
  });

  test('the AvroSerializer registers sales_event and serializes; the JS client and avsc decode its bytes', async () => {
    const records = [sampleV1, { ...sampleV1, event_id: 'e-2', plan_tier: 'FREE', amount: 0 }];
    const out = await runPython('confluent_client.py', {
      action: 'produce',
      url: reg.url,
      topic: 'sales.events.v1',
      schema: JSON.stringify(SALES_V1),
      records,
    });
    const latest = await call(reg.url, 'GET', '/subjects/sales.events.v1-value/versions/latest');
    assert.equal(latest.status, 200);
    assert.equal(latest.body.version, 1);
    const id = latest.body.id as number;
    const type = avro.Type.forSchema(SALES_V1 as avro.Schema);
    for (const [i, hex] of (out.messages as string[]).entries()) {
      const bytes = Buffer.from(hex, 'hex');
      assert.equal(bytes[0], 0);
      assert.equal(bytes.readUInt32BE(1), id);
      assert.deepEqual(plain(type.fromBuffer(bytes.subarray(5))), records[i]);
      assert.deepEqual(plain(await js.decode(bytes)), records[i]);
    }
  });

  test('the client evolves a subject to v2 and is refused a breaking v3 with 409 naming the field', async () => {
    const out = await runPython('confluent_client.py', {
      action: 'evolve',
      url: reg.url,
      subject: 'py.evolve-value',
      v1: JSON.stringify(SALES_V1),
      v2: JSON.stringify(SALES_V2),
      v3: JSON.stringify(SALES_V3),
    });
    assert.equal(out.id1_again, out.id1);
    assert.equal(out.v2_compatible, true);
    assert.equal(out.v2_compatible_all, true);
    assert.notEqual(out.id2, out.id1);
    assert.equal(out.v3_compatible, false);
    assert.equal(out.v3.status, 409);
    assert.equal(out.v3.code, 409);
    assert.match(out.v3.message, /currency/);
    assert.equal(out.latest.id, out.id2);
    assert.equal(out.latest.version, 2);
    assert.deepEqual(JSON.parse(out.latest.schema), SALES_V2);
    assert.deepEqual(out.versions, [1, 2]);
    assert.deepEqual(out.lookup_v1, { id: out.id1, version: 1 });
    assert.deepEqual(JSON.parse(out.by_id), SALES_V1);
    assert.ok(out.subjects.includes('py.evolve-value'));
  });

  test('the AvroDeserializer decodes what the JS client encoded, old records through the new reader schema', async () => {
    const subject = 'sales.events.js-value';
    const { id: id1 } = await js.register(
      { type: 'AVRO' as never, schema: JSON.stringify(SALES_V1) },
      { subject },
    );
    const { id: id2 } = await js.register(
      { type: 'AVRO' as never, schema: JSON.stringify(SALES_V2) },
      { subject },
    );
    const v2Record = { ...sampleV1, event_id: 'e-9', schema_version: 2, coupon_code: 'SPRING' };
    const messages = [
      (await js.encode(id1, sampleV1)).toString('hex'),
      (await js.encode(id2, v2Record)).toString('hex'),
    ];
    const asWritten = await runPython('confluent_client.py', {
      action: 'consume',
      url: reg.url,
      topic: 'sales.events.js',
      messages,
    });
    assert.deepEqual(asWritten.records, [sampleV1, v2Record]);
    const asV2 = await runPython('confluent_client.py', {
      action: 'consume',
      url: reg.url,
      topic: 'sales.events.js',
      messages,
      reader_schema: JSON.stringify(SALES_V2),
    });
    assert.deepEqual(asV2.records, [{ ...sampleV1, coupon_code: null }, v2Record]);
  });

  test('configuration and deletes as CI tools use them', async () => {
    const subject = 'py.admin-value';
    await js.register({ type: 'AVRO' as never, schema: JSON.stringify(SALES_V1) }, { subject });
    const out = await runPython('confluent_client.py', { action: 'admin', url: reg.url, subject });
    assert.equal(out.global, 'BACKWARD');
    assert.equal(out.subject, 'FULL');
    assert.deepEqual(out.soft_deleted, [1]);
    assert.ok(!out.subjects_after_soft.includes(subject));
    assert.equal(out.latest_after_soft.status, 404);
    assert.equal(out.latest_after_soft.code, 40401);
    assert.deepEqual(out.permanently_deleted, [1]);
    // A subject deleted for good loses its own compatibility level, as with Confluent's registry.
    assert.equal(out.subject_config_after_permanent.code, 40408);
    const deleted = await call(reg.url, 'GET', '/subjects?deleted=true');
    assert.ok(!deleted.body.includes(subject));
  });
});
