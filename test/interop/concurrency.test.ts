/**
 * Several processes write one table at once: four appenders, one OPTIMIZE and two MERGEs
 * (each updating a row of its own and inserting two). No commit may be lost: every
 * appended batch is there exactly once, each MERGE's effect is there, the versions are
 * gapless and one per successful commit, and delta-rs reads the final table with the
 * same rows as we do. On a local directory, and on the real S3 test server
 * (TRIBUTARY_TEST_S3), where the commits race through conditional PUTs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, type TestContext, test } from 'node:test';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { openStore } from '../../src/storage/open.ts';
import type { S3Store } from '../../src/storage/s3.ts';
import { append, DeltaTable, readRows } from '../../src/table/index.ts';
import { freshBucket, s3Env, s3Missing } from '../helpers/s3.ts';
import { field, struct } from './fixtures.ts';
import { cleanup, deltaRsRead, normRows, pythonSkip, ROOT, tempDir } from './helpers.ts';

const SCHEMA = struct(field('key', 'string'), field('batch_id', 'string'), field('value', 'string'));
const APPENDERS = 4;
const BATCHES = 6;
const OPTIMIZE_ROUNDS = 3;
const MERGERS = 2;

interface WriterResult {
  role: string;
  versions: number[];
  retries: number;
}

interface Child {
  role: string;
  ready: Promise<void>;
  go(): void;
  done: Promise<WriterResult>;
}

function startWriter(path: string, args: string[]): Child {
  const proc = spawn(
    process.execPath,
    [join(ROOT, 'test', 'interop', 'concurrent-writer.ts'), path, ...args],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  const lines = createInterface({ input: proc.stdout });
  let result: string | undefined;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  lines.on('line', (line) => {
    if (line === 'ready') markReady();
    else result = line;
  });
  const done = new Promise<WriterResult>((resolve, reject) => {
    proc.on('exit', (code) => {
      if (code !== 0 || result === undefined) {
        reject(new Error(`writer ${args.join(' ')} exited ${code}: ${stderr}`));
        markReady();
      } else resolve(JSON.parse(result));
    });
  });
  return { role: args[0], ready, go: () => proc.stdin.write('go\n'), done };
}

/** Runs the writers on the table at `location` (a directory or an s3:// URL) and checks what they left. */
async function writersRun(t: TestContext, location: string): Promise<void> {
  const open = () => openStore(location);
  const stores: ObjectStore[] = [];
  const store = open();
  stores.push(store);
  try {
    const table = await DeltaTable.create(store, { schema: SCHEMA });
    await append(table, {
      rows: Array.from({ length: MERGERS }, (_, m) => ({
        key: `seed-${m}`,
        batch_id: 'seed',
        value: 'original',
      })),
    });

    const children = [
      ...Array.from({ length: APPENDERS }, (_, w) =>
        startWriter(location, ['append', String(w), String(BATCHES)]),
      ),
      startWriter(location, ['optimize', String(OPTIMIZE_ROUNDS)]),
      ...Array.from({ length: MERGERS }, (_, m) => startWriter(location, ['merge', String(m)])),
    ];
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    const results = await Promise.all(children.map((c) => c.done));
    t.diagnostic(
      `commits ${results.map((r) => `${r.role}:${r.versions.length} (retries ${r.retries})`).join(', ')}`,
    );

    // One version per successful commit, no gaps, none claimed twice.
    const claimed = results.flatMap((r) => r.versions);
    const appendCommits = results.filter((r) => r.role === 'append').flatMap((r) => r.versions);
    assert.equal(appendCommits.length, APPENDERS * BATCHES);
    assert.deepEqual(
      results.filter((r) => r.role === 'merge').map((r) => r.versions.length),
      Array(MERGERS).fill(1),
      'each MERGE committed once',
    );
    assert.equal(new Set(claimed).size, claimed.length, `a version was claimed twice: ${claimed}`);
    const readerStore = open();
    stores.push(readerStore);
    const reader = await DeltaTable.open(readerStore);
    const snap = await reader.snapshot();
    assert.equal(snap.version, 1 + claimed.length);
    assert.deepEqual(
      [...claimed, 0, 1].sort((a, b) => a - b),
      Array.from({ length: snap.version + 1 }, (_, v) => v),
    );
    const log = (await readerStore.list('_delta_log/')).filter((m) =>
      /^_delta_log\/\d{20}\.json$/.test(m.path),
    );
    assert.equal(log.length, snap.version + 1, 'one commit file per version');

    // Every batch exactly once, and each MERGE's update and inserts.
    const rows = (await readRows(reader, snap)) as Array<{ key: string; batch_id: string; value: string }>;
    const perBatch = new Map<string, number>();
    for (const r of rows) perBatch.set(r.batch_id, (perBatch.get(r.batch_id) ?? 0) + 1);
    for (let w = 0; w < APPENDERS; w++) {
      for (let b = 0; b < BATCHES; b++) assert.equal(perBatch.get(`${w}-${b}`), 3, `batch ${w}-${b}`);
    }
    assert.equal(rows.length, APPENDERS * BATCHES * 3 + 3 * MERGERS);
    const unknown = rows.filter(
      (r) => !/^\d+-\d+$/.test(r.batch_id) && r.batch_id !== 'seed' && r.batch_id !== 'merge',
    );
    assert.deepEqual(unknown, []);
    for (let m = 0; m < MERGERS; m++) {
      assert.equal(rows.find((r) => r.key === `seed-${m}`)?.value, `merged by ${m}`);
      assert.equal(rows.filter((r) => r.key.startsWith(`merge-${m}-new-`)).length, 2);
    }

    // delta-rs reads the same final table.
    if (pythonSkip() === undefined) {
      const theirs = await deltaRsRead(location);
      assert.equal(theirs.version, snap.version);
      assert.deepEqual(theirs.rows, normRows(rows, SCHEMA));
    }
  } finally {
    for (const s of stores) (s as Partial<S3Store>).destroy?.();
  }
}

describe('concurrent writer processes on one table', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('concurrency');
  });
  after(() => cleanup(dir));

  test('appends, OPTIMIZE and MERGEs at once lose no commit', { timeout: 240_000 }, (t) =>
    writersRun(t, join(dir, 'shared')),
  );

  const noS3 = s3Missing();
  test('appends, OPTIMIZE and MERGEs at once on S3 lose no commit', {
    timeout: 480_000,
    skip: noS3 ?? false,
  }, async (t) => {
    // The writer processes reach the server through the standard AWS environment.
    Object.assign(process.env, s3Env());
    const bucket = await freshBucket();
    try {
      await writersRun(t, bucket.url('lake/shared'));
    } finally {
      await bucket.drop();
    }
  });
});
