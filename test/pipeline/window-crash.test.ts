/**
 * Restart equivalence for a windowed pipeline: the same input (with records late under
 * any batching) run straight, and run with SIGKILLs at every named point on the path of
 * a windowed batch and at random moments, each followed by a restart, gives identical
 * tables and an identical dead-letter topic. The pipeline runs as users run it
 * (`tributary run <file>`); the crash points are armed through TRIBUTARY_CRASH_AT and
 * checked as reached through TRIBUTARY_CRASH_TRACE. Once with the tables and state in the
 * data directory, and once with the crashed runs' tables and state on the S3 test server
 * (`--lake s3://…`) against the straight run's on disk.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { CrashPointName } from '../../src/core/crash-points.ts';
import { openLog } from '../../src/log/open.ts';
import { compilePipeline } from '../../src/pipeline/compile.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import type { S3Store } from '../../src/storage/s3.ts';
import { startCli } from '../helpers/cli-child.ts';
import { freshBucket, s3Env, s3Missing } from '../helpers/s3.ts';
import { type Click, clicks, produceClicks, tableLines, topicLines, WINDOWED } from './window-fixtures.ts';

const DEFINITION = WINDOWED.replace('max_records_per_batch: 900', 'max_records_per_batch: 300');
const POINTS: CrashPointName[] = [
  'window.state-saved',
  'plan.written',
  'sink.topic.produced',
  'dlq.produced',
  'sink.append.written',
  'sink.append.committed',
  'merge.written',
  'sink.merge.committed',
  'commit.before-put',
  'commit.after-put',
];
const RANDOM_KILLS = 6;

function input(): Click[] {
  const on = clicks(7, 0, 40_000);
  // Every 2,000 records one late under any batching: far behind what the earlier batches'
  // watermark passed (the clicks advance ~8 minutes per 2,000).
  const out: Click[] = [];
  on.forEach((c, i) => {
    if (i > 0 && i % 2000 === 0) out.push({ user_id: `u${i}`, page: 'home', ts: on[0].ts + i });
    out.push(c);
  });
  return out;
}

async function prepare(dataDir: string): Promise<void> {
  const log = await openLog({ dataDir });
  try {
    await log.ensureTopic('clicks', { partitions: 3 });
    await produceClicks(log, input());
  } finally {
    await log.close();
  }
}

async function tablesOf(dataDir: string, lake?: string) {
  const log = await openLog({ dataDir });
  try {
    const c = await compilePipeline(fromYaml(DEFINITION, 'w.yaml'), {
      dataDir,
      ...(lake !== undefined && { lake }),
      log,
    });
    try {
      const lines = await tableLines(c);
      const dlq: string[] = [];
      for (let p = 0; p < 3; p++) {
        const r = await log.fetch('clicks.dlq', p, 0, { maxRecords: 1000 });
        for (const rec of r.records) {
          const d = JSON.parse(new TextDecoder().decode(rec.value!));
          dlq.push(`${d.source_partition}/${d.source_offset} ${d.rule} ${d.value}`);
        }
      }
      return { ...lines, dlq: dlq.sort(), topic: (await topicLines(log)).perPartition };
    } finally {
      await c.pipeline.close();
      for (const table of c.tables.values()) (table.store as Partial<S3Store>).destroy?.();
    }
  } finally {
    await log.close();
  }
}

/**
 * The straight run and the killed runs, compared. With `lake` (an s3:// URL) the killed
 * runs keep their tables and state there; `nth` and `randomKills` set the schedule.
 */
async function restartEquivalence(
  t: TestContext,
  opts: { lake?: string; nth: number[]; randomKills: number },
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-window-crash-'));
  const lakeArgs = opts.lake === undefined ? [] : ['--lake', opts.lake];
  try {
    const file = join(dir, 'windows.yaml');
    writeFileSync(file, DEFINITION);
    const straight = join(dir, 'straight');
    const crashed = join(dir, 'crashed');
    await prepare(straight);
    await prepare(crashed);
    const ran = startCli(['run', file, '--until-caught-up', '--data-dir', straight]);
    const r = await ran.exit;
    assert.equal(r.code, 0, r.stderr);

    const trace = join(dir, 'trace.tsv');
    // Points reached in every batch first; the DLQ's (batches with late records) and the
    // random kills, which let a run go further, last.
    const schedule: Array<{ point: CrashPointName; n: number } | { delayMs: number }> = [
      ...POINTS.filter((p) => p !== 'dlq.produced').flatMap((point) => opts.nth.map((n) => ({ point, n }))),
      { point: 'dlq.produced', n: 1 },
      { point: 'dlq.produced', n: 2 },
      ...Array.from({ length: opts.randomKills }, (_, i) => ({ delayMs: 1500 + ((i * 977) % 2500) })),
    ];
    let armedKills = 0;
    for (const kill of schedule) {
      const armed = 'point' in kill;
      const run = startCli(
        ['run', file, '--until-caught-up', '--data-dir', crashed, ...lakeArgs],
        armed ? { TRIBUTARY_CRASH_AT: `${kill.point}:${kill.n}`, TRIBUTARY_CRASH_TRACE: trace } : {},
      );
      let timer: NodeJS.Timeout | undefined;
      if (!armed) timer = setTimeout(() => run.child.kill('SIGKILL'), kill.delayMs);
      const exit = await run.exit;
      clearTimeout(timer);
      if (exit.signal === 'SIGKILL') {
        if (armed) armedKills++;
        continue;
      }
      assert.equal(exit.code, 0, `a run ended by itself, not with success:\n${exit.stderr}`);
      if (armed) t.diagnostic(`${kill.point}:${kill.n} not reached before the input was drained`);
    }
    const last = startCli(['run', file, '--until-caught-up', '--data-dir', crashed, ...lakeArgs]);
    const done = await last.exit;
    assert.equal(done.code, 0, done.stderr);

    const lines = existsSync(trace) ? readFileSync(trace, 'utf8').split('\n').filter(Boolean) : [];
    const crashedAt = new Set(lines.filter((l) => l.endsWith('\tcrash')).map((l) => l.split('\t')[0]));
    t.diagnostic(`killed at: ${[...crashedAt].join(', ')}`);
    for (const p of POINTS) assert.ok(crashedAt.has(p), `killed at ${p} at least once`);
    assert.ok(armedKills >= POINTS.length, `${armedKills} armed kills`);

    const want = await tablesOf(straight);
    const got = await tablesOf(crashed, opts.lake);
    assert.ok(want.final.length > 50 && want.hops.length > 50);
    assert.equal(want.dlq.length, 19, 'the late records are in the DLQ');
    assert.deepEqual(got.final, want.final, 'the appended final windows are identical');
    assert.deepEqual(got.hops, want.hops, 'the merged hopping windows are identical');
    assert.deepEqual(got.busy, want.busy, 'the SQL over the window wrote the same rows');
    assert.deepEqual(got.dlq, want.dlq, 'the dead-letter topic is identical');
    assert.deepEqual(got.topic, want.topic, 'the topic sink wrote the same records, in the same order, once');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('windowed pipeline: restart equivalence', () => {
  it('straight, and with kills at named points and at random moments, gives identical tables', (t: TestContext) =>
    restartEquivalence(t, { nth: [1, 3], randomKills: RANDOM_KILLS }));

  const noS3 = s3Missing();
  it('the same with the killed runs’ tables and state on S3', {
    skip: noS3 ?? false,
    timeout: 600_000,
  }, async (t: TestContext) => {
    Object.assign(process.env, s3Env());
    const bucket = await freshBucket('tributary-windows');
    try {
      await restartEquivalence(t, { lake: bucket.url('lake'), nth: [2], randomKills: 2 });
    } finally {
      await bucket.drop();
    }
  });
});
