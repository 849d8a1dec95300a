/**
 * Two `tributary serve` processes on one Kafka log take the same Idempotency-Key at the
 * same moment: many identical POSTs with one key, sent at once and spread over both
 * servers, leave the batch in the topic exactly once (counted by Confluent's Python
 * client), and every answer is the same 200.
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

function startServe(dataDir: string) {
  const cli = startCli([
    'serve',
    '--port',
    '0',
    '--kafka',
    brokers!,
    '--jwt-secret',
    SECRET,
    '--data-dir',
    dataDir,
  ]);
  const url = new Promise<string>((resolve, reject) => {
    let out = '';
    const look = (d: Buffer) => {
      out += d;
      const m = /serving .* at (http:\/\/\S+)\/api\/v1\n/.exec(out);
      if (m) resolve(m[1]);
    };
    cli.child.stdout!.on('data', look);
    cli.child.stderr!.on('data', look);
    void cli.exit.then((e) => reject(new Error(`serve exited early: ${e.code} ${e.stderr}`)));
  });
  return { cli, url };
}

describe('two servers, one Kafka log, one idempotency key', { skip, timeout: 180_000 }, () => {
  test('identical keyed POSTs sent at once to both servers are written once', async () => {
    const topic = `ingest-two-${randomUUID().slice(0, 8)}`;
    const log = new KafkaLog({ brokers: brokers!.split(','), clientId: 'tributary-test-two-servers' });
    await log.createTopic(topic, { partitions: 3 });
    await log.close();
    const a = startServe(tempDir('two-a'));
    const b = startServe(tempDir('two-b'));
    try {
      const urls = await Promise.all([a.url, b.url]);
      const { token } = await createToken({
        key: new TextEncoder().encode(SECRET),
        role: 'writer',
        ttlSeconds: 600,
        subject: 'the-same-client',
      });
      const post = async (url: string, key: string, body: string) => {
        const res = await fetch(`${url}/api/v1/topics/${topic}/records`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/x-ndjson',
            'idempotency-key': key,
          },
          body,
        });
        return { status: res.status, text: await res.text() };
      };
      // Warm both servers up (each reads the keys topic once, on its first keyed request).
      const warm = await Promise.all(urls.map((u, i) => post(u, `warm-${randomUUID()}`, `{"warm":${i}}`)));
      for (const w of warm) assert.equal(w.status, 200, w.text);

      const ROUNDS = 6;
      const PER_ROUND = 10;
      const expected: string[] = ['{"warm":0}', '{"warm":1}'];
      for (let round = 0; round < ROUNDS; round++) {
        const key = randomUUID();
        const lines = Array.from({ length: 20 }, (_, i) => `{"round":${round},"i":${i}}`);
        expected.push(...lines);
        const body = lines.join('\n');
        const answers = await Promise.all(
          Array.from({ length: PER_ROUND }, (_, i) => post(urls[i % 2], key, body)),
        );
        for (const ans of answers) assert.equal(ans.status, 200, `round ${round}: ${ans.text}`);
        // Every answer names the same offsets: one write, answered to all.
        const placed = answers.map((ans) => JSON.stringify(JSON.parse(ans.text).partitions));
        assert.equal(new Set(placed).size, 1, `round ${round}: different answers\n${placed.join('\n')}`);
      }
      const values = await confluentValues(topic);
      assert.equal(values.length, expected.length, 'each record once');
      assert.deepEqual(values.sort(), expected.sort());
    } finally {
      a.cli.child.kill('SIGTERM');
      b.cli.child.kill('SIGTERM');
    }
    for (const s of [a, b]) {
      const exit = await exitWithin(s.cli.exit, 20_000);
      assert.equal(exit?.code, 0, exit?.stderr ?? 'no exit');
    }
  });
});
