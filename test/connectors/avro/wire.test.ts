/** Confluent's wire format: framing and unframing, with what is wrong said precisely. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { frame, schemaIdAt, unframe } from '../../../src/connectors/avro/wire.ts';

describe('wire format', () => {
  test('frame: byte 0, the id big-endian, the body', () => {
    assert.deepEqual([...frame(1, Uint8Array.of(2, 10))], [0, 0, 0, 0, 1, 2, 10]);
    assert.deepEqual([...frame(0x01020304, new Uint8Array(0))], [0, 1, 2, 3, 4]);
    // Ids use all 32 bits, unsigned.
    const high = frame(0xfffffffe, Uint8Array.of(9));
    assert.deepEqual(unframe(high), { id: 0xfffffffe, body: Uint8Array.of(9) });
    assert.equal(schemaIdAt(high, 0), 4294967294);
    assert.throws(() => frame(-1, new Uint8Array(0)), /does not fit/);
    assert.throws(() => frame(2 ** 32, new Uint8Array(0)), /does not fit/);
  });

  test('unframe says what is wrong', () => {
    assert.match((unframe(null) as { error: string }).error, /empty record/);
    assert.match((unframe(new Uint8Array(0)) as { error: string }).error, /empty record/);
    assert.match(
      (unframe(Buffer.from('{"a":1}')) as { error: string }).error,
      /first byte is 0x7b.*looks like JSON/,
    );
    assert.match(
      (unframe(Uint8Array.of(1, 0, 0, 0, 1)) as { error: string }).error,
      /first byte is 0x01.*not a record framed/,
    );
    assert.match((unframe(Uint8Array.of(0, 0, 0, 1)) as { error: string }).error, /4 bytes is too short/);
    assert.match((unframe(Uint8Array.of(0)) as { error: string }).error, /1 byte is too short/);
    assert.deepEqual(unframe(Uint8Array.of(0, 0, 0, 0, 7)), { id: 7, body: new Uint8Array(0) });
  });
});
