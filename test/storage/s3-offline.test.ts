/** S3Store behaviour that needs no S3 server: what a user sees when the endpoint is unreachable. */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { S3Store } from '../../src/storage/s3.ts';

/** A loopback port that nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('an unreachable endpoint is a retryable STORAGE_IO error naming bucket, key and endpoint', async () => {
  const endpoint = `http://127.0.0.1:${await closedPort()}`;
  const store = new S3Store({
    bucket: 'lake',
    prefix: 'warehouse',
    endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  try {
    for (const op of [
      () => store.get('t/x.json'),
      () => store.putIfAbsent('t/x.json', new Uint8Array([1])),
    ]) {
      await assert.rejects(op(), (err: unknown) => {
        assert.ok(isTributaryError(err, 'STORAGE_IO'), `got ${String(err)}`);
        assert.equal(err.retryable, true);
        assert.match(err.message, /s3:\/\/lake\/warehouse\/t\/x\.json/);
        assert.ok(err.message.includes(endpoint), err.message);
        assert.equal(err.details.errno, 'ECONNREFUSED');
        return true;
      });
    }
  } finally {
    store.destroy();
  }
});
