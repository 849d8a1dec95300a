/**
 * Idempotency keys through real HTTP: a client retrying a POST it gave up on (timed out
 * while the log held the records) gets the first request's result and the topic holds
 * the records once; so does a retry after the server restarted, and after it failed
 * half-way (some records written, the rest not: the retry writes only the rest). The
 * truth is the topic read back from the log.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KEY_HEADER } from '../../src/server/ingest/idempotency.ts';
import { call, startServer, tempDir } from './helpers.ts';
import { halfFailingLog, holdingLog, openTestLog, type ReadRecord, readTopic } from './ingest-helpers.ts';

async function post(
  url: string,
  topic: string,
  body: string,
  opts: { token: string; key?: string; signal?: AbortSignal },
) {
  const headers: Record<string, string> = {
    'content-type': 'application/x-ndjson',
    authorization: `Bearer ${opts.token}`,
  };
  if (opts.key) headers['idempotency-key'] = opts.key;
  const res = await fetch(`${url}/api/v1/topics/${topic}/records`, {
    method: 'POST',
    headers,
    body,
    signal: opts.signal,
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: the server's JSON
  return { status: res.status, headers: res.headers, body: JSON.parse(text) as any, text };
}

const lines = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ tag, i, amount: i * 3 }));

/** The answer's summary as the topic shows it: per partition, count and offset range. */
function summaryOf(records: ReadRecord[]) {
  const by = new Map<number, number[]>();
  for (const r of records) by.set(r.partition, [...(by.get(r.partition) ?? []), r.offset]);
  return [...by]
    .sort((a, b) => a[0] - b[0])
    .map(([partition, offsets]) => ({
      partition,
      records: offsets.length,
      firstOffset: Math.min(...offsets),
      lastOffset: Math.max(...offsets),
    }));
}

describe('Idempotency-Key', () => {
  test('a client retrying a POST it gave up on gets the first result; the topic holds the records once', async () => {
    const dataDir = tempDir('idem-timeout');
    const log = await openTestLog(dataDir);
    await log.createTopic('orders', { partitions: 3 });
    const held = holdingLog(log, 'orders');
    const s = await startServer({ dataDir, ingest: { log: held.log } });
    try {
      const token = await s.token('writer');
      const body = lines(30, 'a').join('\n');
      held.hold();
      const gaveUp = new AbortController();
      const first = post(s.url, 'orders', body, { token, key: 'batch-0001', signal: gaveUp.signal });
      await held.entered;
      gaveUp.abort(); // the client's timeout: it never sees the answer
      await assert.rejects(first);
      // The retry arrives while the first request's records still wait for the log: both
      // requests are in the handler once the server holds 60 records.
      const retry = post(s.url, 'orders', body, { token, key: 'batch-0001' });
      while (
        !/tributary_ingest_in_flight_records 60\b/.test((await call(s.url, '/metrics', { token })).text)
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      held.release();
      const r = await retry;
      assert.equal(r.status, 200, r.text);
      const back = await readTopic(log, 'orders');
      assert.deepEqual(back.map((x) => x.value).sort(), lines(30, 'a').sort());
      assert.deepEqual(r.body.partitions, summaryOf(back));
      assert.equal(r.body.records, 30);
      // And once more: the same answer, nothing written.
      const third = await post(s.url, 'orders', body, { token, key: 'batch-0001' });
      assert.equal(third.status, 200);
      assert.equal(third.body.replayed, true);
      assert.equal(third.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(third.body.partitions, r.body.partitions);
      assert.equal((await readTopic(log, 'orders')).length, 30);
      // Each record carries the key's digest (how a later retry finds what was written).
      assert.ok(back.every((x) => typeof x.headers[KEY_HEADER] === 'string'));
    } finally {
      await s.stop();
      await log.close();
    }
  });

  test('after a restart the key still answers the first result; another body with it is 422', async () => {
    const dataDir = tempDir('idem-restart');
    const body = lines(25, 'b').join('\n');
    let first: Awaited<ReturnType<typeof post>>;
    {
      const log = await openTestLog(dataDir);
      await log.createTopic('orders', { partitions: 2 });
      const s = await startServer({ dataDir, ingest: { log } });
      try {
        first = await post(s.url, 'orders', body, { token: await s.token('writer'), key: 'k-restart' });
        assert.equal(first.status, 200, first.text);
      } finally {
        await s.stop();
        await log.close();
      }
    }
    const log = await openTestLog(dataDir);
    const s = await startServer({ dataDir, ingest: { log } });
    try {
      const token = await s.token('writer');
      const again = await post(s.url, 'orders', body, { token, key: 'k-restart' });
      assert.equal(again.status, 200, again.text);
      assert.equal(again.body.replayed, true);
      assert.deepEqual(again.body.partitions, first.body.partitions);
      const back = await readTopic(log, 'orders');
      assert.deepEqual(back.map((x) => x.value).sort(), lines(25, 'b').sort());
      const other = await post(s.url, 'orders', lines(3, 'other').join('\n'), { token, key: 'k-restart' });
      assert.equal(other.status, 422);
      assert.equal(other.body.code, 'INGEST_IDEMPOTENCY_KEY_REUSED');
      // Keys belong to a token's subject: another subject's key of the same text is its own.
      const ann = await s.token('writer', { subject: 'ann' });
      const hers = await post(s.url, 'orders', lines(3, 'ann').join('\n'), { token: ann, key: 'k-restart' });
      assert.equal(hers.status, 200);
      assert.equal(hers.body.replayed, false);
      assert.equal((await readTopic(log, 'orders')).length, 28);
    } finally {
      await s.stop();
      await log.close();
    }
  });

  test('a request that failed half-way (some records written): the retry after a restart writes only the rest', async () => {
    const dataDir = tempDir('idem-half');
    const body = lines(12, 'c').join('\n');
    {
      const log = await openTestLog(dataDir);
      await log.createTopic('orders', { partitions: 3 });
      const s = await startServer({ dataDir, ingest: { log: halfFailingLog(log, 'orders', 5) } });
      try {
        const failed = await post(s.url, 'orders', body, { token: await s.token('writer'), key: 'k-half' });
        assert.equal(failed.status, 503, failed.text);
        assert.equal(failed.body.code, 'LOG_BROKER');
        assert.equal((await readTopic(log, 'orders')).length, 5);
      } finally {
        await s.stop();
        await log.close();
      }
    }
    const log = await openTestLog(dataDir);
    const s = await startServer({ dataDir, ingest: { log } });
    try {
      const again = await post(s.url, 'orders', body, { token: await s.token('writer'), key: 'k-half' });
      assert.equal(again.status, 200, again.text);
      const back = await readTopic(log, 'orders');
      assert.equal(back.length, 12);
      assert.deepEqual(back.map((x) => x.value).sort(), lines(12, 'c').sort());
      assert.deepEqual(again.body.partitions, summaryOf(back));
    } finally {
      await s.stop();
      await log.close();
    }
  });
});
