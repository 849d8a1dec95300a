/**
 * S3Store against a real S3-compatible server: the one at TRIBUTARY_TEST_S3, which
 * `npm test` starts (scripts/provision/s3.start.sh). Every store gets its own bucket.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { S3Store } from '../../src/storage/s3.ts';
import { bytes, failsWith, storeContract, text } from './contract.ts';

const endpoint = process.env.TRIBUTARY_TEST_S3;

if (endpoint === undefined || endpoint === '') {
  const why =
    'TRIBUTARY_TEST_S3 is not set: run `npm test`, which starts an S3 server, or start one with `eval "$(bash scripts/provision/s3.start.sh)"`';
  if (process.env.CI) {
    test('S3Store needs the S3 test server', () =>
      assert.fail(`${why} (CI is set, so this cannot be skipped)`));
  } else {
    test('S3Store contract', { skip: why }, () => {});
  }
} else {
  s3Tests(endpoint);
}

function s3Tests(endpoint: string): void {
  // The test server accepts any credentials; real ones from the environment work too.
  const credentials = {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID || 'test',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY || 'test',
  };
  const region = 'us-east-1';
  const admin = new S3Client({ endpoint, region, credentials, forcePathStyle: true });
  const buckets: string[] = [];
  const stores: S3Store[] = [];

  async function newBucket(): Promise<string> {
    const bucket = `tributary-test-${randomUUID().slice(0, 13)}`;
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    buckets.push(bucket);
    return bucket;
  }

  function store(
    bucket: string,
    prefix?: string,
    extra: Partial<ConstructorParameters<typeof S3Store>[0]> = {},
  ) {
    const s = new S3Store({ bucket, prefix, endpoint, region, credentials, ...extra });
    stores.push(s);
    return s;
  }

  after(async () => {
    for (const bucket of buckets) {
      let token: string | undefined;
      do {
        const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        for (const o of page.Contents ?? [])
          await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
    }
    for (const s of stores) s.destroy();
    admin.destroy();
  });

  storeContract('S3Store', async () => store(await newBucket(), 'warehouse/sales'), {
    crossProcess: {
      processes: 3,
      rounds: 40,
      env: {
        TRIBUTARY_S3_ENDPOINT: endpoint,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_REGION: region,
      },
    },
  });

  storeContract('S3Store without a prefix', async () => store(await newBucket()), { writers: 8 });

  describe('S3Store specifics', { timeout: 60_000 }, () => {
    test('objects live under the prefix, and a store sees only its own prefix', async () => {
      const bucket = await newBucket();
      const a = store(bucket, 'tables/a');
      const a2 = store(bucket, '/tables/a2/'); // a name that extends the other prefix
      assert.equal(a.url, `s3://${bucket}/tables/a`);
      assert.equal(a2.url, `s3://${bucket}/tables/a2`);
      await a.put('_delta_log/00000000000000000000.json', bytes('a0'));
      await a2.put('_delta_log/00000000000000000000.json', bytes('a2-0'));
      assert.deepEqual(
        (await a.list('')).map((m) => m.path),
        ['_delta_log/00000000000000000000.json'],
      );
      assert.equal(text(await a.get('_delta_log/00000000000000000000.json')), 'a0');
      const raw = await admin.send(
        new GetObjectCommand({ Bucket: bucket, Key: 'tables/a2/_delta_log/00000000000000000000.json' }),
      );
      assert.equal(await raw.Body?.transformToString(), 'a2-0');
    });

    test('list follows continuation tokens over many pages', async () => {
      const s = store(await newBucket(), 'paged', { listPageSize: 7 });
      const names = Array.from(
        { length: 45 },
        (_, i) => `part-${String((i * 17) % 45).padStart(3, '0')}.parquet`,
      );
      await Promise.all(names.map((n) => s.put(`data/${n}`, bytes(n))));
      await s.put('other', bytes('x'));
      const listed = (await s.list('data/')).map((m) => m.path);
      assert.equal(listed.length, 45);
      assert.deepEqual(listed, [...listed].sort());
      assert.equal(new Set(listed).size, 45, 'no page read twice');
      assert.equal((await s.list('')).length, 46);
    });

    test('a missing bucket is a configuration error that names the bucket', async () => {
      const s = store(`tributary-missing-${randomUUID().slice(0, 8)}`);
      await assert.rejects(s.put('x', bytes('x')), (err: unknown) => {
        failsWith('CONFIG_INVALID')(err);
        assert.match((err as Error).message, /tributary-missing-/);
        assert.equal((err as { details: { status: number } }).details.status, 404);
        return true;
      });
      await assert.rejects(s.list(''), failsWith('CONFIG_INVALID'));
    });

    test('putIfAbsent retries after 409 ConditionalRequestConflict, and gives up after its retries', async () => {
      const s = store(await newBucket(), undefined, { conflictRetries: 3 });
      let conflicts = 2;
      // Answers the next `conflicts` conditional PUTs with 409, as S3 does while another
      // conditional write of the key is in flight.
      s.client.middlewareStack.add(
        (next) => async (args) => {
          const input = (args as { input?: { IfNoneMatch?: string } }).input;
          if (input?.IfNoneMatch === '*' && conflicts > 0) {
            conflicts--;
            throw Object.assign(new Error('A conflicting conditional operation is in progress'), {
              name: 'ConditionalRequestConflict',
              $fault: 'client',
              $metadata: { httpStatusCode: 409, attempts: 1 },
            });
          }
          return next(args);
        },
        { step: 'initialize', name: 'injectConflicts' },
      );
      await s.putIfAbsent('commit.json', bytes('after two conflicts'));
      assert.equal(conflicts, 0);
      assert.equal(text(await s.get('commit.json')), 'after two conflicts');

      conflicts = 10;
      await assert.rejects(s.putIfAbsent('other.json', bytes('x')), (err: unknown) => {
        failsWith('STORAGE_IO', 'other.json')(err);
        assert.equal((err as { details: { status: number } }).details.status, 409);
        return true;
      });
      assert.equal(conflicts, 6, 'one try and three retries');
      await assert.rejects(s.get('other.json'), failsWith('STORAGE_NOT_FOUND'));
    });

    test('putIfAbsent after a lost response: its own landed write is a success, another’s is not', async () => {
      const bucket = await newBucket();
      const s = store(bucket);
      const rival = store(bucket);
      let fault: 'lose-response' | 'rival-writes-first' | undefined = 'lose-response';
      // Runs once per HTTP attempt, inside the SDK's retry loop.
      s.client.middlewareStack.add(
        (next) => async (args) => {
          const input = (args as { input?: { Key?: string; IfNoneMatch?: string } }).input;
          if (input?.IfNoneMatch !== '*' || fault === undefined) return next(args);
          const kind = fault;
          fault = undefined;
          if (kind === 'lose-response') {
            // S3 stores the object, but its answer never arrives.
            await next(args);
          } else {
            // The request never arrives; meanwhile another writer takes the key.
            await rival.put(input.Key!, bytes('rival'));
          }
          throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError', code: 'ECONNRESET' });
        },
        { step: 'deserialize', name: 'networkFault', priority: 'high' },
      );
      await s.putIfAbsent('00000000000000000001.json', bytes('mine'));
      assert.equal(fault, undefined, 'the fault was injected');
      assert.equal(text(await s.get('00000000000000000001.json')), 'mine');

      fault = 'rival-writes-first';
      await assert.rejects(
        s.putIfAbsent('00000000000000000002.json', bytes('mine')),
        failsWith('STORAGE_ALREADY_EXISTS', '00000000000000000002.json'),
      );
      assert.equal(fault, undefined, 'the fault was injected');
      assert.equal(text(await s.get('00000000000000000002.json')), 'rival');
    });
  });
}
