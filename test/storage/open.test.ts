import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { LocalStore } from '../../src/storage/local.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { openStore, s3OptionsFromEnv } from '../../src/storage/open.ts';
import { S3Store } from '../../src/storage/s3.ts';
import { bytes, failsWith, text } from './contract.ts';

describe('openStore', () => {
  let dir: string;
  const s3Stores: S3Store[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-open-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    for (const s of s3Stores) s.destroy();
  });

  function openS3(location: string, env: Record<string, string>): S3Store {
    const store = openStore(location, { env });
    assert.ok(store instanceof S3Store);
    s3Stores.push(store);
    return store;
  }

  test('a directory path or a file:// URL opens a LocalStore over that directory', async () => {
    const byPath = openStore(join(dir, 'tables'));
    assert.ok(byPath instanceof LocalStore);
    assert.equal(byPath.root, join(dir, 'tables'));
    await byPath.put('t/x', bytes('written by path'));
    const byUrl = openStore(pathToFileURL(join(dir, 'tables')).href);
    assert.ok(byUrl instanceof LocalStore);
    assert.equal(byUrl.url, byPath.url);
    assert.equal(text(await byUrl.get('t/x')), 'written by path');
    const relative = openStore('some/relative/dir');
    assert.ok(relative instanceof LocalStore);
    assert.equal(relative.root, resolve('some/relative/dir'));
  });

  test('memory://name opens one shared in-memory store per name', async () => {
    const a = openStore('memory://open-test');
    assert.ok(a instanceof MemoryStore);
    await a.put('k', bytes('v'));
    assert.equal(openStore('memory://open-test'), a);
    assert.equal(text(await openStore('memory://open-test').get('k')), 'v');
    const other = openStore('memory://open-test-other');
    assert.notEqual(other, a);
    await assert.rejects(other.get('k'), failsWith('STORAGE_NOT_FOUND'));
    assert.equal(a.url, 'memory://open-test');
  });

  test('s3:// opens an S3Store with endpoint, region, path style and credentials from the environment', async () => {
    const store = openS3('s3://lake/warehouse/sales/', {
      TRIBUTARY_S3_ENDPOINT: 'http://127.0.0.1:9999',
      AWS_REGION: 'eu-west-3',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
    });
    assert.equal(store.url, 's3://lake/warehouse/sales');
    assert.equal(store.bucket, 'lake');
    assert.equal(store.keyPrefix, 'warehouse/sales/');
    const endpoint = await store.client.config.endpoint?.();
    assert.equal(endpoint?.hostname, '127.0.0.1');
    assert.equal(endpoint?.port, 9999);
    assert.equal(await store.client.config.region(), 'eu-west-3');
    assert.equal(store.client.config.forcePathStyle, true, 'path style by default with an endpoint');
    assert.equal((await store.client.config.credentials()).accessKeyId, 'AKIDEXAMPLE');

    const virtualHost = openS3('s3a://lake', {
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9999',
      TRIBUTARY_S3_FORCE_PATH_STYLE: 'false',
    });
    assert.equal(virtualHost.url, 's3://lake');
    assert.equal(virtualHost.keyPrefix, '');
    assert.equal(virtualHost.client.config.forcePathStyle, false);
  });

  test('options given in code win over the environment', async () => {
    const store = openStore('s3://lake/p', {
      env: { TRIBUTARY_S3_ENDPOINT: 'http://127.0.0.1:1111', AWS_REGION: 'eu-west-3' },
      s3: { endpoint: 'http://127.0.0.1:2222', region: undefined },
    });
    assert.ok(store instanceof S3Store);
    s3Stores.push(store);
    assert.equal((await store.client.config.endpoint?.())?.port, 2222);
    assert.equal(
      await store.client.config.region(),
      'eu-west-3',
      'an undefined option does not erase the env value',
    );
  });

  test('unsupported or malformed locations are configuration errors that say what is accepted', () => {
    assert.throws(() => openStore('gs://bucket/x'), failsWith('CONFIG_INVALID', 'gs://bucket/x'));
    assert.throws(() => openStore(''), failsWith('CONFIG_INVALID'));
    assert.throws(() => openStore('s3://'), failsWith('CONFIG_INVALID'));
    assert.throws(() => openStore('s3://lake/a//b'), failsWith('STORAGE_INVALID_PATH'));
    assert.throws(
      () => s3OptionsFromEnv({ TRIBUTARY_S3_FORCE_PATH_STYLE: 'yes' }),
      failsWith('CONFIG_INVALID', 'TRIBUTARY_S3_FORCE_PATH_STYLE'),
    );
  });

  test('S3Store.fromUrl keeps the bucket and the prefix apart', () => {
    const s = S3Store.fromUrl('s3://bucket-1/a/b=c/');
    s3Stores.push(s);
    assert.equal(s.bucket, 'bucket-1');
    assert.equal(s.keyPrefix, 'a/b=c/');
    assert.equal(s.url, 's3://bucket-1/a/b=c');
    assert.throws(() => S3Store.fromUrl('http://bucket/x'), failsWith('CONFIG_INVALID'));
  });
});
