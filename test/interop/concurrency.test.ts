/**
 * Several processes write one LocalStore table at once: four appenders, one OPTIMIZE and
 * one MERGE. No commit may be lost: every appended batch is there exactly once, the
 * MERGE's effect is there, the versions are gapless and one per successful commit, and
 * delta-rs reads the final table with the same rows as we do.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { LocalStore } from '../../src/storage/local.ts';
import { append, DeltaTable, readRows } from '../../src/table/index.ts';
import { field, struct } from './fixtures.ts';
import { cleanup, deltaRsRead, normRows, pythonSkip, ROOT, tempDir } from './helpers.ts';

const SCHEMA = struct(field('key', 'string'), field('batch_id', 'string'), field('value', 'string'));
const APPENDERS = 4;
const BATCHES = 6;
const OPTIMIZE_ROUNDS = 3;

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

describe('concurrent writer processes on one table', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('concurrency');
  });
  after(() => cleanup(dir));

  test('appends, OPTIMIZE and MERGE at once lose no commit', { timeout: 240_000 }, async (t) => {
    const path = join(dir, 'shared');
    const table = await DeltaTable.create(new LocalStore(path), { schema: SCHEMA });
    await append(table, { rows: [{ key: 'seed-1', batch_id: 'seed', value: 'original' }] });

    const children = [
      ...Array.from({ length: APPENDERS }, (_, w) =>
        startWriter(path, ['append', String(w), String(BATCHES)]),
      ),
      startWriter(path, ['optimize', String(OPTIMIZE_ROUNDS)]),
      startWriter(path, ['merge']),
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
    assert.equal(results.find((r) => r.role === 'merge')!.versions.length, 1);
    assert.equal(new Set(claimed).size, claimed.length, `a version was claimed twice: ${claimed}`);
    const snap = await (await DeltaTable.open(new LocalStore(path))).snapshot();
    assert.equal(snap.version, 1 + claimed.length);
    assert.deepEqual(
      [...claimed, 0, 1].sort((a, b) => a - b),
      Array.from({ length: snap.version + 1 }, (_, v) => v),
    );
    const log = (await readdir(join(path, '_delta_log'))).filter((f) => /^\d{20}\.json$/.test(f));
    assert.equal(log.length, snap.version + 1);

    // Every batch exactly once, and the MERGE's update and inserts.
    const reader = await DeltaTable.open(new LocalStore(path));
    const rows = (await readRows(reader, snap)) as Array<{ key: string; batch_id: string; value: string }>;
    const perBatch = new Map<string, number>();
    for (const r of rows) perBatch.set(r.batch_id, (perBatch.get(r.batch_id) ?? 0) + 1);
    for (let w = 0; w < APPENDERS; w++) {
      for (let b = 0; b < BATCHES; b++) assert.equal(perBatch.get(`${w}-${b}`), 3, `batch ${w}-${b}`);
    }
    assert.equal(rows.length, APPENDERS * BATCHES * 3 + 3);
    const unknown = rows.filter(
      (r) => !/^\d+-\d+$/.test(r.batch_id) && r.batch_id !== 'seed' && r.batch_id !== 'merge',
    );
    assert.deepEqual(unknown, []);
    assert.equal(rows.find((r) => r.key === 'seed-1')?.value, 'merged');
    assert.equal(rows.filter((r) => r.key.startsWith('merge-new-')).length, 2);

    // delta-rs reads the same final table.
    if (pythonSkip() === undefined) {
      const theirs = await deltaRsRead(path);
      assert.equal(theirs.version, snap.version);
      assert.deepEqual(theirs.rows, normRows(rows, SCHEMA));
    }
  });
});
