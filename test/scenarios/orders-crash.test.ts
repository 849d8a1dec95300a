/**
 * Crash test of the orders system: the generator and the pipeline run as child
 * processes, the generator producing all along at a steady rate, and the pipeline is
 * killed with SIGKILL and restarted many times:
 * - at each named crash point (src/core/crash-points.ts) three times, armed with a
 *   different n each time so the kill falls in a different batch, MERGE, maintenance
 *   run or segment roll: files written but not committed, DLQ produced but the table
 *   not committed, one sink committed but not the other, inside a MERGE, OPTIMIZE,
 *   VACUUM, a checkpoint, the commit itself, a log segment roll;
 * - at random moments while input is still arriving.
 * The settings make every point reachable: maintenance every 400 ms, VACUUM retention 0,
 * MERGEs every 300 ms, DLQ segments of 1 KiB (every few rejects roll a segment). The
 * trace file shows every point was reached and the kill happened there. Afterwards a
 * last run drains the topic, and every valid event must be in orders_events exactly once,
 * every invalid one in the DLQ exactly once, orders_current the latest state per order —
 * every column compared with the truth recomputed from the log (orders-oracle.ts).
 *
 * With the embedded log; and with Kafka when TRIBUTARY_TEST_KAFKA is set (npm test),
 * where the log's own points (`log.*`) do not apply.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { Rng } from '../../src/connectors/generators/rng.ts';
import { CRASH_POINTS, type CrashPointName } from '../../src/core/crash-points.ts';
import { openLog } from '../../src/log/open.ts';
import { openOrdersTables } from '../../src/scenarios/orders/tables.ts';
import { SCRATCH_DIR } from '../../src/stream/scratch.ts';
import { killedRun, readTrace, startCli } from '../helpers/cli-child.ts';
import { pythonSkip } from '../interop/helpers.ts';
import { assertDeltaRsReads, assertOutputs, expectedFrom, readTopic } from './orders-oracle.ts';

/** Records per second from the generator, for as long as the kills go on. */
const RATE = 600;
const RANDOM_KILLS = 8;
/** A run armed at a point it does not reach in this time is stopped and tried again with n = 1. */
const ARMED_TIMEOUT_MS = 30_000;

/**
 * The n-th time each point is reached when the kill happens, one run each: frequent
 * points (every commit, every batch) later in a run, rare ones (maintenance) early.
 */
const NTH: Record<
  Exclude<
    CrashPointName,
    | `window.${string}`
    | `dedup.${string}`
    | `plan.${string}`
    | `sink.topic.${string}`
    | `quality.${string}`
    | `sink.postgres.${string}`
    | `capture.${string}`
    | `ingest.${string}`
  >,
  number[]
> = {
  'dlq.produced': [1, 2, 4],
  'sink.append.written': [1, 3, 6],
  'sink.append.committed': [1, 3, 6],
  'sink.merge.committed': [1, 2, 4],
  'merge.written': [1, 2, 4],
  'optimize.bin-written': [1, 2, 3],
  'checkpoint.written': [1, 2, 3],
  'vacuum.deleted': [1, 3, 6],
  'maintenance.optimized': [1, 2, 3],
  'maintenance.checkpointed': [1, 2, 3],
  'maintenance.vacuumed': [1, 2, 3],
  'commit.before-put': [1, 4, 9],
  'commit.after-put': [1, 4, 9],
  'log.append.written': [1, 3, 6],
  'log.roll.sealed': [1, 2, 4],
  'log.roll.created': [1, 2, 4],
};

type Kill = { point: CrashPointName; n: number } | { delayMs: number };

async function crashRun(t: TestContext, kafka: string | undefined): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-orders-crash-'));
  try {
    await crashScenario(t, kafka, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function crashScenario(t: TestContext, kafka: string | undefined, dir: string): Promise<void> {
  const began = Date.now();
  const trace = join(dir, 'crash-trace.tsv');
  const topic = kafka ? `orders-crash-${randomUUID().slice(0, 8)}` : 'orders';
  const where = ['--data-dir', join(dir, 'data'), '--topic', topic, ...(kafka ? ['--kafka', kafka] : [])];
  // The orders pipeline has no planned batches (windows, topic sinks): those points are
  // test/pipeline/window-crash.test.ts's; HTTP ingest's are test/server/ingest-key-crash.test.ts's.
  const points = (Object.keys(CRASH_POINTS) as CrashPointName[]).filter(
    (p): p is keyof typeof NTH => p in NTH && (kafka === undefined || !p.startsWith('log.')),
  );
  const rng = new Rng(2026);
  const schedule: Kill[] = [
    ...points.flatMap((point) => NTH[point].map((n) => ({ point, n }))),
    ...Array.from({ length: RANDOM_KILLS }, () => ({ delayMs: 300 + rng.int(2700) })),
  ];
  for (let i = schedule.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [schedule[i], schedule[j]] = [schedule[j], schedule[i]];
  }
  const generator = startCli([
    'generate',
    'orders',
    '--rate',
    String(RATE),
    '--seed',
    '11',
    '--malformed-rate',
    '0.01',
    '--duplicate-rate',
    '0.01',
    '--out-of-order-rate',
    '0.05',
    ...where,
  ]);
  const pipelineArgs = [
    'run',
    'orders',
    '--max-records',
    '2000',
    '--trigger-ms',
    '50',
    '--maintenance-interval-ms',
    '400',
    '--current-commit-ms',
    '300',
    '--vacuum-retention-ms',
    '0',
    '--segment-bytes',
    '1024',
    ...where,
  ];
  const killed: number[] = [];
  const selfKilled = new Map<number, string>();
  const missed: string[] = [];
  try {
    for (let i = 0; i < schedule.length; i++) {
      const kill = schedule[i];
      const what =
        'point' in kill
          ? `run ${i} armed at ${kill.point}:${kill.n}`
          : `run ${i} (kill after ${kill.delayMs} ms)`;
      const run = await killedRun(pipelineArgs, kill, { trace, armedTimeoutMs: ARMED_TIMEOUT_MS, what });
      if ('point' in kill && !run.reached) {
        // Not reached in time (e.g. no rejects in the batches of that run): try again early in a run.
        missed.push(`${kill.point}:${kill.n}`);
        if (kill.n > 1) schedule.push({ point: kill.point, n: 1 });
      }
      killed.push(run.pid);
      if ('point' in kill && run.reached) selfKilled.set(run.pid, kill.point);
      const gen = await Promise.race([generator.exit, Promise.resolve(undefined)]);
      assert.equal(gen, undefined, 'the generator is still producing during the kills');
    }
  } finally {
    generator.child.kill('SIGTERM');
  }
  const gen = await generator.exit;
  assert.equal(gen.code, 0, `generator failed:\n${gen.stderr}`);
  const produced = Number(/produced (\d+) records/.exec(gen.stdout)?.[1]);

  // Every point was reached, and each armed run was killed there, at its n.
  const lines = readTrace(trace);
  const crashes = new Map<string, number[]>();
  const reached = new Map<string, number>();
  for (const l of lines) {
    if (l.crash) crashes.set(l.name, [...(crashes.get(l.name) ?? []), l.n]);
    else reached.set(l.name, (reached.get(l.name) ?? 0) + 1);
    if (l.crash)
      assert.ok(killed.includes(l.pid), `the crash at ${l.name} was in a pipeline run of this test`);
  }
  t.diagnostic(
    `crash points (kills at n / times reached in the armed runs): ${points
      .map(
        (p) =>
          `${p} ${JSON.stringify(crashes.get(p) ?? [])}/${(reached.get(p) ?? 0) + (crashes.get(p)?.length ?? 0)}`,
      )
      .join(', ')}`,
  );
  if (missed.length > 0)
    t.diagnostic(`armed runs that did not reach their point in time: ${missed.join(', ')}`);
  for (const [pid, point] of selfKilled) {
    assert.ok(
      lines.some((l) => l.crash && l.pid === pid && l.name === point),
      `the run killed by SIGKILL (pid ${pid}) was killed at ${point}`,
    );
  }
  for (const p of points) {
    const at = crashes.get(p) ?? [];
    assert.ok(at.length >= 3, `killed at ${p} at least 3 times (at n = ${at.join(', ')})`);
  }

  const log = await openLog({ dataDir: join(dir, 'data'), kafka });
  try {
    const tables = await openOrdersTables(join(dir, 'data'));
    assert.ok((await tables.events.snapshot()).version > 0, 'the killed runs committed batches');
    const killsDone = Date.now();
    const final = startCli([...pipelineArgs, '--until-caught-up']);
    const done = await final.exit;
    assert.equal(done.code, 0, `final run failed:\n${done.stderr}`);
    const left = readdirSync(SCRATCH_DIR).filter((f) => killed.some((pid) => f.includes(`-${pid}-`)));
    assert.deepEqual(left, [], 'scratch files of killed runs are swept on start');

    const finalDone = Date.now();
    const expected = expectedFrom(await readTopic(log, topic));
    assert.equal(
      expected.events.size + expected.rejects.size + expected.duplicates,
      produced,
      'the topic holds every record the generator produced',
    );
    await assertOutputs(expected, tables, log, `${topic}.dlq`);
    if (pythonSkip() === undefined) await assertDeltaRsReads(join(dir, 'data', 'tables'), expected, tables);
    else t.diagnostic('delta-rs check skipped: no Python with deltalake');
    const s = (a: number, b: number) => `${Math.round((b - a) / 1000)} s`;
    t.diagnostic(
      `${schedule.length} kills, ${produced} records (${expected.rejects.size} invalid, ${expected.duplicates} duplicates); ` +
        `kills ${s(began, killsDone)}, last run ${s(killsDone, finalDone)}, checks ${s(finalDone, Date.now())}`,
    );
  } finally {
    await log.close();
  }
}

describe('orders pipeline survives SIGKILL at every crash point and at random moments', {
  timeout: 900_000,
  // Mostly waiting for processes to start and reach their point: the two logs side by side.
  concurrency: true,
}, () => {
  test('embedded log', { timeout: 450_000 }, (t) => crashRun(t, undefined));
  const kafka = process.env.TRIBUTARY_TEST_KAFKA;
  test(
    'Kafka',
    { timeout: 450_000, skip: kafka ? false : 'TRIBUTARY_TEST_KAFKA is not set (npm test starts a broker)' },
    (t) => crashRun(t, kafka),
  );
});
