/**
 * A worker of a consumer group whose DLQ writer for a partition another process claimed
 * (what a worker frozen past its session finds when it wakes up), on a real Kafka broker:
 * its next batch with dead letters for that partition fails with LOG_WRITER_FENCED,
 * retryable, and writes none of them; it tells its membership it lost its partitions,
 * releases them all, takes them back when the group gives them again (claiming the DLQ
 * writers anew) and finishes. Both tables and the DLQ then equal the truth recomputed from
 * the topic: every rejected record once. Deterministic, unlike the pause scenario where
 * the race is a matter of timing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock, systemClock } from '../../src/core/clock.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import { KafkaLog } from '../../src/log/kafka/index.ts';
import { generateOrders } from '../../src/scenarios/orders/generate.ts';
import { ordersPipeline } from '../../src/scenarios/orders/pipeline.ts';
import type { Membership } from '../../src/stream/membership.ts';
import { DlqSink } from '../../src/stream/sinks/dlq.ts';
import { assertOutputs, expectedFrom, readTopic } from '../scenarios/orders-oracle.ts';

const brokers = process.env.TRIBUTARY_TEST_KAFKA;
if (!brokers && process.env.CI) throw new Error('TRIBUTARY_TEST_KAFKA is not set in CI');

const T0 = Date.UTC(2026, 0, 27, 10, 0, 0);

/** A group that assigns every partition, takes them all back on `lost()` and gives them again once released. */
function fakeGroup(partitions: number) {
  const all = new Set(Array.from({ length: partitions }, (_, p) => p));
  let owned = new Set<number>();
  let fenced = false;
  const log: string[] = [];
  const member: Membership = {
    pending() {
      const want = fenced ? new Set<number>() : all;
      return want.size === owned.size && [...want].every((p) => owned.has(p)) ? undefined : want;
    },
    acknowledge(o) {
      owned = new Set(o);
      log.push(`own [${[...owned].sort()}]`);
      if (fenced && o.size === 0) fenced = false;
    },
    valid: () => !fenced,
    lost() {
      fenced = true;
      log.push('lost');
    },
  };
  return { member, log };
}

test('a worker whose DLQ writer was claimed by another fails its batch with LOG_WRITER_FENCED, releases, retakes and ends exact', {
  skip: brokers ? false : 'TRIBUTARY_TEST_KAFKA is not set (npm test starts a broker)',
  timeout: 180_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-dlq-fence-'));
  const topic = `orders-fence-${randomUUID().slice(0, 8)}`;
  const log = new KafkaLog({ brokers: brokers!.split(','), clientId: 'tributary-test-fence' });
  try {
    const clock = new ManualClock(T0);
    await generateOrders({ log, topic, count: 1_500, seed: 11, clock, malformedRate: 0.03 });
    const { pipeline, tables } = await ordersPipeline({
      dataDir: join(dir, 'data'),
      log,
      topic,
      maxRecordsPerBatch: 400,
      readAhead: false,
    });
    const group = fakeGroup(4);
    const errors: unknown[] = [];
    const run = () =>
      pipeline.run({
        membership: group.member,
        untilCaughtUp: true,
        retryBackoffMs: 10,
        onError: (err) => {
          errors.push(err);
        },
      });
    await run();
    assert.deepEqual(errors, []);
    assert.deepEqual(group.log, ['own [0,1,2,3]']);

    // Another process takes partition 0's DLQ writer over (as the next owner of the
    // partition would) while this worker still believes it owns everything.
    const intruder = new DlqSink({
      log,
      topic: `${topic}.dlq`,
      sourceTopic: topic,
      sourcePartitions: 4,
      contract: 'orders',
      clock: systemClock,
      pipeline: 'orders',
    });
    await intruder.own(new Set([0]));
    const dlqBefore = (await readTopic(log, `${topic}.dlq`)).length;

    await generateOrders({ log, topic, count: 1_500, seed: 12, clock, malformedRate: 0.03 });
    await run();
    const fenced = errors.filter((e) => isTributaryError(e, 'LOG_WRITER_FENCED'));
    assert.equal(fenced.length, 1, `one batch fenced: ${errors.map(String).join('\n')}`);
    const err = fenced[0] as Error & { retryable: boolean; details: Record<string, unknown> };
    assert.ok(err.retryable);
    assert.equal(err.details.partition, 0);
    assert.match(err.message, /pipeline orders: the dead-letter writer of .* partition 0 was fenced/);
    assert.match(err.message, /releases its partitions and joins its group again/);
    assert.deepEqual(group.log, ['own [0,1,2,3]', 'lost', 'own []', 'own [0,1,2,3]']);
    assert.ok(
      (await readTopic(log, `${topic}.dlq`)).length > dlqBefore,
      'the retried batches wrote dead letters',
    );

    await pipeline.close();
    await intruder.close();
    await assertOutputs(expectedFrom(await readTopic(log, topic)), tables, log, `${topic}.dlq`);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
