/**
 * Runs of one job never overlap across processes when the data directory is on object
 * storage: the run lock is a lease in that storage (owner.ts, storage/lease.ts), taken
 * over at once when its holder on this machine dies. Real S3-compatible server
 * (TRIBUTARY_TEST_S3).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { isTributaryError } from '../../../src/core/errors.ts';
import { lockJob } from '../../../src/jobs/scheduler/owner.ts';

const endpoint = process.env.TRIBUTARY_TEST_S3;
const skip =
  endpoint === undefined || endpoint === ''
    ? 'TRIBUTARY_TEST_S3 is not set: run `npm test`, which starts an S3 server'
    : false;
if (skip && process.env.CI) throw new Error(`${skip} (CI is set, so this cannot be skipped)`);

const env = {
  ...process.env,
  AWS_ENDPOINT_URL: endpoint,
  AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID || 'test',
  AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY || 'test',
  AWS_REGION: 'us-east-1',
};
const children: Array<() => void> = [];
after(() => {
  for (const kill of children) kill();
});

test('a second process is refused while a run holds the job on s3://, and takes it once the holder is killed', {
  skip,
}, async () => {
  Object.assign(process.env, env);
  const bucket = `tributary-jobs-${randomUUID().slice(0, 13)}`;
  const admin = new S3Client({
    endpoint,
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    forcePathStyle: true,
  });
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  admin.destroy();
  const dataDir = `s3://${bucket}/data`;

  const holder = spawn(process.execPath, [join(import.meta.dirname, 'lease-holder.ts'), dataDir, 'nightly'], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(() => holder.kill('SIGKILL'));
  let out = '';
  holder.stdout.on('data', (d) => {
    out += d;
  });
  while (!out.includes('held')) {
    assert.equal(holder.exitCode, null, 'the holder exited early');
    await new Promise((r) => setTimeout(r, 20));
  }
  await assert.rejects(lockJob(dataDir, 'nightly'), (err) => {
    assert.ok(isTributaryError(err, 'JOB_ALREADY_RUNNING'), String(err));
    assert.equal(err.details.pid, holder.pid);
    return true;
  });
  // Another job of the same data directory is not held.
  (await lockJob(dataDir, 'hourly')).release();

  holder.kill('SIGKILL');
  await once(holder, 'exit');
  const lock = await lockJob(dataDir, 'nightly');
  assert.equal(lock.exclusive, true);
  lock.release();
  // A run that just ended in this process does not keep the next one out.
  (await lockJob(dataDir, 'nightly')).release();
});
