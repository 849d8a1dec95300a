/**
 * Two `tributary serve` processes on one Kafka log; the one that took a request's
 * Idempotency-Key is killed (SIGKILL, crash points) after claiming the key, or after
 * writing its records but before its `done` marker. The client retries the request on the
 * other server, which takes the key over at once (the claim's process is gone, on this
 * host) and writes only what is missing: the topic holds each record once, counted by
 * Confluent's Python client.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { KafkaLog } from '../../src/log/kafka/kafka-log.ts';
import { createToken } from '../../src/server/auth/token.ts';
import { exitWithin, startCli } from '../helpers/cli-child.ts';
import { tempDir } from './helpers.ts';

const brokers = process.env.TRIBUTARY_TEST_KAFKA;
const python = process.env.TRIBUTARY_TEST_PYTHON;
const skip =
  !brokers || !python ? 'needs TRIBUTARY_TEST_KAFKA and TRIBUTARY_TEST_PYTHON (npm test sets both)' : false;

const SECRET = 'a secret both servers share, of at least 32 bytes';

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

function startServe(env: NodeJS.ProcessEnv = {}) {
  const cli = startCli(
    ['serve', '--port', '0', '--kafka', brokers!, '--jwt-secret', SECRET, '--data-dir', tempDir('key-crash')],
    env,
  );
  const url = new Promise<string>((resolve, reject) => {
    let out = '';
    cli.child.stdout!.on('data', (d) => {
      out += d;
      const m = /serving .* at (http:\/\/\S+)\/api\/v1\n/.exec(out);
      if (m) resolve(m[1]);
    });
    void cli.exit.then((e) => reject(new Error(`serve exited: ${e.code} ${e.signal} ${e.stderr}`)));
  });
  return { cli, url };
}

describe('a server killed while it holds an idempotency key', { skip, timeout: 180_000 }, () => {
  for (const point of ['ingest.key-claimed', 'ingest.key-written']) {
    test(`killed at ${point}: the retry on the other server writes each record once`, async () => {
      const topic = `ingest-crash-${randomUUID().slice(0, 8)}`;
      const log = new KafkaLog({ brokers: brokers!.split(','), clientId: 'tributary-test-key-crash' });
      await log.createTopic(topic, { partitions: 3 });
      await log.close();
      const doomed = startServe({ TRIBUTARY_CRASH_AT: point });
      const other = startServe();
      try {
        const [doomedUrl, otherUrl] = await Promise.all([doomed.url, other.url]);
        const { token } = await createToken({
          key: new TextEncoder().encode(SECRET),
          role: 'writer',
          ttlSeconds: 600,
          subject: 'one-client',
        });
        const key = randomUUID();
        const lines = Array.from({ length: 30 }, (_, i) => `{"crash":"${point}","i":${i}}`);
        const post = (url: string) =>
          fetch(`${url}/api/v1/topics/${topic}/records`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': 'application/x-ndjson',
              'idempotency-key': key,
            },
            body: lines.join('\n'),
          });
        await assert.rejects(post(doomedUrl), 'the first server dies before it answers');
        const exit = await exitWithin(doomed.cli.exit, 20_000);
        assert.equal(exit?.signal, 'SIGKILL', `killed at ${point}: ${exit?.stderr}`);
        const retry = await post(otherUrl);
        const body = await retry.text();
        assert.equal(retry.status, 200, body);
        assert.equal(JSON.parse(body).records, 30);
        const values = await confluentValues(topic);
        assert.equal(values.length, 30, 'each record once');
        assert.deepEqual(values.sort(), [...lines].sort());
        // And again: the answer of the finished key, nothing more written.
        const again = await post(otherUrl);
        assert.equal(again.status, 200);
        assert.equal(((await again.json()) as { replayed: boolean }).replayed, true);
        assert.equal((await confluentValues(topic)).length, 30);
      } finally {
        doomed.cli.child.kill('SIGKILL');
        other.cli.child.kill('SIGTERM');
      }
      const exit = await exitWithin(other.cli.exit, 20_000);
      assert.equal(exit?.code, 0, exit?.stderr ?? 'no exit');
    });
  }
});
