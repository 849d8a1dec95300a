/**
 * Rows encoded as Avro by us are read back by Confluent's own deserializer
 * (confluent-kafka's AvroDeserializer, Python, with the schema we registered) and by
 * avsc: every DuckDB type the encoder writes, nulls in every column, the limits of
 * longs and decimals; and with a given schema (enum, fixed decimal, millisecond
 * timestamps, a union with null second, a field the rows lack).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import avro from 'avsc';
import { AvroRowEncoder } from '../../../src/connectors/avro/encoder.ts';
import { unframe } from '../../../src/connectors/avro/wire.ts';
import { openConnection } from '../../../src/table/index.ts';
import { pythonSkip, ROOT } from '../../interop/helpers.ts';
import { MemoryRegistry } from './helpers.ts';

const PYTHON = process.env.TRIBUTARY_TEST_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');
const conn = await openConnection();
after(() => conn.closeSync());

/** The rows, as SQL, and what a reader must get from them (normalised as the Python script does). */
const ROWS = [
  {
    sql: `'plain', 7::INTEGER, 9007199254740993::BIGINT, 12::HUGEINT, 1.5::DOUBLE, true, 12.30::DECIMAL(12,2), 123456789012345678.0123456789::DECIMAL(38,10), TIMESTAMPTZ '2026-11-29 09:00:00.123456+00', TIMESTAMP '2026-11-29 10:00:00', DATE '2026-11-29', UUID '6f1c2a34-8b0e-4c55-9a1e-0d3c2b1a0f99', '\\xDE\\xAD'::BLOB`,
    expected: {
      s: 'plain',
      i: 7,
      l: '9007199254740993',
      h: 12,
      d: 1.5,
      b: true,
      m: '12.30',
      big: '123456789012345678.0123456789',
      ts: '2026-11-29T09:00:00.123456Z',
      tl: '2026-11-29T10:00:00.000000Z',
      dt: '2026-11-29',
      u: '6f1c2a34-8b0e-4c55-9a1e-0d3c2b1a0f99',
      bl: 'dead',
    },
  },
  {
    sql: `'ünïcödé ✓ and a longer text past sixty-three bytes so the length takes two bytes', (-2147483648)::INTEGER, (-9223372036854775808)::BIGINT, (-5)::HUGEINT, (-0.25)::DOUBLE, false, (-0.01)::DECIMAL(12,2), (-99999999999999999999999999.9999999999)::DECIMAL(38,10), TIMESTAMPTZ '1969-12-31 23:59:59.999999+00', TIMESTAMP '1970-01-01 00:00:00', DATE '1969-12-31', UUID '00000000-0000-0000-0000-000000000000', ''::BLOB`,
    expected: {
      s: 'ünïcödé ✓ and a longer text past sixty-three bytes so the length takes two bytes',
      i: -2147483648,
      l: '-9223372036854775808',
      h: -5,
      d: -0.25,
      b: false,
      m: '-0.01',
      big: '-99999999999999999999999999.9999999999',
      ts: '1969-12-31T23:59:59.999999Z',
      tl: '1970-01-01T00:00:00.000000Z',
      dt: '1969-12-31',
      u: '00000000-0000-0000-0000-000000000000',
      bl: '',
    },
  },
  {
    sql: 'NULL::VARCHAR, NULL::INTEGER, NULL::BIGINT, NULL::HUGEINT, NULL::DOUBLE, NULL::BOOLEAN, NULL::DECIMAL(12,2), NULL::DECIMAL(38,10), NULL::TIMESTAMPTZ, NULL::TIMESTAMP, NULL::DATE, NULL::UUID, NULL::BLOB',
    expected: {
      s: null,
      i: null,
      l: null,
      h: null,
      d: null,
      b: null,
      m: null,
      big: null,
      ts: null,
      tl: null,
      dt: null,
      u: null,
      bl: null,
    },
  },
];
const NAMES = ['s', 'i', 'l', 'h', 'd', 'b', 'm', 'big', 'ts', 'tl', 'dt', 'u', 'bl'];
const rowsSql = `SELECT * FROM (VALUES ${ROWS.map((r) => `(${r.sql})`).join(', ')}) AS t(${NAMES.join(', ')})`;

async function encodeAll(enc: AvroRowEncoder, sql: string): Promise<Uint8Array[]> {
  await enc.open();
  const r = await conn.runAndReadAll(`SELECT ${enc.select('r').join(', ')} FROM (${sql}) AS r`);
  return r.getRows().map((row) => enc.encode(row));
}

async function columnsOf(sql: string) {
  const r = await conn.runAndReadAll(`SELECT * FROM (${sql}) LIMIT 0`);
  return r.columnNames().map((name, i) => ({ name, type: r.columnTypes()[i].toString() }));
}

function confluentDecode(topic: string, schemas: string[], records: Uint8Array[]) {
  const out = execFileSync(PYTHON, [join(ROOT, 'test/connectors/avro/py/confluent_decode.py')], {
    input: JSON.stringify({ topic, schemas, records: records.map((r) => Buffer.from(r).toString('hex')) }),
  });
  return JSON.parse(out.toString()) as { ids: number[]; records: Record<string, unknown>[] };
}

describe('Avro encoder', { skip: pythonSkip() }, () => {
  test("a schema from the rows' columns; Confluent's deserializer reads every value", async () => {
    const registry = new MemoryRegistry();
    const enc = new AvroRowEncoder({
      registry,
      subject: 'revenue-value',
      columns: await columnsOf(rowsSql),
      name: 'revenue_5m',
    });
    const records = await encodeAll(enc, rowsSql);
    assert.deepEqual([...registry.subjects.get('revenue-value')!], [1]);
    const schema = JSON.parse(registry.schemas.get(1)!);
    assert.equal(schema.name, 'revenue_5m');
    assert.deepEqual(schema.fields[8], {
      name: 'ts',
      type: ['null', { type: 'long', logicalType: 'timestamp-micros' }],
      default: null,
    });
    assert.deepEqual(schema.fields[6].type[1], {
      type: 'bytes',
      logicalType: 'decimal',
      precision: 12,
      scale: 2,
    });
    for (const r of records) assert.equal((unframe(r) as { id: number }).id, 1);
    const got = confluentDecode('revenue', [registry.schemas.get(1)!], records);
    assert.deepEqual(got.ids, [1]);
    assert.deepEqual(
      got.records,
      ROWS.map((r) => r.expected),
    );
    // avsc reads them too (it refuses longs past 2^53, so the row of nulls).
    const type = avro.Type.forSchema(schema, { wrapUnions: 'never' } as Partial<avro.ForSchemaOptions>);
    const nulls = type.fromBuffer(Buffer.from(records[2]).subarray(5)) as Record<string, unknown>;
    assert.deepEqual(
      Object.values(nulls),
      NAMES.map(() => null),
    );
  });

  test('a given schema: enum, fixed decimal, millisecond timestamps, null second in a union, a field the rows lack', async () => {
    const given = JSON.stringify({
      type: 'record',
      name: 'agg',
      namespace: 'sales',
      fields: [
        { name: 'tier', type: { type: 'enum', name: 'tier', symbols: ['free', 'pro'] } },
        {
          name: 'revenue',
          type: { type: 'fixed', name: 'money', size: 8, logicalType: 'decimal', precision: 16, scale: 2 },
        },
        { name: 'window_start', type: { type: 'long', logicalType: 'timestamp-millis' } },
        { name: 'n', type: ['long', 'null'] },
        { name: 'note', type: ['null', 'string'], default: null },
      ],
    });
    const sql = `SELECT * FROM (VALUES ('pro', 1234.50::DECIMAL(38,2), TIMESTAMPTZ '2026-11-29 09:05:00+00', 3::BIGINT), ('free', (-0.07)::DECIMAL(38,2), TIMESTAMPTZ '2026-11-29 09:10:00+00', NULL)) AS t(tier, revenue, window_start, n)`;
    const registry = new MemoryRegistry();
    const enc = new AvroRowEncoder({
      registry,
      subject: 'agg-value',
      columns: await columnsOf(sql),
      name: 'x',
      schema: given,
    });
    const records = await encodeAll(enc, sql);
    const got = confluentDecode('agg', [given], records);
    assert.deepEqual(got.records, [
      { tier: 'pro', revenue: '1234.50', window_start: '2026-11-29T09:05:00.000000Z', n: 3, note: null },
      { tier: 'free', revenue: '-0.07', window_start: '2026-11-29T09:10:00.000000Z', n: null, note: null },
    ]);
  });

  test('rows that do not fit are refused with the column named', async () => {
    const registry = new MemoryRegistry();
    assert.throws(
      () =>
        new AvroRowEncoder({
          registry,
          subject: 's-value',
          columns: [{ name: 'xs', type: 'INTEGER[]' }],
          name: 'x',
          where: "sink 'out'",
        }),
      /sink 'out': column 'xs' is INTEGER\[\], which has no Avro form here/,
    );
    const given = JSON.stringify({
      type: 'record',
      name: 'r',
      fields: [{ name: 'a', type: { type: 'enum', name: 'e', symbols: ['x'] } }],
    });
    const enc = new AvroRowEncoder({
      registry,
      subject: 's-value',
      columns: [{ name: 'a', type: 'VARCHAR' }],
      name: 'x',
      schema: given,
    });
    await assert.rejects(
      encodeAll(enc, `SELECT 'y' AS a`),
      /column 'a' is 'y', not a symbol of the schema's enum \(x\)/,
    );
    assert.throws(
      () =>
        new AvroRowEncoder({
          registry,
          subject: 's-value',
          columns: [
            { name: 'a', type: 'VARCHAR' },
            { name: 'b', type: 'BIGINT' },
          ],
          name: 'x',
          schema: given,
        }),
      /the rows have columns the Avro schema lacks \(b\)/,
    );
  });
});
