/** Log contract: earliest/latest offsets, committed group offsets, long polling. */

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, test } from 'node:test';
import type { Log } from '../../../src/log/log.ts';
import { bytes, type ContractContext, dec, hasCode, values } from './shared.ts';

export function offsetsWaitingContract(ctx: ContractContext): void {
  const { topicName } = ctx;
  let log: Log;
  beforeEach(() => {
    log = ctx.log();
  });
  describe('offsets', () => {
    test('earliest and latest; fetching at latest is empty; beyond latest is out of range', async () => {
      const t = topicName('offsets');
      await log.createTopic(t, { partitions: 2 });
      assert.deepEqual(await log.offsets(t, 0), { earliest: 0, latest: 0 });
      await log.produce(
        Array.from({ length: 12 }, (_, i) => ({ topic: t, partition: 0, value: bytes(`${i}`) })),
      );
      assert.deepEqual(await log.offsets(t, 0), { earliest: 0, latest: 12 });
      assert.deepEqual(await log.offsets(t, 1), { earliest: 0, latest: 0 });
      const atEnd = await log.fetch(t, 0, 12);
      assert.deepEqual(atEnd.records, []);
      assert.equal(atEnd.nextOffset, 12);
      assert.equal(atEnd.highWatermark, 12);
      const atEndValues = await log.fetchValues(t, 0, 12);
      assert.equal(atEndValues.count, 0);
      assert.equal(atEndValues.nextOffset, 12);
      await assert.rejects(log.fetch(t, 0, 13), hasCode('LOG_OFFSET_OUT_OF_RANGE'));
      await assert.rejects(log.fetch(t, 0, -1), hasCode('LOG_OFFSET_OUT_OF_RANGE'));
      await assert.rejects(log.fetch(t, 1, 1), hasCode('LOG_OFFSET_OUT_OF_RANGE'));
    });

    test('committed offsets are kept per group and per partition', async () => {
      const t = topicName('groups');
      await log.createTopic(t, { partitions: 3 });
      const g1 = `g1-${randomUUID().slice(0, 8)}`;
      const g2 = `g2-${randomUUID().slice(0, 8)}`;
      assert.deepEqual(await log.committedOffsets(g1, t), new Map());
      await log.commitOffsets(g1, [
        { topic: t, partition: 0, offset: 5 },
        { topic: t, partition: 2, offset: 9 },
      ]);
      await log.commitOffsets(g2, [{ topic: t, partition: 0, offset: 1 }]);
      assert.deepEqual(
        await log.committedOffsets(g1, t),
        new Map([
          [0, 5],
          [2, 9],
        ]),
      );
      assert.deepEqual(await log.committedOffsets(g2, t), new Map([[0, 1]]));
      await log.commitOffsets(g1, [{ topic: t, partition: 0, offset: 7 }]);
      assert.deepEqual(
        await log.committedOffsets(g1, t),
        new Map([
          [0, 7],
          [2, 9],
        ]),
      );
      // Another client sees the same commits.
      const other = await ctx.open();
      try {
        assert.deepEqual(
          await other.committedOffsets(g1, t),
          new Map([
            [0, 7],
            [2, 9],
          ]),
        );
      } finally {
        await other.close();
      }
    });
  });

  describe('waiting for records', () => {
    test('a fetch with maxWaitMs and nothing new returns empty', async () => {
      const t = topicName('wait-empty');
      await log.createTopic(t, { partitions: 1 });
      await log.produce([{ topic: t, value: bytes('only') }]);
      const res = await log.fetch(t, 0, 1, { maxWaitMs: 100 });
      assert.deepEqual(res.records, []);
      assert.equal(res.nextOffset, 1);
    });

    test('a long-polling fetch wakes up when a record arrives', async () => {
      const t = topicName('wait');
      await log.createTopic(t, { partitions: 1 });
      // The wait is far longer than the test timeout: only a wake-up can pass this test.
      const pending = log.fetch(t, 0, 0, { maxWaitMs: 600_000 });
      const pendingValues = log.fetchValues(t, 0, 0, { maxWaitMs: 600_000 });
      await new Promise((r) => setTimeout(r, 100));
      await log.produce([{ topic: t, value: bytes('hello') }]);
      const res = await pending;
      assert.deepEqual(values(res.records), ['hello']);
      assert.equal(res.nextOffset, 1);
      const vb = await pendingValues;
      assert.equal(dec.decode(vb.values), 'hello\n');
    });

    test('another client sees what this one produced, and is woken by it', async () => {
      const t = topicName('two-clients');
      await log.createTopic(t, { partitions: 1 });
      await log.produce([{ topic: t, value: bytes('first') }]);
      const reader = await ctx.open();
      try {
        assert.deepEqual(values((await reader.fetch(t, 0, 0)).records), ['first']);
        assert.deepEqual(await reader.offsets(t, 0), { earliest: 0, latest: 1 });
        const pending = reader.fetch(t, 0, 1, { maxWaitMs: 600_000 });
        await new Promise((r) => setTimeout(r, 100));
        await log.produce([{ topic: t, value: bytes('second') }]);
        const res = await pending;
        assert.deepEqual(values(res.records), ['second']);
        assert.equal(res.records[0].offset, 1);
      } finally {
        await reader.close();
      }
    });
  });
}
