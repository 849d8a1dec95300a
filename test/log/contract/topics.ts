/** Log contract: creating, listing, describing and deleting topics; missing topics and partitions. */

import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { Log } from '../../../src/log/log.ts';
import { bytes, type ContractContext, eventually, hasCode } from './shared.ts';

export function topicsContract(ctx: ContractContext): void {
  const { topicName } = ctx;
  let log: Log;
  beforeEach(() => {
    log = ctx.log();
  });
  describe('topics', () => {
    test('create, describe, list and delete', async () => {
      const a = topicName('topics-a');
      const b = topicName('topics-b');
      await log.createTopic(a, { partitions: 3 });
      await log.createTopic(b, { partitions: 1, retentionMs: 3_600_000, retentionBytes: 10_000_000 });
      const infoA = await log.describeTopic(a);
      assert.equal(infoA.name, a);
      assert.equal(infoA.partitions, 3);
      const infoB = await log.describeTopic(b);
      assert.equal(infoB.partitions, 1);
      assert.equal(infoB.retentionMs, 3_600_000);
      assert.equal(infoB.retentionBytes, 10_000_000);
      const listed = (await log.listTopics()).filter((t) => t.name === a || t.name === b);
      assert.deepEqual(listed.map((t) => [t.name, t.partitions]).sort(), [
        [a, 3],
        [b, 1],
      ]);
      await log.deleteTopic(a);
      await eventually(async () => {
        await assert.rejects(log.describeTopic(a), hasCode('LOG_TOPIC_NOT_FOUND'));
        const names = (await log.listTopics()).map((t) => t.name);
        assert.ok(!names.includes(a), `${a} is still listed`);
        assert.ok(names.includes(b), `${b} is no longer listed`);
      }, ctx.deleteTimeoutMs);
      await log.deleteTopic(b);
    });

    test('creating an existing topic fails; ensureTopic leaves it as it is', async () => {
      const t = topicName('exists');
      await log.createTopic(t, { partitions: 2 });
      await assert.rejects(log.createTopic(t, { partitions: 2 }), hasCode('LOG_TOPIC_EXISTS'));
      const info = await log.ensureTopic(t, { partitions: 5 });
      assert.equal(info.name, t);
      assert.equal(info.partitions, 2);
      const fresh = topicName('ensure');
      const created = await log.ensureTopic(fresh, { partitions: 4 });
      assert.equal(created.partitions, 4);
      assert.equal((await log.describeTopic(fresh)).partitions, 4);
    });

    test('a missing topic is reported as LOG_TOPIC_NOT_FOUND everywhere', async () => {
      const missing = topicName('missing');
      const notFound = hasCode('LOG_TOPIC_NOT_FOUND');
      await assert.rejects(log.describeTopic(missing), notFound);
      await assert.rejects(log.deleteTopic(missing), notFound);
      await assert.rejects(log.produce([{ topic: missing, value: bytes('x') }]), notFound);
      await assert.rejects(log.fetch(missing, 0, 0), notFound);
      await assert.rejects(log.fetchValues(missing, 0, 0), notFound);
      await assert.rejects(log.offsets(missing, 0), notFound);
    });

    test('a partition outside the topic is reported as LOG_PARTITION_NOT_FOUND', async () => {
      const t = topicName('partitions');
      await log.createTopic(t, { partitions: 2 });
      const notFound = hasCode('LOG_PARTITION_NOT_FOUND');
      await assert.rejects(log.produce([{ topic: t, partition: 2, value: bytes('x') }]), notFound);
      await assert.rejects(log.fetch(t, 7, 0), notFound);
      await assert.rejects(log.offsets(t, 2), notFound);
    });
  });
}
