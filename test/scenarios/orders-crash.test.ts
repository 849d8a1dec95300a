/**
 * Crash test of the orders system: the generator and the pipeline run as child
 * processes; the pipeline is killed with SIGKILL at random moments (during batches,
 * commits, DLQ writes and maintenance, which runs every second here) and restarted,
 * many times. Afterwards every valid event must be in orders_events exactly once, every
 * invalid one in the DLQ exactly once, and orders_current must be the latest state per
 * order — the same truth as the golden test (orders-oracle.ts).
 *
 * With the embedded log; and with Kafka when TRIBUTARY_TEST_KAFKA is set (npm test).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/connectors/generators/rng.ts';
import { openLog } from '../../src/log/open.ts';
import { openOrdersTables } from '../../src/scenarios/orders/tables.ts';
import { SCRATCH_DIR } from '../../src/stream/scratch.ts';
import { assertOutputs, expectedFrom, readTopic } from './orders-oracle.ts';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'tributary.js');
const KILLS = 12;
const EVENTS = 60_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exit = new Promise<Exit>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, exit };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function crashRun(kafka: string | undefined): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-orders-crash-'));
  const topic = kafka ? `orders-crash-${randomUUID().slice(0, 8)}` : 'orders';
  const where = ['--data-dir', dir, '--topic', topic, ...(kafka ? ['--kafka', kafka] : [])];
  try {
    const generator = start([
      'generate',
      'orders',
      '--events',
      String(EVENTS),
      '--rate',
      '12000',
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
      '4000',
      '--trigger-ms',
      '50',
      '--maintenance-interval-ms',
      '1000',
      '--current-commit-ms',
      '700',
      ...where,
    ];
    const rng = new Rng(2026);
    const delays: number[] = [];
    const killed: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const run = start(pipelineArgs);
      const delay = 800 + rng.int(3200);
      delays.push(delay);
      const early = await Promise.race([run.exit, sleep(delay).then(() => undefined)]);
      if (early) assert.fail(`pipeline run ${i} exited by itself (code ${early.code}):\n${early.stderr}`);
      run.child.kill('SIGKILL');
      killed.push(run.child.pid!);
      const exit = await run.exit;
      assert.equal(exit.signal, 'SIGKILL', `pipeline run ${i} ended by SIGKILL:\n${exit.stderr}`);
    }
    const gen = await generator.exit;
    assert.equal(gen.code, 0, `generator failed:\n${gen.stderr}`);

    const log = await openLog({ dataDir: dir, kafka });
    try {
      const tables = await openOrdersTables(dir);
      const versionBefore = (await tables.events.snapshot()).version;
      assert.ok(
        versionBefore >= 0,
        `the killed runs committed batches (kills after ${delays.join(', ')} ms)`,
      );

      const final = start([
        ...pipelineArgs.filter((a) => a !== '--maintenance-interval-ms' && a !== '1000'),
        '--until-caught-up',
      ]);
      const done = await final.exit;
      assert.equal(done.code, 0, `final run failed:\n${done.stderr}`);
      const left = readdirSync(SCRATCH_DIR).filter((f) => killed.some((pid) => f.includes(`-${pid}-`)));
      assert.deepEqual(left, [], 'scratch files of killed runs are swept on start');

      const expected = expectedFrom(await readTopic(log, topic));
      assert.equal(
        expected.events.size + expected.rejects.size + expected.duplicates,
        EVENTS,
        'the generator produced every record',
      );
      await assertOutputs(expected, tables, log, `${topic}.dlq`);
    } finally {
      await log.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('orders pipeline survives SIGKILL at random moments', { timeout: 600_000 }, () => {
  test('embedded log', { timeout: 300_000 }, () => crashRun(undefined));
  const kafka = process.env.TRIBUTARY_TEST_KAFKA;
  test(
    'Kafka',
    { timeout: 300_000, skip: kafka ? false : 'TRIBUTARY_TEST_KAFKA is not set (npm test starts a broker)' },
    () => crashRun(kafka),
  );
});
