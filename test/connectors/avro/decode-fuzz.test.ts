/**
 * The decoder judged by avsc on mutated records: bytes flipped, cut, inserted in valid
 * records of a schema with every column kind. A record avsc reads whole (all bytes used,
 * strings UTF-8, decimals within their precision) must come out of our decoder with the
 * same values; any other must go to the DLQ with its bytes, never crash the batch or
 * land altered.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import avro from 'avsc';
import { columnFieldSpec, readerColumns } from '../../../src/connectors/avro/columns.ts';
import { AvroDecoder } from '../../../src/connectors/avro/decoder.ts';
import { parseAvroSchema } from '../../../src/connectors/avro/parse.ts';
import { openConnection } from '../../../src/table/index.ts';
import { decimalBytes, framed, MemoryRegistry, valueBatch } from './helpers.ts';

const SCHEMA = {
  type: 'record',
  name: 'r',
  fields: [
    { name: 's', type: 'string' },
    { name: 'i', type: 'int' },
    { name: 'l', type: 'long' },
    { name: 'f', type: 'float' },
    { name: 'd', type: 'double' },
    { name: 'b', type: 'boolean' },
    { name: 'e', type: { type: 'enum', name: 'e', symbols: ['A', 'B', 'C'] } },
    { name: 't', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'm', type: { type: 'bytes', logicalType: 'decimal', precision: 9, scale: 3 } },
    { name: 'o', type: ['null', 'string'], default: null },
  ],
};

/** A small deterministic generator (mulberry32). */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const conn = await openConnection();
after(() => conn.closeSync());

describe('Avro decoding under mutation', () => {
  test('agrees with avsc on every mutated record', async () => {
    // Longs as BigInt (avsc's documented way), so avsc judges all 64 bits as ours reads them.
    const longType = avro.types.LongType.__with({
      fromBuffer: (b: Buffer) => b.readBigInt64LE(),
      toBuffer: (n: bigint) => {
        const b = Buffer.alloc(8);
        b.writeBigInt64LE(BigInt(n));
        return b;
      },
      fromJSON: BigInt,
      toJSON: Number,
      isValid: (n: unknown) => typeof n === 'bigint',
      compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
    });
    // (The timestamp as a plain long: the registry's long serves only references by name.)
    const plain = {
      ...SCHEMA,
      fields: SCHEMA.fields.map((f) => (f.name === 't' ? { name: 't', type: 'long' } : f)),
    };
    const type = avro.Type.forSchema(
      plain as avro.Schema,
      {
        wrapUnions: 'never',
        registry: { long: longType },
      } as unknown as Partial<avro.ForSchemaOptions>,
    );
    const registry = new MemoryRegistry();
    const id = await registry.register('r-value', JSON.stringify(SCHEMA));
    const text = JSON.stringify(SCHEMA);
    const { columns } = readerColumns(parseAvroSchema(text));
    const d = new AvroDecoder({
      readerSchema: text,
      registry,
      contract: { name: 'r', fields: columns.map(columnFieldSpec) },
    });
    const rand = rng(4);
    const values: Uint8Array[] = [];
    for (let i = 0; i < 4000; i++) {
      const v = framed(type, id, {
        s: ['', 'a', 'ünï', 'x'.repeat(40)][i % 4],
        i: ((i * 7919) % 100000) - 50000,
        l: BigInt(i % 3 === 0 ? 2 ** 50 + i : -i),
        f: i / 8,
        d: i / 3,
        b: i % 2 === 0,
        e: ['A', 'B', 'C'][i % 3],
        t: BigInt(1_700_000_000_000_000 + i),
        m: decimalBytes(BigInt(i * 101 - 2000)),
        o: i % 5 === 0 ? null : `o${i}`,
      });
      const m = Buffer.from(v);
      const kind = i % 4;
      if (kind === 0) {
        // Flip a byte of the body.
        const at = 5 + Math.floor(rand() * (m.length - 5));
        m[at] = Math.floor(rand() * 256);
        values.push(m);
      } else if (kind === 1) {
        values.push(m.subarray(0, 5 + Math.floor(rand() * (m.length - 5))));
      } else if (kind === 2) {
        const at = 5 + Math.floor(rand() * (m.length - 5));
        values.push(
          Buffer.concat([m.subarray(0, at), Buffer.from([Math.floor(rand() * 256)]), m.subarray(at)]),
        );
      } else values.push(m);
    }
    const out = await d.decode(conn, [valueBatch(values)], conn);
    const rejected = new Map((await out.rejected).map((r) => [r.offset, r]));
    const rows = new Map(
      (
        await conn.runAndReadAll(
          `SELECT _o, s, i, l::VARCHAR AS l, f, d, b, e, epoch_us(t)::VARCHAR AS t, m::VARCHAR AS m, o FROM ${out.rawTable}`,
        )
      )
        .getRowObjectsJS()
        .map((r) => [Number(r._o), r]),
    );
    let agreedValid = 0;
    const canonical = new Map<number, boolean>();
    for (const [i, v] of values.entries()) {
      const judged = judge(type, Buffer.from(v).subarray(5), (c) => canonical.set(i, c));
      if (judged === undefined) {
        if (!rejected.has(i)) {
          let why = '';
          try {
            const r = type.decode(Buffer.from(v).subarray(5), 0);
            why = JSON.stringify({ offset: r.offset, len: v.length - 5, value: r.value }, (_k, x) =>
              typeof x === 'bigint' ? String(x) : x,
            );
          } catch (e) {
            why = String(e);
          }
          assert.fail(
            `record ${i}: avsc cannot read it whole, ours accepted it: ${why} ${JSON.stringify(rows.get(i), (_k, x) => (typeof x === 'bigint' ? String(x) : x))}`,
          );
        }
        assert.deepEqual(Buffer.from(rejected.get(i)!.value!), Buffer.from(v));
        continue;
      }
      // Stricter than avsc on purpose: a boolean byte other than 0 or 1 (avsc reads it as
      // true, Java's reader as false) is not Avro.
      const why = rejected.get(i)?.message ?? '';
      if (/a boolean is written as byte 0 or 1/.test(why)) {
        assert.equal(canonical.get(i), false);
        continue;
      }
      assert.ok(
        rows.has(i),
        `record ${i}: avsc reads it, ours rejected it: ${why} ${Buffer.from(v).toString('hex')} ${JSON.stringify(judged, (_k, x) => (typeof x === 'bigint' ? String(x) : x))}`,
      );
      const r = rows.get(i)!;
      assert.deepEqual(
        { s: r.s, i: r.i, l: r.l, f: r.f, d: r.d, b: r.b, e: r.e, t: r.t, m: r.m, o: r.o },
        {
          s: judged.s,
          i: BigInt(judged.i as number),
          l: String(judged.l),
          f: Math.fround(judged.f as number),
          d: judged.d,
          b: judged.b,
          e: judged.e,
          t: String(judged.t),
          m: judged.m,
          o: judged.o,
        },
        `record ${i}`,
      );
      agreedValid++;
    }
    assert.equal(rows.size + rejected.size, values.length);
    // Enough of both kinds to mean something.
    assert.ok(agreedValid > 1500 && rejected.size > 1000, `${agreedValid} valid, ${rejected.size} rejected`);
  });
});

/** avsc's reading of a body, or undefined when it is not a whole, valid record. */
function judge(
  type: avro.Type,
  body: Buffer,
  /** Told whether avsc writes the value back as the same bytes. */
  canonical: (same: boolean) => void,
): Record<string, unknown> | undefined {
  let value: Record<string, unknown>;
  try {
    const r = type.decode(body, 0);
    if (r.offset !== body.length) return undefined;
    value = r.value as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (value === undefined) return undefined;
  canonical(type.toBuffer(value).equals(body));
  for (const k of ['s', 'o']) {
    const s = value[k];
    if (typeof s === 'string' && s.includes('\ufffd')) return undefined;
  }
  if (!['A', 'B', 'C'].includes(value.e as string)) return undefined;
  // A timestamp DuckDB cannot hold (beyond year 294,247).
  if (
    (value.t as bigint) > (9223372036854775807n / 1000n) * 1000n ||
    (value.t as bigint) < -9223372036854775807n
  )
    return undefined;
  const m = value.m as Buffer;
  if (m.length === 0) return undefined;
  let unscaled = 0n;
  for (const x of m) unscaled = (unscaled << 8n) | BigInt(x);
  unscaled = BigInt.asIntN(m.length * 8, unscaled);
  if ((unscaled < 0n ? -unscaled : unscaled) >= 10n ** 9n) return undefined;
  const neg = unscaled < 0n;
  const digits = (neg ? -unscaled : unscaled).toString().padStart(4, '0');
  value.m = `${neg ? '-' : ''}${digits.slice(0, -3)}.${digits.slice(-3)}`;
  if (value.b !== true && value.b !== false) return undefined;
  return value;
}
