/**
 * The contract's rules over typed columns (an Avro topic's) name the same field and rule,
 * with the same message, as the JSON path does for the same values: a reject reads the
 * same whichever format the producer chose. (Differences, on purpose: a timestamp's
 * value is quoted in the JSON path as the record's text, here as RFC 3339 in UTC; the
 * JSON path's strict check says at which byte of the text.)
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { AvroDecoder } from '../../src/connectors/avro/decoder.ts';
import { decodeBatch } from '../../src/connectors/json/decode.ts';
import { compileContract, type FieldSpec } from '../../src/quality/contract.ts';
import { openConnection } from '../../src/table/index.ts';
import { avroType, decimalBytes, framed, MemoryRegistry, valueBatch } from '../connectors/avro/helpers.ts';

const FIELDS: FieldSpec[] = [
  { name: 'id', type: 'string', pattern: '[a-z]+-[0-9]+', notEmpty: true },
  { name: 'tier', type: 'string', enum: ['free', 'pro'] },
  { name: 'n', type: 'integer', min: 1, max: 100 },
  { name: 'x', type: 'number', min: -1.5, decimals: 2 },
  { name: 'price', type: 'number', decimals: 2, precision: 6, max: 5000 },
  { name: 'note', type: 'string', required: false, notEmpty: true },
  { name: 'ok', type: 'boolean' },
];

const SCHEMA = {
  type: 'record',
  name: 'r',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'tier', type: 'string' },
    { name: 'n', type: 'long' },
    { name: 'x', type: 'double' },
    { name: 'price', type: { type: 'bytes', logicalType: 'decimal', precision: 6, scale: 2 } },
    { name: 'note', type: ['null', 'string'], default: null },
    { name: 'ok', type: ['null', 'boolean'], default: null },
  ],
};

interface Case {
  n: number;
  x: number;
  price: string;
  id?: string;
  tier?: string;
  note?: string | null;
  ok?: boolean | null;
}

const CASES: Case[] = [
  { n: 5, x: 1.25, price: '10.00' },
  { n: 0, x: 1, price: '1.00' },
  { n: 101, x: 1, price: '1.00' },
  { n: 5, x: -2.5, price: '1.00' },
  { n: 5, x: 1.125, price: '1.00' },
  { n: 5, x: 1, price: '5000.01' },
  { n: 5, x: 1, price: '1.00', id: 'X' },
  { n: 5, x: 1, price: '1.00', id: '  ' },
  { n: 5, x: 1, price: '1.00', tier: 'gold' },
  { n: 5, x: 1, price: '1.00', note: ' ' },
  { n: 5, x: 1, price: '1.00', ok: null },
];

const conn = await openConnection();
after(() => conn.closeSync());

describe('typed contract', () => {
  test('the same rule and message as the JSON path, value for value', async () => {
    const rows = CASES.map((c) => ({
      id: c.id ?? 'ab-1',
      tier: c.tier ?? 'pro',
      n: c.n,
      x: c.x,
      price: c.price,
      note: c.note === undefined ? 'hello' : c.note,
      ok: c.ok === undefined ? true : c.ok,
    }));
    const json = await decodeBatch(
      conn,
      [valueBatch(rows.map((r) => Buffer.from(JSON.stringify({ ...r, price: Number(r.price) }))))],
      compileContract({ name: 'c', fields: FIELDS }),
    );
    const registry = new MemoryRegistry();
    const id = await registry.register('r-value', JSON.stringify(SCHEMA));
    const type = avroType(SCHEMA);
    const avro = await new AvroDecoder({
      readerSchema: JSON.stringify(SCHEMA),
      registry,
      contract: { name: 'c', fields: FIELDS },
    }).decode(
      conn,
      [
        valueBatch(
          rows.map((r) =>
            framed(type, id, { ...r, price: decimalBytes(BigInt(Math.round(Number(r.price) * 100))) }),
          ),
        ),
      ],
      conn,
    );
    // The JSON path's strict check adds where in the text (`(at byte 36)`): Avro has no text.
    const view = (rs: Array<{ offset: number; field: string; rule: string; message: string }>) =>
      rs.map((r) => ({
        offset: r.offset,
        field: r.field,
        rule: r.rule,
        message: r.message.replace(/ \(at byte \d+\)$/, ''),
      }));
    const fromAvro = view(await avro.rejected);
    assert.deepEqual(fromAvro, view(json.rejected));
    assert.deepEqual(
      fromAvro.map((r) => r.rule),
      ['min', 'max', 'min', 'decimals', 'max', 'pattern', 'not_empty', 'enum', 'not_empty', 'required'],
    );
    assert.equal(avro.valid, 1);
  });
});
