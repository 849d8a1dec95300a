/**
 * KafkaLog against a real Apache Kafka broker (started by scripts/provision/kafka.start.sh
 * through `npm test`, which sets TRIBUTARY_TEST_KAFKA): the shared Log contract, then
 * what only Kafka has, checked against Kafka's own Java tools (its producer's
 * partitioner, its console consumer, its consumer-group command).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Admin } from '@platformatic/kafka';
import { isTributaryError } from '../../src/core/errors.ts';
import { KafkaLog } from '../../src/log/kafka/index.ts';
import type { ProduceRecord } from '../../src/log/log.ts';
import { partitionForKey } from '../../src/log/partitioner.ts';
import { logContract } from './contract.ts';
import { kafkaToolsMissing, runKafkaTool } from './kafka-tools.ts';

const brokers = process.env.TRIBUTARY_TEST_KAFKA;
const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string): Uint8Array => enc.encode(s);
const text = (b: Uint8Array | null): string | null => (b === null ? null : dec.decode(b));
const topicName = (label: string): string => `kafka-${label}-${randomUUID().slice(0, 8)}`;

if (brokers === undefined || brokers === '') {
  if (process.env.CI) {
    test('a Kafka broker for the Kafka log tests', () => {
      throw new Error('TRIBUTARY_TEST_KAFKA is not set in CI; scripts/test.sh must start the broker');
    });
  } else {
    test('Kafka log', {
      skip: 'TRIBUTARY_TEST_KAFKA is not set; run `npm test`, which starts a broker',
    }, () => {});
  }
} else {
  const open = async (): Promise<KafkaLog> =>
    new KafkaLog({ brokers: brokers.split(','), clientId: 'tributary-test' });

  logContract('kafka', open, { topicPrefix: 'contract-kafka-' });

  describe('Kafka log: Kafka specifics', { timeout: 90_000 }, () => {
    let log: KafkaLog;
    before(async () => {
      log = await open();
    });
    after(async () => {
      await log?.close();
    });

    const toolsMissing = kafkaToolsMissing();

    test('keyed records land in the partition Kafka’s own Java producer picks', {
      skip: toolsMissing,
    }, async () => {
      const t = topicName('java-keys');
      const partitions = 7;
      await log.createTopic(t, { partitions });
      // Keys of every length class murmur2 treats differently (tail of 0-3 bytes), and
      // multi-byte UTF-8.
      const keys = Array.from({ length: 200 }, (_, i) => {
        const base = i % 5 === 0 ? `klant-ü${i}` : `order-${(i * 2_654_435_761) % 1_000_003}`;
        return base.slice(0, 1 + (i % 23));
      });
      const unique = [...new Set(keys)];
      const lines = unique.map((k, i) => `${k}|java-${i}`).join('\n');
      await runKafkaTool(
        'org.apache.kafka.tools.ConsoleProducer',
        [
          '--bootstrap-server',
          brokers,
          '--topic',
          t,
          '--reader-property',
          'parse.key=true',
          '--reader-property',
          'key.separator=|',
        ],
        `${lines}\n`,
      );
      await log.produce(unique.map((k, i) => ({ topic: t, key: bytes(k), value: bytes(`ts-${i}`) })));

      const javaPartition = new Map<string, number>();
      const ourPartition = new Map<string, number>();
      for (let p = 0; p < partitions; p++) {
        const { records } = await log.fetch(t, p, 0, { maxRecords: 10_000 });
        for (const r of records) {
          const key = text(r.key)!;
          const value = text(r.value)!;
          (value.startsWith('java-') ? javaPartition : ourPartition).set(key, p);
        }
      }
      assert.equal(javaPartition.size, unique.length, 'every key the Java producer sent is in the topic');
      assert.equal(ourPartition.size, unique.length);
      for (const k of unique) {
        assert.equal(javaPartition.get(k), partitionForKey(bytes(k), partitions), `partitionForKey('${k}')`);
        assert.equal(ourPartition.get(k), javaPartition.get(k), `KafkaLog put '${k}' where Java did`);
      }
      assert.ok(new Set(javaPartition.values()).size === partitions, 'the keys spread over every partition');
    });

    test('Kafka’s console consumer reads what KafkaLog produced', { skip: toolsMissing }, async () => {
      const t = topicName('console');
      await log.createTopic(t, { partitions: 1 });
      const ts = 1_700_000_000_000;
      await log.produce([
        {
          topic: t,
          key: bytes('kä'),
          value: bytes('{"a":1}'),
          headers: { src: bytes('web') },
          timestamp: ts,
        },
        { topic: t, value: bytes('no key'), timestamp: ts + 1 },
        { topic: t, key: bytes('tomb'), value: null, timestamp: ts + 2 },
      ]);
      const out = await runKafkaTool('org.apache.kafka.tools.consumer.ConsoleConsumer', [
        '--bootstrap-server',
        brokers,
        '--topic',
        t,
        '--from-beginning',
        '--max-messages',
        '3',
        '--timeout-ms',
        '30000',
        ...['print.key', 'print.headers', 'print.offset', 'print.timestamp'].flatMap((p) => [
          '--formatter-property',
          `${p}=true`,
        ]),
        '--formatter-property',
        'key.separator=|',
      ]);
      const lines = out.split('\n').filter((l) => l.startsWith('CreateTime:'));
      assert.deepEqual(lines, [
        `CreateTime:${ts}|Offset:0|src:web|kä|{"a":1}`,
        `CreateTime:${ts + 1}|Offset:1|NO_HEADERS|null|no key`,
        `CreateTime:${ts + 2}|Offset:2|NO_HEADERS|tomb|null`,
      ]);
    });

    test('group offsets agree with Kafka’s consumer-group command, both ways', {
      skip: toolsMissing,
    }, async () => {
      const t = topicName('groups');
      await log.createTopic(t, { partitions: 3 });
      const records: ProduceRecord[] = [];
      for (let p = 0; p < 3; p++) {
        for (let i = 0; i < 10; i++) records.push({ topic: t, partition: p, value: bytes(`${p}-${i}`) });
      }
      await log.produce(records);
      const group = `tributary-test-${randomUUID().slice(0, 8)}`;
      await log.commitOffsets(group, [
        { topic: t, partition: 0, offset: 4 },
        { topic: t, partition: 2, offset: 9 },
      ]);
      const command = 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand';
      const described = await runKafkaTool(command, [
        '--bootstrap-server',
        brokers,
        '--describe',
        '--group',
        group,
      ]);
      const current = new Map<number, string>();
      for (const line of described.split('\n')) {
        const cols = line.trim().split(/\s+/);
        if (cols[0] === group && cols[1] === t) current.set(Number(cols[2]), cols[3]);
      }
      assert.deepEqual(
        current,
        new Map([
          [0, '4'],
          [2, '9'],
        ]),
      );
      await runKafkaTool(command, [
        '--bootstrap-server',
        brokers,
        '--reset-offsets',
        '--group',
        group,
        '--topic',
        `${t}:1`,
        '--to-offset',
        '6',
        '--execute',
      ]);
      assert.deepEqual(
        await log.committedOffsets(group, t),
        new Map([
          [0, 4],
          [1, 6],
          [2, 9],
        ]),
      );
    });

    test('fetch steps over the offsets of transaction markers', { skip: toolsMissing }, async () => {
      const t = topicName('transactions');
      await log.createTopic(t, { partitions: 2 });
      // Kafka's own producer, transactional: each commit writes a control record (a
      // marker) that takes an offset but is not data.
      await runKafkaTool('org.apache.kafka.tools.ProducerPerformance', [
        '--topic',
        t,
        '--num-records',
        '60',
        '--record-size',
        '40',
        '--throughput',
        '-1',
        '--command-property',
        `bootstrap.servers=${brokers}`,
        '--transactional-id',
        `tributary-test-${randomUUID().slice(0, 8)}`,
        '--transaction-duration-ms',
        '20',
      ]);
      let data = 0;
      let offsetsTaken = 0;
      for (let p = 0; p < 2; p++) {
        const { latest } = await log.offsets(t, p);
        offsetsTaken += latest;
        let offset = 0;
        let last = -1;
        for (let calls = 0; offset < latest; calls++) {
          assert.ok(
            calls < 200,
            `reading partition ${p} does not reach its end (${latest}); stuck at ${offset}`,
          );
          const res = await log.fetch(t, p, offset, { maxRecords: 7 });
          for (const r of res.records) {
            assert.ok(r.offset > last, 'offsets increase');
            last = r.offset;
            assert.equal(r.value?.length, 40);
          }
          const values = await log.fetchValues(t, p, offset, { maxRecords: 7 });
          assert.deepEqual(
            [...values.offsets],
            res.records.map((r) => r.offset),
          );
          assert.equal(values.nextOffset, res.nextOffset);
          data += res.records.length;
          assert.ok(res.nextOffset > offset || offset === latest, 'every fetch below the end makes progress');
          offset = res.nextOffset;
        }
      }
      assert.equal(data, 60);
      assert.ok(offsetsTaken > 60, 'the commit markers took offsets too');
    });

    test('a produce larger than one request is split, keeping order and dense offsets', async () => {
      const t = topicName('large');
      await log.createTopic(t, { partitions: 2 });
      // 3,000 records of 1 KiB to one partition: about 3 MiB, three times Kafka's
      // default max.message.bytes for one batch.
      const value = 'x'.repeat(1000);
      const res = await log.produce(
        Array.from({ length: 3000 }, (_, i) => ({ topic: t, partition: 1, value: bytes(`${i}:${value}`) })),
      );
      assert.deepEqual(
        res.map((r) => r.offset),
        Array.from({ length: 3000 }, (_, i) => i),
      );
      const seen: number[] = [];
      let offset = 0;
      for (let i = 0; i < 50 && offset < 3000; i++) {
        const batch = await log.fetchValues(t, 1, offset, { maxRecords: 1000 });
        const lines = dec.decode(batch.values).split('\n').slice(0, -1);
        for (const line of lines) seen.push(Number(line.slice(0, line.indexOf(':'))));
        offset = batch.nextOffset;
      }
      assert.deepEqual(
        seen,
        Array.from({ length: 3000 }, (_, i) => i),
      );
    });

    test('concurrent produce calls each get the offsets their records were written at', async () => {
      const t = topicName('concurrent');
      await log.createTopic(t, { partitions: 1 });
      const calls = Array.from({ length: 40 }, (_, c) =>
        log.produce(
          Array.from({ length: 1 + (c % 3) }, (_, i) => ({ topic: t, value: bytes(`c${c}-${i}`) })),
        ),
      );
      const results = await Promise.all(calls);
      const { records } = await log.fetch(t, 0, 0);
      const byOffset = new Map(records.map((r) => [r.offset, text(r.value)]));
      const total = results.reduce((n, r) => n + r.length, 0);
      assert.equal(records.length, total);
      results.forEach((res, c) => {
        res.forEach((r, i) => {
          assert.equal(byOffset.get(r.offset), `c${c}-${i}`);
        });
      });
    });

    test('a record the broker refuses fails its call with INPUT_INVALID; later calls still work', async () => {
      const t = topicName('refused');
      await log.createTopic(t, { partitions: 1 });
      await log.produce([{ topic: t, value: bytes('before') }]);
      // Kafka 4 refuses timestamps more than an hour ahead of the broker's clock
      // (message.timestamp.after.max.ms); a day ahead is refused whatever the clocks.
      const refused = log.produce([{ topic: t, value: bytes('future'), timestamp: Date.now() + 86_400_000 }]);
      await assert.rejects(refused, (err: unknown) => {
        assert.ok(isTributaryError(err, 'INPUT_INVALID'), String(err));
        assert.match(err.message, /INVALID_TIMESTAMP/);
        assert.match(err.message, new RegExp(t));
        return true;
      });
      const res = await log.produce([{ topic: t, value: bytes('after') }]);
      assert.equal(res[0].offset, 1);
      assert.deepEqual(
        (await log.fetch(t, 0, 0)).records.map((r) => text(r.value)),
        ['before', 'after'],
      );
    });

    test('after partitions are added by another client, a record for a new partition lands in it', async () => {
      const t = topicName('grown');
      await log.createTopic(t, { partitions: 2 });
      // The producer learns the topic with 2 partitions.
      await log.produce([{ topic: t, partition: 1, value: bytes('old') }]);
      const admin = new Admin({ clientId: 'grow', bootstrapBrokers: [brokers!] });
      try {
        await admin.createPartitions({ topics: [{ name: t, count: 4 }] });
      } finally {
        await admin.close();
      }
      // Before the fix, the producer sent partition 3 to 3 % 2 = 1, silently.
      await log.produce([{ topic: t, partition: 3, value: bytes('new') }]);
      assert.deepEqual(
        (await log.fetch(t, 3, 0)).records.map((r) => text(r.value)),
        ['new'],
      );
      assert.deepEqual(
        (await log.fetch(t, 1, 0)).records.map((r) => text(r.value)),
        ['old'],
      );
    });

    test('a broker that cannot be reached is reported as LOG_BROKER, naming it', async () => {
      // Port 1 on loopback: nothing listens there, so connections are refused at once.
      const unreachable = new KafkaLog({ brokers: ['127.0.0.1:1'] });
      try {
        await assert.rejects(unreachable.describeTopic('anything'), (err: unknown) => {
          assert.ok(isTributaryError(err, 'LOG_BROKER'), String(err));
          assert.match(err.message, /127\.0\.0\.1:1/);
          assert.equal(err.retryable, true);
          return true;
        });
      } finally {
        await unreachable.close();
      }
    });
  });
}
