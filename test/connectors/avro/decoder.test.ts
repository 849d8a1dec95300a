/**
 * The Avro decoder on batches of framed records made by avsc (an independent encoder):
 * values land typed in DuckDB, records of two writer versions in one table schema, and
 * every record that cannot be read goes to the DLQ with its bytes unchanged while the
 * rest of the batch goes on.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { columnFieldSpec, readerColumns } from '../../../src/connectors/avro/columns.ts';
import { AvroDecoder } from '../../../src/connectors/avro/decoder.ts';
import { parseAvroSchema } from '../../../src/connectors/avro/parse.ts';
import { openConnection } from '../../../src/table/index.ts';
import { pythonSkip, ROOT } from '../../interop/helpers.ts';
import { avroType, decimalBytes, framed, MemoryRegistry, SALES_V1, SALES_V2, valueBatch } from './helpers.ts';

const PYTHON = process.env.TRIBUTARY_TEST_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');
const conn = await openConnection();
after(() => conn.closeSync());

function decoderFor(registry: MemoryRegistry, reader: object, rules: Record<string, object> = {}) {
  const text = JSON.stringify(reader);
  const { columns } = readerColumns(parseAvroSchema(text));
  const fields = columns.map((c) => ({ ...columnFieldSpec(c), ...rules[c.name] }));
  return new AvroDecoder({ readerSchema: text, registry, contract: { name: 'sales', fields } });
}

function event(i: number, patch: Record<string, unknown> = {}) {
  return {
    event_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    event_time: 1_769_515_200_000 + i * 1000,
    ingest_time: 1_769_515_200_500 + i * 1000,
    schema_version: 1,
    account_id: `acct-${i % 7}`,
    plan_tier: ['free', 'starter', 'pro', 'enterprise'][i % 4],
    region: ['eu-west-1', 'us-east-1', 'ap-south-1'][i % 3],
    event_type: 'invoice_paid',
    amount: decimalBytes(BigInt(i * 137 - 500)),
    currency: 'EUR',
    ...patch,
  };
}

async function rows(table: string) {
  return (
    await conn.runAndReadAll(`SELECT * EXCLUDE (_t) FROM ${table} ORDER BY _p, _o`)
  ).getRowObjectsJson();
}

describe('Avro decoder', () => {
  test('records decode into typed columns', async () => {
    const registry = new MemoryRegistry();
    const v1 = avroType(SALES_V1);
    const id = await registry.register('sales-value', JSON.stringify(SALES_V1));
    const d = decoderFor(registry, SALES_V1);
    const values = Array.from({ length: 5000 }, (_, i) => framed(v1, id, event(i)));
    const out = await d.decode(conn, [valueBatch(values, { partition: 1, first: 10 })], conn);
    assert.equal(out.valid, 5000);
    assert.equal(out.rejectedCount, 0);
    const got = await rows(out.rawTable);
    assert.equal(got.length, 5000);
    assert.deepEqual(got[3], {
      _o: '13',
      _p: 1,
      _ok: true,
      event_id: '00000000-0000-4000-8000-000000000003',
      event_time: '2026-01-27 12:00:03+00',
      ingest_time: '2026-01-27 12:00:03.5+00',
      schema_version: '1',
      account_id: 'acct-3',
      plan_tier: 'enterprise',
      region: 'eu-west-1',
      event_type: 'invoice_paid',
      amount: '-0.89',
      currency: 'EUR',
    });
    const types = (await conn.runAndReadAll(`SELECT * FROM ${out.rawTable} LIMIT 0`))
      .columnTypes()
      .map(String);
    assert.deepEqual(types, [
      'BIGINT',
      'INTEGER',
      'BIGINT',
      'BOOLEAN',
      'VARCHAR',
      'TIMESTAMP WITH TIME ZONE',
      'TIMESTAMP WITH TIME ZONE',
      'BIGINT',
      'VARCHAR',
      'VARCHAR',
      'VARCHAR',
      'VARCHAR',
      'DECIMAL(12,2)',
      'VARCHAR',
    ]);
    assert.equal(registry.lookups, 1);
    const sum = (
      await conn.runAndReadAll(`SELECT sum(amount)::VARCHAR FROM ${out.rawTable}`)
    ).getRows()[0][0];
    const expected = Array.from({ length: 5000 }, (_, i) => i * 137 - 500).reduce((a, b) => a + b, 0);
    assert.equal(sum, (expected / 100).toFixed(2));
  });

  test('records of two writer versions land in one table schema (v2 adds an optional field)', async () => {
    const registry = new MemoryRegistry();
    const id1 = await registry.register('sales-value', JSON.stringify(SALES_V1));
    const id2 = await registry.register('sales-value', JSON.stringify(SALES_V2));
    const [v1, v2] = [avroType(SALES_V1), avroType(SALES_V2)];
    const values = Array.from({ length: 3000 }, (_, i) =>
      i % 2 === 0
        ? framed(v1, id1, event(i))
        : framed(v2, id2, {
            ...event(i, { schema_version: 2 }),
            coupon_code: i % 3 === 0 ? null : `SPRING${i}`,
          }),
    );
    // The new reader fills the old records' missing field with its default.
    const d2 = decoderFor(registry, SALES_V2);
    const out = await d2.decode(conn, [valueBatch(values)], conn);
    assert.equal(out.valid, 3000);
    const got = await rows(out.rawTable);
    for (const [i, r] of got.entries()) {
      assert.equal(r.schema_version, i % 2 === 0 ? '1' : '2');
      assert.equal(r.coupon_code, i % 2 === 0 || i % 3 === 0 ? null : `SPRING${i}`);
      assert.equal(r.event_id, event(i).event_id);
    }
    assert.equal(registry.lookups, 2);
    // The old reader skips the field it does not know.
    const d1 = decoderFor(registry, SALES_V1);
    const old = await d1.decode(conn, [valueBatch(values)], conn);
    assert.equal(old.valid, 3000);
    assert.deepEqual(
      (await rows(old.rawTable)).map((r) => r.account_id),
      got.map((r) => r.account_id),
    );
  });

  test('every unreadable record goes to the DLQ with its bytes unchanged and the reason; the batch goes on', async () => {
    const registry = new MemoryRegistry();
    const v1 = avroType(SALES_V1);
    const id = await registry.register('sales-value', JSON.stringify(SALES_V1));
    const incompatible = {
      ...SALES_V1,
      fields: SALES_V1.fields.map((f) => (f.name === 'region' ? { name: 'region', type: 'boolean' } : f)),
    };
    const badId = await registry.register('other-value', JSON.stringify(incompatible));
    const good = (i: number) => framed(v1, id, event(i));
    const body = Buffer.from(good(4));
    const badUtf8 = Buffer.from(framed(v1, id, event(9, { account_id: 'acct-\u00e9' })));
    badUtf8[badUtf8.indexOf(0xc3)] = 0xff;
    const cases: Array<[Uint8Array | null, string, RegExp]> = [
      [good(0), '', /./],
      [null, 'avro_magic', /empty record/],
      [Buffer.from('{"event_id": "x"}'), 'avro_magic', /first byte is 0x7b.*JSON/],
      [Buffer.from([0, 0, 0]), 'avro_magic', /3 bytes is too short/],
      [framed(v1, 999, event(5)), 'avro_schema_id', /schema id 999 is not in the schema registry/],
      [body.subarray(0, body.length - 3), 'avro_body', /ends in the middle/],
      [Buffer.concat([body, Buffer.from([7])]), 'avro_body', /1 byte left after the last field/],
      [Buffer.from([0, 0, 0, 0, id, 0x01]), 'avro_body', /event_id.*negative/],
      [
        framed(avroType(incompatible), badId, { ...event(6), region: true }),
        'avro_resolve',
        /cannot read it/,
      ],
      [badUtf8, 'avro_body', /account_id.*not valid UTF-8/],
      [
        framed(v1, id, event(7, { amount: Buffer.from([0xff, 0x00]) })),
        'min',
        /-2.56 is below the minimum 0/,
      ],
      [
        framed(v1, id, event(8, { plan_tier: 'free' })),
        'enum',
        /'free' is not one of starter, pro, enterprise/,
      ],
      [good(12), '', /./],
    ];
    const d = decoderFor(registry, SALES_V1, {
      amount: { min: 0 },
      plan_tier: { enum: ['starter', 'pro', 'enterprise'] },
    });
    // Tiers the contract takes, amounts of at least 0.
    cases[0][0] = framed(v1, id, event(5));
    cases[cases.length - 1][0] = framed(v1, id, event(13));
    const input = cases.map(([v]) => v);
    const out = await d.decode(conn, [valueBatch(input, { partition: 2, first: 40 })], conn);
    const rejected = await out.rejected;
    if (process.env.DEBUG) console.log(rejected.map((r) => [r.offset, r.rule, r.message]));
    assert.equal(out.valid, 2);
    assert.equal(out.rejectedCount, cases.length - 2);
    assert.deepEqual(
      (await rows(out.validTable)).map((r) => r._o),
      ['40', String(40 + cases.length - 1)],
    );
    for (const r of rejected) {
      const [value, rule, message] = cases[r.offset - 40];
      assert.equal(r.rule, rule, `offset ${r.offset}: ${r.message}`);
      assert.match(r.message, message);
      assert.equal(r.partition, 2);
      assert.deepEqual(
        r.value === null ? null : Buffer.from(r.value),
        value === null ? null : Buffer.from(value),
      );
      if (rule === 'min' || rule === 'enum') assert.equal(r.field, rule === 'min' ? 'amount' : 'plan_tier');
      else assert.equal(r.field, '');
    }
    assert.deepEqual(
      rejected.map((r) => r.offset),
      cases.map((_, i) => 40 + i).filter((o) => o !== 40 && o !== 40 + cases.length - 1),
    );
  });

  test('a registry that cannot be reached fails the batch: nothing is rejected, and a retry decodes it', async () => {
    const registry = new MemoryRegistry();
    const v1 = avroType(SALES_V1);
    const id = await registry.register('sales-value', JSON.stringify(SALES_V1));
    const d = decoderFor(registry, SALES_V1);
    const input = [valueBatch([framed(v1, id, event(1)), framed(v1, id, event(2))])];
    registry.down = true;
    await assert.rejects(d.decode(conn, input, conn), { code: 'REGISTRY_UNAVAILABLE' });
    registry.down = false;
    const out = await d.decode(conn, input, conn);
    assert.equal(out.valid, 2);
    assert.equal(out.rejectedCount, 0);
    // Once known, a writer schema needs the registry no more.
    registry.down = true;
    assert.equal((await d.decode(conn, input, conn)).valid, 2);
  });

  test("records serialized by Confluent's own AvroSerializer (Python) decode", {
    skip: pythonSkip(),
  }, async () => {
    const registry = new MemoryRegistry();
    // Registered first in both registries: id 1 in ours and in the client's mock.
    const id = await registry.register('sales.events.v1-value', JSON.stringify(SALES_V2));
    assert.equal(id, 1);
    const records = Array.from({ length: 50 }, (_, i) => ({
      ...event(i + 4),
      event_time: new Date(1_769_515_200_000 + i * 1000).toISOString(),
      ingest_time: new Date(1_769_515_200_000 + i * 1000 + 5).toISOString(),
      amount: ((i + 4) * 137 - 500) / 100 + '',
      coupon_code: i % 2 ? 'SPRING' : null,
    }));
    const out = execFileSync(PYTHON, [join(ROOT, 'test/connectors/avro/py/confluent_encode.py')], {
      input: JSON.stringify({ topic: 'sales.events.v1', schema: JSON.stringify(SALES_V2), records }),
    });
    const values = out
      .toString()
      .trim()
      .split('\n')
      .map((h) => Buffer.from(h, 'hex'));
    const d = decoderFor(registry, SALES_V2);
    const decoded = await d.decode(conn, [valueBatch(values)], conn);
    assert.equal(decoded.valid, 50);
    const got = await rows(decoded.rawTable);
    assert.deepEqual(
      got.map((r) => [r.event_id, r.amount, r.coupon_code, r.event_time]),
      records.map((r, i) => [
        r.event_id,
        (((i + 4) * 137 - 500) / 100).toFixed(2),
        r.coupon_code,
        `${r.event_time.replace('T', ' ').replace('.000Z', '')}+00`,
      ]),
    );
  });
});
