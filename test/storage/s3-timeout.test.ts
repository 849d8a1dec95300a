/**
 * An S3 endpoint that accepts connections and never answers: a request fails with
 * STORAGE_IO (retryable, so the pipeline retries its batch) instead of waiting forever,
 * which the SDK does by default.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { S3Store } from '../../src/storage/s3.ts';

test('a silent S3 endpoint fails a request with STORAGE_IO instead of hanging', {
  timeout: 60_000,
}, async () => {
  const sockets: Socket[] = [];
  const server = createServer((s) => sockets.push(s)).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as { port: number };
  const store = new S3Store({
    bucket: 'silent',
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    requestTimeoutMs: 300,
  });
  try {
    await assert.rejects(store.get('x'), (err: Error & { code?: string; retryable?: boolean }) => {
      assert.equal(err.code, 'STORAGE_IO');
      assert.match(err.message, /S3 GET of s3:\/\/silent\/x .*requestTimeout/);
      return true;
    });
    await assert.rejects(store.putIfAbsent('y', new Uint8Array([1])), { code: 'STORAGE_IO' });
    assert.ok(sockets.length >= 2, 'the requests reached the endpoint');
  } finally {
    store.destroy();
    for (const s of sockets) s.destroy();
    server.close();
  }
});
