/** Log contract: produce and fetch: round trips, order, partitioning, bounds, value batches. */

import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { Log, ProduceRecord } from '../../../src/log/log.ts';
import { partitionForKey } from '../../../src/log/partitioner.ts';
import { bytes, type ContractContext, dec, text, values } from './shared.ts';

export function produceFetchContract(ctx: ContractContext): void {
  const { topicName } = ctx;
  let log: Log;
  beforeEach(() => {
    log = ctx.log();
  });
  describe('produce and fetch', () => {
    test('round trip keeps keys, values, headers and timestamps', async () => {
      const t = topicName('roundtrip');
      await log.createTopic(t, { partitions: 1 });
      const ts = 1_700_000_000_123;
      const results = await log.produce([
        {
          topic: t,
          key: bytes('k1'),
          value: bytes('{"a":1}'),
          timestamp: ts,
          headers: { h1: bytes('v1') },
        },
        { topic: t, key: null, value: bytes('no key'), timestamp: ts + 1 },
        {
          topic: t,
          key: bytes('tomb'),
          value: null,
          timestamp: ts + 2,
          headers: { a: bytes(''), b: bytes('β') },
        },
        { topic: t, value: bytes('default time') },
      ]);
      assert.deepEqual(
        results.map((r) => [r.topic, r.partition, r.offset]),
        [
          [t, 0, 0],
          [t, 0, 1],
          [t, 0, 2],
          [t, 0, 3],
        ],
      );
      const res = await log.fetch(t, 0, 0);
      assert.equal(res.topic, t);
      assert.equal(res.partition, 0);
      assert.equal(res.nextOffset, 4);
      assert.equal(res.highWatermark, 4);
      const [r0, r1, r2, r3] = res.records;
      assert.deepEqual(
        res.records.map((r) => r.offset),
        [0, 1, 2, 3],
      );
      assert.equal(text(r0.key), 'k1');
      assert.equal(text(r0.value), '{"a":1}');
      assert.equal(r0.timestamp, ts);
      assert.deepEqual(Object.keys(r0.headers), ['h1']);
      assert.equal(text(r0.headers.h1), 'v1');
      assert.equal(r1.key, null);
      assert.equal(text(r1.value), 'no key');
      assert.equal(r1.timestamp, ts + 1);
      assert.deepEqual(Object.keys(r1.headers), []);
      assert.equal(text(r2.key), 'tomb');
      assert.equal(r2.value, null);
      assert.deepEqual(Object.keys(r2.headers).sort(), ['a', 'b']);
      assert.equal(text(r2.headers.a), '');
      assert.equal(text(r2.headers.b), 'β');
      // Default timestamp: the time of produce (within a generous bound; no timing assertion).
      assert.ok(Math.abs(r3.timestamp - Date.now()) < 10 * 60_000, `timestamp ${r3.timestamp}`);
    });

    test('records of a partition keep their order across produce calls', async () => {
      const t = topicName('order');
      await log.createTopic(t, { partitions: 2 });
      const expected: string[] = [];
      let n = 0;
      for (const size of [1, 50, 7, 300, 1]) {
        const batch: ProduceRecord[] = [];
        for (let i = 0; i < size; i++) {
          const v = `r${n++}`;
          expected.push(v);
          batch.push({ topic: t, partition: 1, value: bytes(v) });
        }
        const res = await log.produce(batch);
        assert.deepEqual(
          res.map((r) => r.offset),
          batch.map((_, i) => expected.length - size + i),
        );
      }
      const got: (string | null)[] = [];
      let offset = 0;
      for (let i = 0; i < 100 && got.length < expected.length; i++) {
        const res = await log.fetch(t, 1, offset, { maxRecords: 64 });
        got.push(...values(res.records));
        offset = res.nextOffset;
      }
      assert.deepEqual(got, expected);
      assert.deepEqual(await log.offsets(t, 0), { earliest: 0, latest: 0 });
    });

    test('one produce call may span topics; results come back in input order', async () => {
      const a = topicName('multi-a');
      const b = topicName('multi-b');
      await log.createTopic(a, { partitions: 1 });
      await log.createTopic(b, { partitions: 1 });
      const res = await log.produce([
        { topic: a, value: bytes('a0') },
        { topic: b, value: bytes('b0') },
        { topic: a, value: bytes('a1') },
      ]);
      assert.deepEqual(
        res.map((r) => [r.topic, r.partition, r.offset]),
        [
          [a, 0, 0],
          [b, 0, 0],
          [a, 0, 1],
        ],
      );
      assert.deepEqual(values((await log.fetch(a, 0, 0)).records), ['a0', 'a1']);
      assert.deepEqual(values((await log.fetch(b, 0, 0)).records), ['b0']);
    });

    test('a keyed record goes to the murmur2 partition of its key, always the same one', async () => {
      const t = topicName('keys');
      const partitions = 6;
      await log.createTopic(t, { partitions });
      const keys = Array.from({ length: 40 }, (_, i) => `order-${i * 7919}`);
      const batch = [...keys, ...keys].map((k, i) => ({
        topic: t,
        key: bytes(k),
        value: bytes(`${k}#${i}`),
      }));
      const res = await log.produce(batch);
      const seen = new Set<number>();
      res.forEach((r, i) => {
        const key = keys[i % keys.length];
        assert.equal(r.partition, partitionForKey(bytes(key), partitions), `partition of ${key}`);
        assert.equal(r.partition, res[i % keys.length].partition);
        seen.add(r.partition);
      });
      assert.ok(seen.size > 1, 'forty keys should not all land in one partition');
      // Each record is where the result says it is.
      for (const p of seen) {
        const fetched = await log.fetch(t, p, 0, { maxRecords: 1000 });
        const expected = res.map((r, i) => (r.partition === p ? text(batch[i].value) : null));
        assert.deepEqual(
          values(fetched.records),
          expected.filter((v) => v !== null),
        );
        for (const r of fetched.records) {
          assert.equal(partitionForKey(r.key!, partitions), p);
        }
      }
    });

    test('records without key or partition land in some valid partition', async () => {
      const t = topicName('nokey');
      await log.createTopic(t, { partitions: 3 });
      const res = await log.produce(
        Array.from({ length: 30 }, (_, i) => ({ topic: t, value: bytes(`v${i}`) })),
      );
      let total = 0;
      for (let p = 0; p < 3; p++) total += (await log.offsets(t, p)).latest;
      assert.equal(total, 30);
      for (const r of res) assert.ok(r.partition >= 0 && r.partition < 3);
    });

    test('fetch is bounded by maxRecords and maxBytes, and returns at least one record', async () => {
      const t = topicName('bounds');
      await log.createTopic(t, { partitions: 1 });
      const value = 'x'.repeat(100);
      await log.produce(Array.from({ length: 20 }, () => ({ topic: t, value: bytes(value) })));
      const five = await log.fetch(t, 0, 3, { maxRecords: 5 });
      assert.deepEqual(
        five.records.map((r) => r.offset),
        [3, 4, 5, 6, 7],
      );
      assert.equal(five.nextOffset, 8);
      assert.equal(five.highWatermark, 20);
      // Records are added until 250 bytes of values are gathered: 100, 200, 300 -> three.
      const byBytes = await log.fetch(t, 0, 0, { maxBytes: 250 });
      assert.equal(byBytes.records.length, 3);
      assert.equal(byBytes.nextOffset, 3);
      const tiny = await log.fetch(t, 0, 10, { maxBytes: 1 });
      assert.deepEqual(
        tiny.records.map((r) => r.offset),
        [10],
      );
      const all = await log.fetch(t, 0, 0);
      assert.equal(all.records.length, 20);
    });

    test('fetchValues returns values in one buffer, newline-separated, with parallel arrays', async () => {
      const t = topicName('values');
      await log.createTopic(t, { partitions: 1 });
      const ts = 1_650_000_000_000;
      const vals = ['{"id":1}', '', '{"id":"ü"}', null, '{"id":4}'];
      await log.produce(
        vals.map((v, i) => ({
          topic: t,
          key: bytes(`k${i}`),
          value: v === null ? null : bytes(v),
          timestamp: ts + i,
        })),
      );
      const batch = await log.fetchValues(t, 0, 0);
      assert.equal(batch.topic, t);
      assert.equal(batch.partition, 0);
      assert.equal(batch.count, 5);
      assert.equal(batch.nextOffset, 5);
      assert.equal(batch.highWatermark, 5);
      assert.equal(dec.decode(batch.values), '{"id":1}\n\n{"id":"ü"}\n\n{"id":4}\n');
      assert.deepEqual([...batch.offsets.subarray(0, batch.count)], [0, 1, 2, 3, 4]);
      assert.deepEqual([...batch.timestamps.subarray(0, batch.count)], [ts, ts + 1, ts + 2, ts + 3, ts + 4]);
      let start = 0;
      for (let i = 0; i < batch.count; i++) {
        const end = batch.ends[i];
        assert.equal(dec.decode(batch.values.subarray(start, end)), vals[i] ?? '');
        assert.equal(batch.values[end], 0x0a);
        start = end + 1;
      }
      const part = await log.fetchValues(t, 0, 2, { maxRecords: 2 });
      assert.equal(part.count, 2);
      assert.deepEqual([...part.offsets.subarray(0, 2)], [2, 3]);
      assert.equal(dec.decode(part.values), '{"id":"ü"}\n\n');
      assert.equal(part.nextOffset, 4);
      const bounded = await log.fetchValues(t, 0, 0, { maxBytes: 9 });
      // 8 bytes, then 8 + 0 = 8 < 9, then 8 + 0 + 11 >= 9: three values.
      assert.equal(bounded.count, 3);
      const empty = await log.fetchValues(t, 0, 5);
      assert.equal(empty.count, 0);
      assert.equal(empty.values.length, 0);
      assert.equal(empty.nextOffset, 5);
    });

    test('fetchValues keeps a value holding newlines intact; ends delimit it', async () => {
      const t = topicName('newline');
      await log.createTopic(t, { partitions: 1 });
      await log.produce([
        { topic: t, value: bytes('fine') },
        { topic: t, value: bytes('two\nlines\n') },
        { topic: t, value: bytes('last') },
      ]);
      const b = await log.fetchValues(t, 0, 0);
      assert.equal(b.count, 3);
      const got: string[] = [];
      let start = 0;
      for (let i = 0; i < b.count; i++) {
        got.push(Buffer.from(b.values.subarray(start, b.ends[i])).toString());
        start = b.ends[i] + 1;
      }
      assert.deepEqual(got, ['fine', 'two\nlines\n', 'last']);
      assert.deepEqual(values((await log.fetch(t, 0, 0)).records), got);
    });
  });
}
