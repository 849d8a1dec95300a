/**
 * Fenced writers on a real Kafka broker (TRIBUTARY_TEST_KAFKA): Kafka transactions with
 * one transactional id claimed by two writers, as two workers owning the same source
 * partition one after the other. What the second claim must do to the first (abort its
 * open transaction, fail its commit and its later writes) is checked with our log's
 * reads and with Confluent's Python client (librdkafka) at read_committed, and the
 * aborted records are shown to be in the partition with read_uncommitted: the test proves
 * the fencing, not a write that never happened.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { systemClock } from '../../src/core/clock.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import { KafkaLog } from '../../src/log/kafka/index.ts';
import type { KafkaFencedWriter } from '../../src/log/kafka/transactions.ts';
import type { ProduceRecord } from '../../src/log/log.ts';
import { decodeDeadLetter } from '../../src/stream/dead-letter.ts';
import { DlqSink } from '../../src/stream/sinks/dlq.ts';
import type { BatchView, RejectedRecord } from '../../src/stream/types.ts';

const brokers = process.env.TRIBUTARY_TEST_KAFKA;
const python = process.env.TRIBUTARY_TEST_PYTHON;
const skip = !brokers ? 'TRIBUTARY_TEST_KAFKA is not set (npm test starts a broker)' : false;
if (!brokers && process.env.CI) throw new Error('TRIBUTARY_TEST_KAFKA is not set in CI');

const topicName = (label: string) => `txn-${label}-${randomUUID().slice(0, 8)}`;
const records = (topic: string, prefix: string, n: number, partition = 0): ProduceRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    topic,
    partition,
    key: Buffer.from(`${prefix}${i}`),
    value: Buffer.from(`${prefix}-value-${i}`),
  }));

interface Seen {
  partition: number;
  offset: number;
  key: string;
  value: string;
}

/** Every record of `topic` as Confluent's Python client reads it at `isolation`. */
function confluentRead(topic: string, isolation: 'read_committed' | 'read_uncommitted'): Promise<Seen[]> {
  const script = join(import.meta.dirname, 'py', 'kafka_isolation_read.py');
  return new Promise((resolve, reject) => {
    execFile(python!, [script, brokers!, topic, isolation], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kafka_isolation_read.py: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as Seen[]);
    });
  });
}

/** Every record of `topic` partition 0 through our log (read_committed). */
async function ourRead(log: KafkaLog, topic: string, partition = 0): Promise<Seen[]> {
  const out: Seen[] = [];
  const { earliest, latest } = await log.offsets(topic, partition);
  for (let at = earliest; at < latest; ) {
    const res = await log.fetch(topic, partition, at, { maxRecords: 3 });
    for (const r of res.records) {
      out.push({
        partition,
        offset: r.offset,
        key: Buffer.from(r.key ?? []).toString(),
        value: Buffer.from(r.value ?? []).toString(),
      });
    }
    assert.ok(res.nextOffset > at, `the read moves on from ${at}`);
    at = res.nextOffset;
  }
  return out;
}

const keysOf = (seen: Seen[]) => seen.map((s) => s.key);

describe('Kafka fenced writers (transactions)', { skip, timeout: 120_000 }, () => {
  let log: KafkaLog;
  before(() => {
    log = new KafkaLog({ brokers: brokers!.split(','), clientId: 'tributary-test-txn' });
  });
  after(async () => {
    await log?.close();
  });

  test('a second claim fences the first writer: its open transaction is aborted, its commit and later writes fail', async () => {
    const topic = topicName('fence');
    await log.createTopic(topic, { partitions: 1 });
    const id = `tributary/test/dlq/${topic}/0`;
    const first = log.fencedWriter(id) as KafkaFencedWriter;
    await first.claim();
    await first.write(records(topic, 'early', 2));
    // The first writer is "frozen" with a transaction open: its records are in the log.
    await first.send(records(topic, 'stale', 3));
    const second = log.fencedWriter(id) as KafkaFencedWriter;
    await second.claim();
    assert.equal(second.producer.id, first.producer.id, 'one producer id per transactional id');
    assert.ok(second.producer.epoch > first.producer.epoch, 'the claim bumped the epoch');

    await assert.rejects(first.commit(), (err) => {
      assert.ok(isTributaryError(err, 'LOG_WRITER_FENCED'), String(err));
      assert.ok(err.retryable);
      assert.match(err.message, /was claimed by another writer/);
      assert.match(err.message, new RegExp(id.replaceAll('/', '\\/')));
      return true;
    });
    assert.equal(first.state, 'fenced');
    await assert.rejects(first.write(records(topic, 'late', 1)), (err) =>
      isTributaryError(err, 'LOG_WRITER_FENCED'),
    );
    await assert.rejects(first.settle(), (err) => isTributaryError(err, 'LOG_WRITER_FENCED'));

    await second.write(records(topic, 'new', 2));
    const committed = ['early0', 'early1', 'new0', 'new1'];
    assert.deepEqual(keysOf(await ourRead(log, topic)), committed);
    if (python) {
      assert.deepEqual(keysOf(await confluentRead(topic, 'read_committed')), committed);
      // The stale records were written (and aborted), between the early and the new ones.
      assert.deepEqual(keysOf(await confluentRead(topic, 'read_uncommitted')), [
        'early0',
        'early1',
        'stale0',
        'stale1',
        'stale2',
        'new0',
        'new1',
      ]);
    }
    // Offsets: 2 records + marker, 3 aborted + marker, 2 + marker.
    assert.deepEqual(await log.offsets(topic, 0), { earliest: 0, latest: 10 });
  });

  test("a stale writer's produce after the claim fails too, and an open transaction holds readers back until the claim", async () => {
    const topic = topicName('produce');
    await log.createTopic(topic, { partitions: 2 });
    const id = `tributary/test/dlq/${topic}/1`;
    const first = log.fencedWriter(id) as KafkaFencedWriter;
    await first.claim();
    await first.send(records(topic, 'open', 2, 1));
    // read_committed: nothing past the open transaction's first offset.
    assert.deepEqual(await log.offsets(topic, 1), { earliest: 0, latest: 0 });
    const second = log.fencedWriter(id);
    await second.claim();
    assert.deepEqual(
      await log.offsets(topic, 1),
      { earliest: 0, latest: 3 },
      'aborted: 2 records and a marker',
    );
    await assert.rejects(first.send(records(topic, 'after', 1, 1)), (err) =>
      isTributaryError(err, 'LOG_WRITER_FENCED'),
    );
    await second.write(records(topic, 'ok', 1, 1));
    assert.deepEqual(keysOf(await ourRead(log, topic, 1)), ['ok0']);
    if (python) {
      const all = await confluentRead(topic, 'read_uncommitted');
      assert.deepEqual(keysOf(all), ['open0', 'open1', 'ok0']);
    }
  });

  test('a writer whose write failed settles as the same holder: what it had open is aborted', async () => {
    const topic = topicName('settle');
    await log.createTopic(topic, { partitions: 1 });
    const w = log.fencedWriter(`tributary/test/dlq/${topic}/0`) as KafkaFencedWriter;
    await w.claim();
    await w.send(records(topic, 'lost', 2));
    // A failing write in the same transaction (a partition the topic does not have).
    await assert.rejects(w.send(records(topic, 'bad', 1, 5)), (err) =>
      isTributaryError(err, 'LOG_PARTITION_NOT_FOUND'),
    );
    assert.equal(w.state, 'unsettled');
    const before = w.producer.epoch;
    await w.settle();
    assert.equal(w.state, 'ready');
    assert.ok(w.producer.epoch > before, 'settling bumped the epoch');
    await w.write(records(topic, 'kept', 2));
    assert.deepEqual(keysOf(await ourRead(log, topic)), ['kept0', 'kept1']);
    if (python) assert.deepEqual(keysOf(await confluentRead(topic, 'read_committed')), ['kept0', 'kept1']);
  });

  test('the DLQ sink: a new owner claims before reading the tail, the old owner is fenced, each dead letter once', async () => {
    const source = topicName('src');
    const dlqTopic = `${source}.dlq`;
    await log.createTopic(source, { partitions: 2 });
    const sink = () =>
      new DlqSink({
        log,
        topic: dlqTopic,
        sourceTopic: source,
        sourcePartitions: 2,
        contract: 'test',
        clock: systemClock,
        pipeline: 'txn-test',
      });
    const reject = (partition: number, offset: number): RejectedRecord => ({
      partition,
      offset,
      timestamp: 1_000 + offset,
      value: Buffer.from(`bad ${partition}/${offset}`),
      field: 'f',
      rule: 'type',
      message: 'not a number',
    });
    const batch = (rejected: RejectedRecord[]) => ({ topic: source, rejected }) as unknown as BatchView;

    const a = sink();
    await a.open();
    await a.own(new Set([0, 1]));
    const progressA = new Map<number, number>();
    assert.equal(await a.write(batch([reject(0, 3), reject(1, 4), reject(1, 7)]), progressA), 3);

    // Partition 1 moves to b: b claims it, then reads its tail.
    const b = sink();
    await b.own(new Set([1]));
    const progressB = await b.open([1]);
    assert.deepEqual([...progressB], [[1, 7]]);

    // a, not told, writes partition 1 again: fenced, nothing written for it; partition 0 is still a's.
    await assert.rejects(a.write(batch([reject(0, 9), reject(1, 8)]), progressA), (err) => {
      assert.ok(isTributaryError(err, 'LOG_WRITER_FENCED'), String(err));
      assert.match(err.message, /dead-letter writer of .* partition 1 was fenced/);
      assert.equal(err.details.partition, 1);
      return true;
    });
    assert.equal(await b.write(batch([reject(1, 7), reject(1, 8)]), progressB), 1, '7 was written by a');

    const dlq = async (p: number) =>
      (await log.fetch(dlqTopic, p, 0, { maxRecords: 100 })).records.map(
        (r) => decodeDeadLetter(r.value!).source_offset,
      );
    assert.deepEqual(await dlq(0), [3, 9]);
    assert.deepEqual(await dlq(1), [4, 7, 8]);
    // The tail, read past the commit markers, shows each partition's last dead letter.
    assert.deepEqual(
      [...(await sink().open())],
      [
        [0, 9],
        [1, 8],
      ],
    );
    await a.close();
    await b.close();
  });
});
