/**
 * The dead-letter envelope: what the DLQ topic holds for a rejected record. Users read
 * it to repair and replay records, so the original bytes must come back exactly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeDeadLetter, encodeDeadLetter, originalBytes } from '../../src/stream/dead-letter.ts';

test('dead letters keep the original bytes, text or not', () => {
  for (const value of [Buffer.from('{"broken'), Buffer.from([0xff, 0x00, 0x41]), null]) {
    const d = decodeDeadLetter(
      Buffer.from(
        encodeDeadLetter({
          sourceTopic: 'orders',
          sourcePartition: 3,
          sourceOffset: 42,
          sourceTimestamp: 1,
          contract: 'orders.v1',
          field: 'currency',
          rule: 'enum',
          reason: "'DOGE' is not one of USD",
          value,
          rejectedAt: 2,
        }),
      ),
    );
    assert.equal(d.source_offset, 42);
    assert.equal(d.reason, "currency: 'DOGE' is not one of USD");
    const back = originalBytes(d);
    if (value === null) assert.equal(back, null);
    else assert.ok(Buffer.from(back!).equals(value));
  }
});
