/**
 * A run whose process dies (SIGKILL, mid-run) is not left `running` forever: the next
 * start — of the scheduler, or of a run of the same job — marks it failed, with its
 * unfinished tasks, raises its one alert, and the job runs again (its stale lock is
 * broken).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../../src/core/clock.ts';
import {
  type Alert,
  checkJobValue,
  JobHistory,
  type RunResult,
  registerTaskKind,
  runJob,
  Scheduler,
} from '../../../src/jobs/scheduler/index.ts';
import { cleanup, tempDir } from '../../interop/helpers.ts';
import { CRASH_JOB, Events, registerTestKinds } from './helpers.ts';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

/** Starts the child and waits until its run blocks; returns the child and the run id. */
async function startBlockedRun(dataDir: string): Promise<{ child: ChildProcess; runId: string }> {
  const child = spawn(process.execPath, [CHILD, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('BLOCKED\n')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the child ended (${code}) before its run blocked: ${out}`)));
  });
  const runId = /RUN (\S+)/.exec(out)![1];
  return { child, runId };
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('a run whose process is killed', () => {
  let dir: string;
  before(async () => {
    registerTestKinds();
    // In this process the blocking task ends at once.
    registerTaskKind('block', { check: () => [], run: async () => ({ unblocked: true }) });
    dir = await tempDir('jobs-crash');
  });
  after(() => cleanup(dir));

  async function checkFixedUp(dataDir: string, runId: string, childPid: number, alerts: Alert[]) {
    const history = await JobHistory.open(dataDir, systemClock);
    const run = (await history.runs({ job: 'crashy' })).find((r) => r.runId === runId)!;
    assert.equal(run.state, 'failed');
    assert.equal(run.owner.pid, childPid);
    assert.match(run.error!, new RegExp(`run failed: its process \\(pid ${childPid} on .+\\) ended`));
    assert.ok(run.endedAt !== undefined);
    const tasks = Object.fromEntries((await history.tasks([runId])).map((t) => [t.task, t.state]));
    assert.deepEqual(tasks, { first: 'succeeded', blocker: 'failed', last: 'cancelled' });
    const forRun = alerts.filter((a) => a.runId === runId);
    assert.equal(forRun.length, 1);
    assert.equal(forRun[0].kind, 'run_failed');
    assert.equal(forRun[0].details?.stale, true);
  }

  test('is marked failed when the scheduler next starts', async () => {
    const dataDir = join(dir, 'sched');
    const { child, runId } = await startBlockedRun(dataDir);
    const pid = child.pid!;
    const history = await JobHistory.open(dataDir, systemClock);
    const [before] = await history.runs({ job: 'crashy' });
    assert.equal(before.state, 'running');
    assert.equal(before.owner.pid, pid);
    assert.ok(existsSync(join(dataDir, 'jobs', 'locks', 'crashy.lock')));
    await kill(child);

    const events = new Events();
    const job = await checkJobValue(CRASH_JOB);
    const s = await Scheduler.start({ jobs: [job], dataDir, log: () => {}, onEvent: events.on });
    await s.stop();
    await checkFixedUp(
      dataDir,
      runId,
      pid,
      events.of('alert').map((e) => e.alert),
    );
    // A second start finds nothing left to fix: the alert is not raised again.
    const again = new Events();
    await (await Scheduler.start({ jobs: [job], dataDir, log: () => {}, onEvent: again.on })).stop();
    assert.equal(again.of('alert').length, 0);
  });

  test('is marked failed by the next run of the job, which then runs', async () => {
    const dataDir = join(dir, 'run');
    const { child, runId } = await startBlockedRun(dataDir);
    const pid = child.pid!;
    await kill(child);
    const events = new Events();
    const job = await checkJobValue(CRASH_JOB);
    // The dead child's lock file is still there: it is stale, and broken.
    const res: RunResult = await runJob(job, { dataDir, log: () => {}, onEvent: events.on });
    assert.equal(res.state, 'succeeded');
    await checkFixedUp(
      dataDir,
      runId,
      pid,
      events.of('alert').map((e) => e.alert),
    );
    const history = await JobHistory.open(dataDir, systemClock);
    assert.deepEqual(
      (await history.runs({ job: 'crashy' })).map((r) => [r.runId, r.state]),
      [
        [res.runId, 'succeeded'],
        [runId, 'failed'],
      ],
    );
  });
});
