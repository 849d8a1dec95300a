/**
 * The issue 8 reproduction on a real S3-compatible server (TRIBUTARY_TEST_S3): the
 * conditional PUT of the commit lands, its answer is lost, and every resend the SDK
 * makes fails too, so the SDK gives up with an error (S3Store's own write-id check never
 * sees a 412). The commit must read version N back and report success; the rows must be
 * in the table once, its files all there.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { ManualClock } from '../../src/core/clock.ts';
import { S3Store } from '../../src/storage/s3.ts';
import { append } from '../../src/table/ops/append.ts';
import { merge } from '../../src/table/ops/merge.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import type { StructType } from '../../src/table/schema.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { field } from './data-helpers.ts';

const endpoint = process.env.TRIBUTARY_TEST_S3;
const skip =
  endpoint === undefined || endpoint === ''
    ? 'TRIBUTARY_TEST_S3 is not set: run `npm test`, which starts an S3 server'
    : false;
if (skip && process.env.CI) throw new Error(`${skip} (CI is set, so this cannot be skipped)`);

const SCHEMA: StructType = { type: 'struct', fields: [field('id', 'long', false), field('v', 'string')] };
const credentials = {
  accessKeyId: process.env.AWS_ACCESS_KEY_ID || 'test',
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY || 'test',
};
const region = 'us-east-1';
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function newStore(): Promise<S3Store> {
  const admin = new S3Client({ endpoint, region, credentials, forcePathStyle: true });
  const bucket = `tributary-test-${randomUUID().slice(0, 13)}`;
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  const store = new S3Store({ bucket, prefix: 'lake/t', endpoint, region, credentials });
  cleanups.push(async () => {
    const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket }));
    for (const o of page.Contents ?? [])
      await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
    await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
    admin.destroy();
    store.destroy();
  });
  return store;
}

/**
 * While `armed`: the next conditional PUT lands, but it and every resend answer with a
 * network error, so the SDK gives up. `sends` counts the attempts.
 */
function loseCommitAnswers(store: S3Store): { armed: boolean; sends: number } {
  const state = { armed: true, sends: 0 };
  store.client.middlewareStack.add(
    (next) => async (args) => {
      const input = (args as { input?: { IfNoneMatch?: string } }).input;
      if (input?.IfNoneMatch !== '*' || !state.armed) return next(args);
      if (state.sends++ === 0) await next(args); // the first attempt reaches S3 and lands
      throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError', code: 'ECONNRESET' });
    },
    { step: 'deserialize', name: 'loseCommitAnswers', priority: 'high' },
  );
  return state;
}

async function look(store: S3Store) {
  const fresh = new S3Store({ bucket: store.bucket, prefix: 'lake/t', endpoint, region, credentials });
  try {
    const t = await DeltaTable.open(fresh);
    const snap = await t.snapshot();
    const rows = await readRows(t, snap, { orderBy: 'id' });
    return { version: snap.version, rows: rows.map((r) => `${r.id}:${r.v}`), txn: snap.txnVersion('app') };
  } finally {
    fresh.destroy();
  }
}

test('S3: an append with txn whose commit lands but whose answer is lost through all SDK retries', {
  skip,
}, async () => {
  const store = await newStore();
  const clock = new ManualClock(Date.now());
  const ctx = { clock, outcomeCheck: { sleep: async () => {} } };
  await DeltaTable.create(store, { schema: SCHEMA }, ctx);
  const table = await DeltaTable.open(store, ctx);
  await append(table, { rows: [{ id: 1, v: 'a' }] }, { txn: [{ appId: 'app', version: 0 }] });
  const fault = loseCommitAnswers(store);
  const res = await append(
    table,
    { rows: [{ id: 2, v: 'b' }] },
    { txn: [{ appId: 'app', version: 1 }] },
  ).catch((err: unknown) => err);
  fault.armed = false;
  assert.ok(fault.sends > 1, 'the SDK resent the PUT');
  assert.deepEqual(await look(store), { version: 2, rows: ['1:a', '2:b'], txn: 1 });
  assert.equal((res as { version?: number }).version, 2, String(res));
});

test('S3: a MERGE whose commit lands but whose answer is lost through all SDK retries', {
  skip,
}, async () => {
  const store = await newStore();
  const ctx = { clock: new ManualClock(Date.now()), outcomeCheck: { sleep: async () => {} } };
  await DeltaTable.create(store, { schema: SCHEMA }, ctx);
  const table = await DeltaTable.open(store, ctx);
  await append(table, { rows: [{ id: 1, v: 'a' }] });
  const fault = loseCommitAnswers(store);
  const res = await merge(
    table,
    {
      rows: [
        { id: 1, v: 'A' },
        { id: 3, v: 'c' },
      ],
    },
    { on: ['id'] },
  ).catch((err: unknown) => err);
  fault.armed = false;
  assert.deepEqual(await look(store), { version: 2, rows: ['1:A', '3:c'], txn: undefined });
  assert.equal((res as { version?: number }).version, 2, String(res));
});
