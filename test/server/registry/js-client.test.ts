/**
 * Confluent's JavaScript client, @kafkajs/confluent-schema-registry, against our
 * registry, unchanged: it registers sales_event v1, encodes and decodes records in
 * Confluent's wire format, evolves to v2 (a new optional field with a default), is
 * refused a breaking v3 with a 409 naming the field, and finds ids by subject, version
 * and schema. Bytes are checked against avsc's own encoding (an independent truth).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { call, type Running, SALES_V1, SALES_V2, SALES_V3, sampleV1, startRegistry } from './helpers.ts';

const SUBJECT = 'sales.events.v1-value';
/** avsc decodes records into instances of a generated class: compare their fields. */
const plain = (record: unknown): Record<string, unknown> => ({ ...(record as Record<string, unknown>) });

describe('registry: Confluent’s JavaScript client', { timeout: 60_000 }, () => {
  let reg: Running;
  let client: SchemaRegistry;
  before(async () => {
    reg = await startRegistry();
    client = new SchemaRegistry({ host: reg.url, retry: { retries: 0 } });
  });
  after(async () => {
    await reg?.stop();
  });

  let id1: number;
  let id2: number;

  test('registers v1, idempotently, and sets the subject’s level on first registration', async () => {
    ({ id: id1 } = await client.register(
      { type: 'AVRO' as never, schema: JSON.stringify(SALES_V1) },
      { subject: SUBJECT },
    ));
    assert.equal(id1, 1);
    const again = await client.register(
      { type: 'AVRO' as never, schema: JSON.stringify(SALES_V1) },
      { subject: SUBJECT },
    );
    assert.equal(again.id, id1);
    assert.equal(await client.getLatestSchemaId(SUBJECT), id1);
    assert.equal(await client.getRegistryId(SUBJECT, 1), id1);
    // The client asked GET /config/<subject> (404, 40408), then PUT it to BACKWARD.
    const config = await call(reg.url, 'GET', `/config/${SUBJECT}`);
    assert.deepEqual(config.body, { compatibilityLevel: 'BACKWARD' });
  });

  test('encodes in Confluent’s wire format, byte for byte as avsc encodes, and decodes', async () => {
    const bytes = await client.encode(id1, sampleV1);
    assert.equal(bytes[0], 0, 'magic byte');
    assert.equal(bytes.readUInt32BE(1), id1, 'schema id, big-endian');
    const body = avro.Type.forSchema(SALES_V1 as avro.Schema).toBuffer(sampleV1);
    assert.deepEqual(bytes.subarray(5), body);
    // And bytes built without the client decode through it.
    const header = Buffer.from([0, 0, 0, 0, id1]);
    assert.deepEqual(plain(await client.decode(Buffer.concat([header, body]))), sampleV1);
  });

  test('evolves to v2; v1 records read through v2 get its default', async () => {
    ({ id: id2 } = await client.register(
      { type: 'AVRO' as never, schema: JSON.stringify(SALES_V2) },
      { subject: SUBJECT },
    ));
    assert.equal(id2, 2);
    assert.equal(await client.getLatestSchemaId(SUBJECT), id2);
    assert.equal(await client.getRegistryId(SUBJECT, 2), id2);
    assert.equal(
      await client.getRegistryIdBySchema(SUBJECT, {
        type: 'AVRO' as never,
        schema: JSON.stringify(SALES_V1),
      }),
      id1,
    );
    const v1Bytes = await client.encode(id1, sampleV1);
    const read = await client.decode(v1Bytes, { AVRO: { readerSchema: SALES_V2 as never } } as never);
    assert.deepEqual(plain(read), { ...sampleV1, coupon_code: null });
    const v2Record = { ...sampleV1, schema_version: 2, coupon_code: 'SPRING' };
    assert.deepEqual(plain(await client.decode(await client.encode(id2, v2Record))), v2Record);
    const versions = await call(reg.url, 'GET', `/subjects/${SUBJECT}/versions`);
    assert.deepEqual(versions.body, [1, 2]);
  });

  test('a breaking v3 is refused with 409, naming the field; v2 stays the latest', async () => {
    await assert.rejects(
      client.register({ type: 'AVRO' as never, schema: JSON.stringify(SALES_V3) }, { subject: SUBJECT }),
      (err: Error & { status?: number }) => {
        assert.equal(err.status, 409);
        assert.match(err.message, /currency/);
        return true;
      },
    );
    assert.equal(await client.getLatestSchemaId(SUBJECT), id2);
    assert.deepEqual((await call(reg.url, 'GET', `/subjects/${SUBJECT}/versions`)).body, [1, 2]);
  });

  test('the same schema under another subject gets the same id', async () => {
    const { id } = await client.register(
      { type: 'AVRO' as never, schema: JSON.stringify(SALES_V2, null, 2) },
      {
        subject: 'sales.events.copy-value',
      },
    );
    assert.equal(id, id2);
    const versions = await call(reg.url, 'GET', `/schemas/ids/${id2}/versions`);
    assert.deepEqual(versions.body, [
      { subject: SUBJECT, version: 2 },
      { subject: 'sales.events.copy-value', version: 1 },
    ]);
  });

  test('getSchema gives the registered schema back', async () => {
    const type = (await client.getSchema(id2)) as unknown as avro.Type;
    assert.ok(type.equals(avro.Type.forSchema(SALES_V2 as avro.Schema)));
  });
});
