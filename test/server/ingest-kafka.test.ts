/**
 * HTTP ingest into Apache Kafka (TRIBUTARY_TEST_KAFKA): what the 200 promised is in the
 * topic once, read back with Confluent's Python client; a keyed request that failed
 * half-way and is retried against a new server (a restart) leaves every record once.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { KafkaLog } from '../../src/log/kafka/kafka-log.ts';
import { startServer, tempDir } from './helpers.ts';
import { halfFailingLog } from './ingest-helpers.ts';

const brokers = process.env.TRIBUTARY_TEST_KAFKA;
const python = process.env.TRIBUTARY_TEST_PYTHON;
const skip =
  !brokers || !python ? 'needs TRIBUTARY_TEST_KAFKA and TRIBUTARY_TEST_PYTHON (npm test sets both)' : false;

/** Every record's value in `topic`, read by Confluent's client. */
function confluentValues(topic: string): Promise<string[]> {
  const script = join(import.meta.dirname, '..', 'scenarios', 'saas-sales', 'kafka_read.py');
  return new Promise((resolve, reject) =>
    execFile(python!, [script, brokers!, topic], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kafka_read.py: ${err.message}\n${stderr}`));
      else {
        const rows = JSON.parse(stdout) as Array<{ value: string }>;
        resolve(rows.map((r) => Buffer.from(r.value, 'base64').toString('utf8')));
      }
    }),
  );
}

/** Each with a long past 2^53, written as text so that it stays exact. */
const lines = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => `{"tag":"${tag}","i":${i},"n":9007199254740993}`);

async function post(url: string, topic: string, body: string, token: string, key?: string) {
  const res = await fetch(`${url}/api/v1/topics/${topic}/records`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/x-ndjson',
      ...(key && { 'idempotency-key': key }),
    },
    body,
  });
  // biome-ignore lint/suspicious/noExplicitAny: the server's JSON
  return { status: res.status, body: (await res.json()) as any };
}

describe('HTTP ingest into Kafka', { skip, timeout: 120_000 }, () => {
  const open = () => new KafkaLog({ brokers: brokers!.split(','), clientId: 'tributary-test-ingest' });

  test('records answered 200 are in the topic once, as sent (Confluent’s client reads them)', async () => {
    const topic = `ingest-${randomUUID().slice(0, 8)}`;
    const log = open();
    await log.createTopic(topic, { partitions: 3 });
    const s = await startServer({ dataDir: tempDir('kafka-ingest'), ingest: { log } });
    try {
      const token = await s.token('writer');
      const a = await post(s.url, topic, lines(150, 'a').join('\n'), token);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(a.body.records, 150);
      assert.deepEqual((await confluentValues(topic)).sort(), lines(150, 'a').sort());
    } finally {
      await s.stop();
      await log.close();
    }
  });

  test('a keyed request failed half-way, retried after a restart: every record once', async () => {
    const topic = `ingest-${randomUUID().slice(0, 8)}`;
    const keysTopic = `_keys-${randomUUID().slice(0, 8)}`;
    const dataDir = tempDir('kafka-ingest-half');
    const body = lines(40, 'b').join('\n');
    {
      const log = open();
      await log.createTopic(topic, { partitions: 2 });
      const s = await startServer({
        dataDir,
        ingest: { log: halfFailingLog(log, topic, 15), keysTopic },
      });
      try {
        const failed = await post(s.url, topic, body, await s.token('writer'), 'k-kafka');
        assert.equal(failed.status, 503);
      } finally {
        await s.stop();
        await log.close();
      }
    }
    assert.equal((await confluentValues(topic)).length, 15);
    const log = open();
    const s = await startServer({ dataDir, ingest: { log, keysTopic } });
    try {
      const again = await post(s.url, topic, body, await s.token('writer'), 'k-kafka');
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.records, 40);
      assert.deepEqual((await confluentValues(topic)).sort(), lines(40, 'b').sort());
    } finally {
      await s.stop();
      await log.close();
    }
  });
});
