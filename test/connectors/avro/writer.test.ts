/** Our Avro binary writer against avsc's encoding of the same values (byte for byte). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import avro from 'avsc';
import { AvroWriter, decimalBytes } from '../../../src/connectors/avro/writer.ts';

const bytes = (w: AvroWriter) => Buffer.from(w.buf.subarray(0, w.pos));

describe('Avro writer', () => {
  test('strings of every length around the varint boundaries, multi-byte text', () => {
    const type = avro.Type.forSchema('string');
    for (let n = 0; n < 300; n++) {
      for (const unit of ['a', 'é', '✓', '😀']) {
        const s = unit.repeat(n);
        const w = new AvroWriter();
        w.string(s);
        assert.deepEqual(bytes(w), type.toBuffer(s), `${JSON.stringify(unit)} × ${n}`);
      }
    }
  });

  test('longs: exact to 64 bits, as numbers or BigInts', () => {
    const type = avro.Type.forSchema('long');
    for (const v of [0, 1, -1, 63, 64, -64, -65, 2 ** 31, -(2 ** 31), 2 ** 52 - 1, -(2 ** 52)]) {
      const w = new AvroWriter();
      w.long(v);
      assert.deepEqual(bytes(w), type.toBuffer(v), String(v));
    }
    // Past 2^53: the zig-zag varint of the exact value (checked by decoding it by hand).
    for (const v of [2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n]) {
      const w = new AvroWriter();
      w.long(v);
      let n = 0n;
      let shift = 0n;
      for (const b of bytes(w)) {
        n |= BigInt(b & 0x7f) << shift;
        shift += 7n;
      }
      assert.equal(n & 1n ? -(n >> 1n) - 1n : n >> 1n, v);
    }
  });

  test('decimal bytes: the shortest two’s complement', () => {
    assert.deepEqual([...decimalBytes(0n)], [0]);
    assert.deepEqual([...decimalBytes(127n)], [0x7f]);
    assert.deepEqual([...decimalBytes(128n)], [0x00, 0x80]);
    assert.deepEqual([...decimalBytes(-128n)], [0x80]);
    assert.deepEqual([...decimalBytes(-129n)], [0xff, 0x7f]);
    assert.deepEqual([...decimalBytes(65534n)], [0x00, 0xff, 0xfe]);
  });
});
