/**
 * Record batches of a read_committed fetch → records (src/log/kafka/records.ts), on
 * batches built by hand as a broker would send them: aborted transactions are dropped by
 * producer and range, commit markers and aborted records are stepped over by
 * `nextOffset`, and other producers' records in between are kept. The truth is written
 * out by hand from the Kafka protocol's rules (a producer's transactional batches from an
 * aborted transaction's first offset up to its abort marker are not data).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RecordsBatch } from '@platformatic/kafka';
import { type AbortedTxn, collectRecords, collectValues } from '../../src/log/kafka/records.ts';

const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

/** A data batch of `n` records from `first`, by `producer` (transactional unless told). */
function data(first: number, n: number, producer: bigint, transactional = true): RecordsBatch {
  return {
    firstOffset: BigInt(first),
    length: 0,
    partitionLeaderEpoch: 0,
    magic: 2,
    crc: 0,
    attributes: transactional ? TRANSACTIONAL : 0,
    lastOffsetDelta: n - 1,
    firstTimestamp: 1_000n,
    maxTimestamp: 1_000n,
    producerId: producer,
    producerEpoch: 0,
    firstSequence: 0,
    records: Array.from({ length: n }, (_, i) => ({
      length: 0,
      attributes: 0,
      timestampDelta: 0n,
      offsetDelta: i,
      key: null,
      value: Buffer.from(`p${producer}@${first + i}`),
      headers: [],
    })),
  };
}

/** A transaction marker at `offset`: key = version 0, type 0 (abort) or 1 (commit). */
function marker(offset: number, producer: bigint, kind: 'abort' | 'commit'): RecordsBatch {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(kind === 'abort' ? 0 : 1, 2);
  return {
    ...data(offset, 1, producer),
    attributes: TRANSACTIONAL | CONTROL,
    records: [
      {
        length: 0,
        attributes: 0,
        timestampDelta: 0n,
        offsetDelta: 0,
        key,
        value: Buffer.alloc(6),
        headers: [],
      },
    ],
  };
}

const bounds = (offset: number) => ({ offset, maxRecords: 1_000, maxBytes: 1 << 20 });
const valuesOf = (batches: RecordsBatch[], aborted: AbortedTxn[], from = 0) =>
  collectRecords(batches, bounds(from), aborted).records.map((r) => Buffer.from(r.value!).toString());

test('two aborted transactions of one producer in one response are both dropped; its committed one between is kept', () => {
  const batches = [
    data(0, 2, 7n), // aborted
    marker(2, 7n, 'abort'),
    data(3, 2, 7n), // committed
    marker(5, 7n, 'commit'),
    data(6, 1, 7n), // aborted
    marker(7, 7n, 'abort'),
  ];
  const aborted = [
    { producerId: 7n, firstOffset: 0n },
    { producerId: 7n, firstOffset: 6n },
  ];
  assert.deepEqual(valuesOf(batches, aborted), ['p7@3', 'p7@4']);
  const res = collectRecords(batches, bounds(0), aborted);
  assert.equal(res.nextOffset, 8, 'past the last marker');
  const values = collectValues(batches, bounds(0), aborted);
  assert.deepEqual([...values.offsets], [3, 4]);
  assert.equal(values.nextOffset, 8);
});

test("another producer's records inside an aborted transaction's range are kept, as are non-transactional ones", () => {
  const batches = [
    data(0, 2, 1n),
    data(2, 2, 2n),
    data(4, 1, 3n, false),
    marker(5, 1n, 'abort'),
    marker(6, 2n, 'commit'),
  ];
  assert.deepEqual(valuesOf(batches, [{ producerId: 1n, firstOffset: 0n }]), ['p2@2', 'p2@3', 'p3@4']);
});

test('a fetch from inside an aborted transaction drops the rest of it; an abort marker with no listed range is stepped over', () => {
  // The transaction began before the fetch offset (its first offset is listed anyway).
  const batches = [
    data(10, 3, 4n),
    marker(13, 4n, 'abort'),
    marker(14, 9n, 'abort'),
    data(15, 1, 4n),
    marker(16, 4n, 'commit'),
  ];
  const aborted = [{ producerId: 4n, firstOffset: 8n }];
  assert.deepEqual(valuesOf(batches, aborted, 11), ['p4@15']);
});

test('an aborted transaction cut off by the response (marker not sent yet) is dropped; nextOffset moves past it', () => {
  const batches = [data(0, 1, 5n, false), data(1, 4, 6n)];
  const res = collectRecords(batches, bounds(0), [{ producerId: 6n, firstOffset: 1n }]);
  assert.deepEqual(
    res.records.map((r) => r.offset),
    [0],
  );
  assert.equal(res.nextOffset, 5);
});

test('without aborted transactions, markers are stepped over and nothing else changes', () => {
  const batches = [data(0, 3, 1n), marker(3, 1n, 'commit'), data(4, 2, 1n), marker(6, 1n, 'commit')];
  assert.deepEqual(valuesOf(batches, []), ['p1@0', 'p1@1', 'p1@2', 'p1@4', 'p1@5']);
  // Bounds stop the read inside the data: nextOffset is past the last record returned.
  const cut = collectRecords(batches, { offset: 0, maxRecords: 2, maxBytes: 1 << 20 }, []);
  assert.equal(cut.nextOffset, 2);
});
