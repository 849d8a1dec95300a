/**
 * A server that claimed an Idempotency-Key and died before it finished (its claim is in
 * the keys topic, some of its records in the topic, no `done`): what a client retrying
 * the request sees. The dead server is written by hand into the log — a claim marker as
 * a server writes it, and the records it got out — so each case is exact:
 *
 * - its process on this host is gone: the retry takes the key over at once and writes
 *   only the records not there yet;
 * - it was on another host: the retry waits, then gets 409 with Retry-After while the
 *   claim's lease runs; after the lease the retry takes over, every record once.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import type { Log } from '../../src/log/log.ts';
import {
  INDEX_HEADER,
  KEY_HEADER,
  KEYS_TOPIC,
  keyId,
  requestHash,
} from '../../src/server/ingest/idempotency.ts';
import { startServer, tempDir } from './helpers.ts';
import { openTestLog, readTopic } from './ingest-helpers.ts';

const enc = new TextEncoder();
const lines = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ i, what: 'claimed' }));

/** What a server that claimed `key`, wrote the first `wrote` records (to partition 0) and died leaves. */
async function deadClaim(
  log: Log,
  opts: { key: string; body: string; owner: { host: string; pid: number; start: string }; wrote: number },
) {
  const id = keyId('client', opts.key);
  const hash = requestHash('orders', 'ndjson', enc.encode(opts.body));
  const starts = [(await log.offsets('orders', 0)).latest, (await log.offsets('orders', 1)).latest];
  await log.ensureTopic(KEYS_TOPIC, { partitions: 1 });
  const now = Date.now();
  const marker = {
    id,
    hash,
    topic: 'orders',
    at: now,
    state: 'pending',
    starts,
    claim: 'the-dead-claim',
    claimedAt: now,
    owner: opts.owner,
  };
  await log.produce([
    { topic: KEYS_TOPIC, partition: 0, key: enc.encode(id), value: enc.encode(JSON.stringify(marker)) },
  ]);
  const values = opts.body.split('\n');
  await log.produce(
    values.slice(0, opts.wrote).map((v, i) => ({
      topic: 'orders',
      partition: 0,
      key: null,
      value: enc.encode(v),
      headers: { [KEY_HEADER]: enc.encode(id), [INDEX_HEADER]: enc.encode(String(i)) },
    })),
  );
}

async function post(url: string, token: string, key: string, body: string) {
  const res = await fetch(`${url}/api/v1/topics/orders/records`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/x-ndjson',
      'idempotency-key': key,
    },
    body,
  });
  // biome-ignore lint/suspicious/noExplicitAny: the server's JSON
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe('a claim on a key whose server died', () => {
  test('its process on this host is gone: the retry takes over at once, every record once', async () => {
    const dataDir = tempDir('claim-dead-local');
    const log = await openTestLog(dataDir);
    await log.createTopic('orders', { partitions: 2 });
    const body = lines(10).join('\n');
    // A pid that is not running (above the kernel's pid_max).
    await deadClaim(log, {
      key: 'k1',
      body,
      owner: { host: hostname(), pid: 2 ** 22 + 7, start: '1' },
      wrote: 4,
    });
    const s = await startServer({ dataDir, ingest: { log, keyWaitMs: 60_000, keyClaimLeaseMs: 600_000 } });
    try {
      const res = await post(s.url, await s.token('writer', { subject: 'client' }), 'k1', body);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.records, 10);
      const values = (await readTopic(log, 'orders')).map((r) => r.value);
      assert.deepEqual(values.sort(), lines(10).sort(), 'each record once');
    } finally {
      await s.stop();
      await log.close();
    }
  });

  test('on another host: 409 with Retry-After during its lease, then the retry finishes it', async () => {
    const dataDir = tempDir('claim-dead-remote');
    const log = await openTestLog(dataDir);
    await log.createTopic('orders', { partitions: 2 });
    const body = lines(10).join('\n');
    await deadClaim(log, { key: 'k2', body, owner: { host: 'another-host', pid: 1, start: '1' }, wrote: 3 });
    const lease = 3_000;
    const s = await startServer({ dataDir, ingest: { log, keyWaitMs: 200, keyClaimLeaseMs: lease } });
    const started = Date.now();
    try {
      const token = await s.token('writer', { subject: 'client' });
      const early = await post(s.url, token, 'k2', body);
      assert.equal(early.status, 409, JSON.stringify(early.body));
      assert.equal(early.body.code, 'INGEST_IDEMPOTENCY_KEY_IN_PROGRESS');
      assert.ok(Number(early.headers.get('retry-after')) >= 1);
      assert.equal((await readTopic(log, 'orders')).length, 3, 'nothing written while the claim holds');
      // After the lease (the client waits as Retry-After says), the retry takes over.
      await new Promise((r) => setTimeout(r, Math.max(0, started + lease + 100 - Date.now())));
      let late = await post(s.url, token, 'k2', body);
      while (late.status === 409) {
        await new Promise((r) => setTimeout(r, 200));
        late = await post(s.url, token, 'k2', body);
      }
      assert.equal(late.status, 200, JSON.stringify(late.body));
      const values = (await readTopic(log, 'orders')).map((r) => r.value);
      assert.deepEqual(values.sort(), lines(10).sort(), 'each record once');
      const again = await post(s.url, token, 'k2', body);
      assert.equal(again.status, 200);
      assert.equal(again.body.replayed, true);
    } finally {
      await s.stop();
      await log.close();
    }
  });
});
