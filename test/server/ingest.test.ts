/**
 * HTTP ingest through real HTTP: NDJSON and JSON arrays land in the topic exactly once
 * after the 200, each value byte for byte as sent (read back from the log); envelopes
 * set key, headers, partition and timestamp; a batch with bad records is refused whole
 * with each bad record by position; 413, 415, 404, 403; 429 with Retry-After while the
 * log holds earlier records (a log whose produce is held).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Log } from '../../src/log/log.ts';
import { call, type Running, startServer, tempDir } from './helpers.ts';
import { holdingLog, openTestLog, readTopic } from './ingest-helpers.ts';

async function post(
  url: string,
  topic: string,
  body: string | Uint8Array,
  opts: { token?: string; contentType?: string; key?: string; query?: string; signal?: AbortSignal } = {},
) {
  const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/x-ndjson' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.key) headers['idempotency-key'] = opts.key;
  const res = await fetch(`${url}/api/v1/topics/${topic}/records${opts.query ?? ''}`, {
    method: 'POST',
    headers,
    body,
    signal: opts.signal,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  // biome-ignore lint/suspicious/noExplicitAny: whatever JSON the server answers
  return { status: res.status, headers: res.headers, text, body: json as any };
}

/** Order records of any shape, each a distinct JSON text, including a long past 2^53. */
function orderLines(n: number): string[] {
  return Array.from({ length: n }, (_, i) =>
    i === 7
      ? `{"id": 9007199254740993, "note": "a long past 2^53, kept digit for digit"}`
      : `{"id":${i},"status":"${['new', 'paid', 'shipped'][i % 3]}","amount":${(i * 1.25).toFixed(2)},"who":"Zoë ${i}"}`,
  );
}

describe('HTTP ingest', () => {
  let s: Running;
  let log: Log;
  let writer: string;
  let held: ReturnType<typeof holdingLog>;
  before(async () => {
    const dataDir = tempDir('ingest');
    log = await openTestLog(dataDir);
    await log.createTopic('orders', { partitions: 3 });
    await log.createTopic('arrays', { partitions: 2 });
    await log.createTopic('envelopes', { partitions: 4 });
    await log.createTopic('refused', { partitions: 2 });
    await log.createTopic('small', { partitions: 1 });
    await log.createTopic('held', { partitions: 1 });
    held = holdingLog(log, 'held');
    s = await startServer({
      dataDir,
      ingest: { log: held.log, bodyLimit: 64 * 1024, inFlight: { maxBytes: 1000 } },
    });
    writer = await s.token('writer');
  });
  after(async () => {
    await s.stop();
    await log.close();
  });

  test('NDJSON: every line once in the topic after the 200, byte for byte', async () => {
    const lines = orderLines(100);
    // A byte order mark, CRLF line ends, a blank line and no final newline are all taken.
    const body = `\ufeff${lines.slice(0, 50).join('\r\n')}\n\n${lines.slice(50).join('\n')}`;
    const a = await post(s.url, 'orders', body, { token: writer });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.body.topic, 'orders');
    assert.equal(a.body.records, 100);
    assert.equal(a.body.replayed, false);
    const back = await readTopic(log, 'orders');
    assert.deepEqual(back.map((r) => r.value).sort(), [...lines].sort());
    // The answer's summary is what the topic holds.
    for (const p of a.body.partitions) {
      const inP = back.filter((r) => r.partition === p.partition);
      assert.equal(inP.length, p.records);
      assert.equal(Math.min(...inP.map((r) => r.offset)), p.firstOffset);
      assert.equal(Math.max(...inP.map((r) => r.offset)), p.lastOffset);
    }
    assert.equal(
      a.body.partitions.reduce((n: number, p: { records: number }) => n + p.records, 0),
      100,
    );
  });

  test('a JSON array: each element’s text as sent, whatever its type', async () => {
    const elements = [
      '{"a": [1, {"b": "]}"}]}',
      '9007199254740993',
      '"text with \\" and ]"',
      '[1,2,3]',
      'null',
      'true',
    ];
    const body = `[\n  ${elements.join(' ,\n  ')}\n]\n`;
    const a = await post(s.url, 'arrays', body, { token: writer, contentType: 'application/json' });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.body.records, elements.length);
    const back = await readTopic(log, 'arrays');
    assert.deepEqual(back.map((r) => r.value).sort(), [...elements].sort());
  });

  test('envelopes: key, headers, partition and timestamp', async () => {
    const body = [
      '{"value": {"id": 1}, "key": "customer-1", "headers": {"source": "web"}, "partition": 3, "timestamp": 1767225600000}',
      '{"key": {"k": 2}, "value": [2]}',
      '{"value": "three", "partition": 0}',
    ].join('\n');
    const a = await post(s.url, 'envelopes', body, { token: writer, query: '?envelope=true' });
    assert.equal(a.status, 200, a.text);
    const back = await readTopic(log, 'envelopes');
    const one = back.find((r) => r.value === '{"id": 1}')!;
    assert.equal(one.partition, 3);
    assert.equal(one.key, 'customer-1');
    assert.deepEqual(one.headers, { source: 'web' });
    assert.equal(one.timestamp, 1767225600000);
    assert.equal(back.find((r) => r.value === '[2]')!.key, '{"k":2}');
    const three = back.find((r) => r.value === '"three"')!;
    assert.equal(three.partition, 0);
    assert.equal(three.key, null);
    assert.equal(back.length, 3);
  });

  test('a batch with bad records is refused whole, each bad record by position', async () => {
    const lines = orderLines(40);
    lines[16] = '{"id": 16, "status": '; // line 17
    lines[29] = "{'single': 'quotes'}"; // line 30
    const a = await post(s.url, 'refused', lines.join('\n'), { token: writer });
    assert.equal(a.status, 400, a.text);
    assert.equal(a.body.code, 'INGEST_RECORDS_INVALID');
    assert.equal(a.body.records, 40);
    assert.equal(a.body.invalid, 2);
    assert.deepEqual(
      a.body.errors.map((e: { index: number; line: number }) => [e.index, e.line]),
      [
        [16, 17],
        [29, 30],
      ],
    );
    assert.match(a.body.message, /line 17: not JSON/);
    const arr = await post(s.url, 'refused', '[1, {"a":}, 3, {"b": 2}, tru]', {
      token: writer,
      contentType: 'application/json',
    });
    assert.equal(arr.status, 400, arr.text);
    assert.deepEqual(
      arr.body.errors.map((e: { index: number }) => e.index),
      [1, 4],
    );
    const env = await post(
      s.url,
      'refused',
      '{"value": 1}\n{"value": 2, "partition": 2}\n{"key": "k"}\n[1]',
      {
        token: writer,
        query: '?envelope=true',
      },
    );
    assert.equal(env.status, 400, env.text);
    assert.deepEqual(
      env.body.errors.map((e: { line: number }) => e.line),
      [2, 3, 4],
    );
    assert.match(env.body.errors[0].message, /partition/);
    assert.match(env.body.errors[1].message, /no "value"/);
    const broken = await post(s.url, 'refused', '[1, 2', { token: writer, contentType: 'application/json' });
    assert.equal(broken.status, 400);
    assert.equal(broken.body.errors[0].index, 2);
    assert.deepEqual(await readTopic(log, 'refused'), []);
  });

  test('413 past the ingest body limit, 415 for another content type, nothing written', async () => {
    const big = orderLines(2000).join('\n');
    assert.ok(big.length > 64 * 1024);
    const a = await post(s.url, 'small', big, { token: writer });
    assert.equal(a.status, 413);
    assert.equal(a.body.code, 'HTTP_BODY_TOO_LARGE');
    assert.match(a.body.message, /--ingest-body-limit/);
    const t = await post(s.url, 'small', '{"a":1}', { token: writer, contentType: 'text/plain' });
    assert.equal(t.status, 415);
    assert.equal(t.body.code, 'HTTP_UNSUPPORTED_MEDIA_TYPE');
    assert.deepEqual(await readTopic(log, 'small'), []);
  });

  test('/ready checks the log', async () => {
    const r = await call(s.url, '/ready');
    assert.equal(r.status, 200);
    assert.equal(r.body.checks.log, 'ok');
  });

  test('no such topic: 404; a system topic: 400; a reader token: 403; no records: 400', async () => {
    const missing = await post(s.url, 'nothing-here', '{"a":1}', { token: writer });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'LOG_TOPIC_NOT_FOUND');
    const system = await post(s.url, '_schemas', '{"a":1}', { token: writer });
    assert.equal(system.status, 400);
    assert.equal(system.body.field, 'params.topic');
    const reader = await post(s.url, 'small', '{"a":1}', { token: await s.token('reader') });
    assert.equal(reader.status, 403);
    assert.equal(reader.body.code, 'AUTH_FORBIDDEN');
    const none = await call(s.url, '/api/v1/topics/small/records', {
      token: writer,
      rawBody: '\n\n',
      contentType: 'application/x-ndjson',
    });
    assert.equal(none.status, 400);
  });

  test('429 with Retry-After while earlier records wait for the log; taken once they are durable', async () => {
    held.hold();
    const first = post(s.url, 'held', orderLines(10).join('\n'), { token: writer });
    await held.entered;
    // The first request holds ~700 bytes of the 1,000 allowed: this one would pass the bound.
    const second = orderLines(20).slice(10).join('\n');
    const busy = await post(s.url, 'held', second, { token: writer });
    assert.equal(busy.status, 429, busy.text);
    assert.equal(busy.body.code, 'INGEST_BUSY');
    assert.equal(busy.headers.get('retry-after'), '1');
    held.release();
    assert.equal((await first).status, 200);
    const again = await post(s.url, 'held', second, { token: writer });
    assert.equal(again.status, 200, again.text);
    assert.equal((await readTopic(log, 'held')).length, 20);
    const m = await call(s.url, '/metrics', { token: writer });
    assert.match(m.text, /tributary_ingest_requests_total\{code="429"\} 1/);
  });
});
