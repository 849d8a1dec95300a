/**
 * Object store costs that the table layer pays: a Delta commit (putIfAbsent of ~1 KiB),
 * a data file round trip (put + get of 8 MiB), a Parquet footer read (getRange of the
 * last 64 KiB) and listing a _delta_log of 1,000 files. On a LocalStore in a temp dir,
 * and on S3 when TRIBUTARY_TEST_S3 names an S3-compatible server (e.g. after
 * `eval "$(bash scripts/provision/s3.start.sh)"`; that is S3Proxy, a test server, so its
 * figures show our overhead and the server's, not AWS S3's).
 *
 *   node bench/storage.ts
 *
 * Prints the figures and writes bench/results/storage.json.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import { LocalStore } from '../src/storage/local.ts';
import type { ObjectStore } from '../src/storage/object-store.ts';
import { S3Store } from '../src/storage/s3.ts';

const COMMITS = 300;
const BIG_RUNS = 5;
const LIST_FILES = 1000;

async function median(runs: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn(i);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

async function measure(store: ObjectStore) {
  const commit = randomBytes(1024);
  const t0 = performance.now();
  for (let v = 0; v < COMMITS; v++)
    await store.putIfAbsent(`_delta_log/${String(v).padStart(20, '0')}.json`, commit);
  const commitsPerSec = COMMITS / ((performance.now() - t0) / 1000);

  const big = randomBytes(8 * 1024 * 1024);
  const putMs = await median(BIG_RUNS, (i) => store.put(`data/part-${i}.parquet`, big));
  const getMs = await median(BIG_RUNS, (i) => store.get(`data/part-${i}.parquet`));
  const footerMs = await median(20, (i) =>
    store.getRange(`data/part-${i % BIG_RUNS}.parquet`, big.length - 65536, big.length),
  );

  for (let v = COMMITS; v < LIST_FILES; v++)
    await store.put(`_delta_log/${String(v).padStart(20, '0')}.json`, commit);
  const listMs = await median(5, () => store.list('_delta_log/'));

  return {
    commitsPerSec: Math.round(commitsPerSec),
    put8MiBMBps: Math.round(8 / (putMs / 1000)),
    get8MiBMBps: Math.round(8 / (getMs / 1000)),
    footerReadMs: Number(footerMs.toFixed(2)),
    list1000Ms: Number(listMs.toFixed(1)),
  };
}

const results: Record<string, unknown> = {};
const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-storage-'));
try {
  results.local = await measure(new LocalStore(dir));
} finally {
  await rm(dir, { recursive: true, force: true });
}

const endpoint = process.env.TRIBUTARY_TEST_S3;
if (endpoint) {
  const bucket = `tributary-bench-${randomUUID().slice(0, 8)}`;
  const credentials = {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID || 'test',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY || 'test',
  };
  const store = new S3Store({ bucket, prefix: 'bench', endpoint, credentials });
  await store.client.send(new CreateBucketCommand({ Bucket: bucket }));
  try {
    results.s3 = { endpoint, ...(await measure(store)) };
  } finally {
    for (const o of await store.list('')) await store.delete(o.path);
    await store.client.send(new DeleteBucketCommand({ Bucket: bucket }));
    store.destroy();
  }
} else {
  console.log('TRIBUTARY_TEST_S3 is not set: S3 figures skipped');
}

for (const [name, r] of Object.entries(results)) console.log(name, r);
await mkdir(join(import.meta.dirname, 'results'), { recursive: true });
await writeFile(
  join(import.meta.dirname, 'results', 'storage.json'),
  `${JSON.stringify({ at: new Date().toISOString(), commits: COMMITS, results }, null, 2)}\n`,
);
