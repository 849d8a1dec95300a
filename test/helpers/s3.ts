/**
 * The S3 test server (TRIBUTARY_TEST_S3, started by scripts/provision/s3.start.sh) for
 * tests that put tables on S3: a bucket of their own, and the standard AWS environment
 * that points Tributary (and delta-rs, test/interop/py/storage.py) at the server.
 */

import { randomUUID } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';

export const S3_ENDPOINT = process.env.TRIBUTARY_TEST_S3 || undefined;

/** Why S3 tests cannot run here (a skip reason), or undefined. Under CI a missing server is a failure. */
export function s3Missing(): string | undefined {
  if (S3_ENDPOINT !== undefined) return undefined;
  const why =
    'TRIBUTARY_TEST_S3 is not set: run `npm test`, which starts an S3 server, or `eval "$(bash scripts/provision/s3.start.sh)"`';
  if (process.env.CI) throw new Error(`${why} (CI is set, so this cannot be skipped)`);
  return why;
}

/**
 * The AWS environment a process needs to reach the test server: its endpoint, any keys
 * (the server accepts all; real ones from the environment are kept), a region.
 */
export function s3Env(): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: S3_ENDPOINT!,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID || 'test',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY || 'test',
    AWS_REGION: process.env.AWS_REGION || 'us-east-1',
  };
}

/** A new bucket on the test server; `drop()` deletes its objects and itself. */
export async function freshBucket(
  prefix = 'tributary-test',
): Promise<{ bucket: string; url: (path?: string) => string; drop: () => Promise<void> }> {
  const env = s3Env();
  const admin = new S3Client({
    endpoint: S3_ENDPOINT,
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    forcePathStyle: true,
  });
  const bucket = `${prefix}-${randomUUID().slice(0, 13)}`;
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    bucket,
    url: (path = '') => `s3://${bucket}${path ? `/${path}` : ''}`,
    async drop() {
      try {
        let token: string | undefined;
        do {
          const page = await admin.send(
            new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
          );
          await Promise.all(
            (page.Contents ?? []).map((o) =>
              admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key })),
            ),
          );
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
        await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
      } finally {
        admin.destroy();
      }
    },
  };
}
