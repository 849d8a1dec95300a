/**
 * One run of a job (runJob) against real Delta tables: retries with back-off, a run
 * that fails after its retries (dependants skipped, one alert row read back by delta-rs,
 * one webhook call received by a loopback server), timeouts, no overlapping runs, and
 * the history tables. Time is a manual clock and a sleep that returns at once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ManualClock } from '../../../src/core/clock.ts';
import { isTributaryError } from '../../../src/core/errors.ts';
import {
  ALERTS_TABLE,
  checkJobValue,
  JobHistory,
  RUNS_TABLE,
  registerTaskKind,
  runJob,
  TASKS_TABLE,
} from '../../../src/jobs/scheduler/index.ts';
import { deltaRsRead, pythonSkip } from '../../interop/helpers.ts';
import { calls, Events, gate, instantSleep, jobsSuite, webhookServer } from './helpers.ts';

const T0 = Date.parse('2026-11-29T02:00:00Z');
const skip = pythonSkip();

describe('runJob', () => {
  const suite = jobsSuite('jobs-run');

  test('a task made to fail twice succeeds on its third attempt, after back-off waits of 30 s and 60 s', async () => {
    const clock = new ManualClock(T0);
    const waits: number[] = [];
    const job = await checkJobValue({
      name: 'retry_ok',
      retry_delay: '30s',
      tasks: [
        { name: 'extract', kind: 'flaky', params: { fail: 2 } },
        { name: 'load', kind: 'noop', depends_on: ['extract'] },
      ],
    });
    const res = await runJob(job, {
      dataDir: suite.dataDir,
      clock,
      sleep: instantSleep(clock, waits),
      log: suite.log,
    });
    assert.equal(res.state, 'succeeded');
    assert.deepEqual(
      calls.map((c) => [c.task, c.attempt]),
      [
        ['extract', 1],
        ['extract', 2],
        ['extract', 3],
        ['load', 1],
      ],
    );
    assert.deepEqual(waits, [30_000, 60_000]);
    const extract = res.tasks.find((t) => t.task === 'extract')!;
    assert.equal(extract.state, 'succeeded');
    assert.equal(extract.attempts, 3);
    // What the history says, read back from the Delta tables.
    const history = await JobHistory.open(suite.dataDir, clock);
    const [run] = await history.runs({ job: 'retry_ok' });
    assert.equal(run.state, 'succeeded');
    assert.equal(run.runId, res.runId);
    const tasks = await history.tasks([res.runId]);
    assert.deepEqual(tasks.map((t) => [t.task, t.state, t.attempts]).sort(), [
      ['extract', 'succeeded', 3],
      ['load', 'succeeded', 1],
    ]);
    // No alert for a run that succeeded.
    assert.deepEqual(await alertRows(suite.dataDir), []);
  });

  test('made to fail four times: the run fails, dependants do not run, one alert row, one webhook call', {
    skip,
  }, async () => {
    const hook = await webhookServer();
    try {
      const clock = new ManualClock(T0);
      const waits: number[] = [];
      const job = await checkJobValue({
        name: 'gold',
        tasks: [
          { name: 'silver', kind: 'flaky', params: { fail: 4 } },
          { name: 'gold_a', kind: 'noop', depends_on: ['silver'] },
          { name: 'export', kind: 'noop', depends_on: ['gold_a'] },
          { name: 'side', kind: 'noop' },
        ],
      });
      const events = new Events();
      const res = await runJob(job, {
        dataDir: suite.dataDir,
        clock,
        sleep: instantSleep(clock, waits),
        log: suite.log,
        onEvent: events.on,
        alerts: {
          webhook: {
            url: hook.url,
            headers: { authorization: 'Bearer t0k' },
            timeoutMs: 5000,
            attempts: 3,
            retryDelayMs: 1000,
          },
        },
      });
      assert.equal(res.state, 'failed');
      const state = Object.fromEntries(res.tasks.map((t) => [t.task, [t.state, t.attempts]]));
      assert.deepEqual(state, {
        silver: ['failed', 4],
        gold_a: ['skipped', 0],
        export: ['skipped', 0],
        side: ['succeeded', 1],
      });
      // Three retries (the default), waits doubling from 30 s; the dependants never ran.
      assert.deepEqual(waits, [30_000, 60_000, 120_000]);
      assert.deepEqual(
        calls.filter((c) => c.task === 'silver').map((c) => c.attempt),
        [1, 2, 3, 4],
      );
      assert.equal(calls.filter((c) => c.task === 'gold_a' || c.task === 'export').length, 0);
      assert.match(
        res.error!,
        /task silver failed after 4 attempts: planted failure 4; skipped: gold_a, export/,
      );

      // Exactly one alert, read by delta-rs.
      const alerts = await deltaRsRead(join(suite.dataDir, 'tables', ALERTS_TABLE));
      assert.equal(alerts.rows.length, 1);
      const row = alerts.rows[0];
      assert.equal(row.kind, 'run_failed');
      assert.equal(row.job, 'gold');
      assert.equal(row.run_id, res.runId);
      assert.match(String(row.message), /task silver failed after 4 attempts/);
      // ... one log line for it ...
      assert.equal(suite.logs.filter((l) => l.startsWith('ALERT run_failed')).length, 1);
      // ... and one webhook call, with the alert as its JSON body.
      assert.equal(hook.received.length, 1);
      const call = hook.received[0];
      assert.equal(call.method, 'POST');
      assert.equal(call.url, '/hooks/tributary?token=secret');
      assert.equal(call.headers['content-type'], 'application/json');
      assert.equal(call.headers.authorization, 'Bearer t0k');
      const body = call.body as Record<string, unknown>;
      assert.deepEqual(
        { ...body, alert_id: '?', raised_at: '?' },
        {
          text: `[tributary] run_failed — job gold: ${res.error}`,
          alert_id: '?',
          kind: 'run_failed',
          job: 'gold',
          run_id: res.runId,
          task: null,
          scheduled_time: new Date(T0).toISOString(),
          raised_at: '?',
          message: res.error,
          details: {
            date: '2026-11-29',
            trigger: 'manual',
            failed_tasks: [{ task: 'silver', attempts: 4, error: 'planted failure 4' }],
            skipped_tasks: ['gold_a', 'export'],
          },
        },
      );
      assert.equal(body.alert_id, row.alert_id);
      assert.equal(events.of('alert').length, 1);
    } finally {
      await hook.close();
    }
  });

  test('a webhook that keeps failing is tried 3 times and logged; the run is unaffected', async () => {
    const hook = await webhookServer([500, 503, 500]);
    try {
      const clock = new ManualClock(T0);
      const waits: number[] = [];
      const job = await checkJobValue({
        name: 'hooked',
        retries: 0,
        tasks: [{ name: 'a', kind: 'flaky', params: { fail: 1 } }],
      });
      const res = await runJob(job, {
        dataDir: suite.dataDir,
        clock,
        sleep: instantSleep(clock, waits),
        log: suite.log,
        alerts: { webhook: { url: hook.url, headers: {}, timeoutMs: 5000, attempts: 3, retryDelayMs: 1000 } },
      });
      assert.equal(res.state, 'failed');
      assert.equal(hook.received.length, 3);
      assert.deepEqual(waits, [1000, 2000]);
      const failures = suite.logs.filter((l) => l.startsWith('webhook POST'));
      assert.equal(failures.length, 3);
      assert.match(failures[2], /attempt 3 of 3\): HTTP 500; giving up/);
      // The log names the origin only: the token in the URL stays out of it.
      assert.ok(suite.logs.every((l) => !l.includes('secret')));
      assert.equal((await alertRows(suite.dataDir)).length, 1);
    } finally {
      await hook.close();
    }
  });

  test('a task that runs past its timeout is failed and abandoned; one that listens is told why', async () => {
    const clock = new ManualClock(T0);
    const waits: number[] = [];
    let reason: unknown;
    registerTaskKind('abortable', {
      check: () => [],
      run: (_p, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            reason = ctx.signal.reason;
            reject(ctx.signal.reason);
          });
        }),
    });
    const job = await checkJobValue({
      name: 'slow',
      timeout: '5m',
      retries: 1,
      retry_delay: '10s',
      tasks: [
        { name: 'stuck', kind: 'hang' },
        { name: 'polite', kind: 'abortable', retries: 0 },
        { name: 'after', kind: 'noop', depends_on: ['stuck'] },
      ],
    });
    // The 5-minute timeouts expire at once; the 'hang' attempts never end at all.
    const res = await runJob(job, {
      dataDir: suite.dataDir,
      clock,
      sleep: instantSleep(clock, waits),
      log: suite.log,
    });
    assert.equal(res.state, 'failed');
    const stuck = res.tasks.find((t) => t.task === 'stuck')!;
    assert.equal(stuck.state, 'failed');
    assert.equal(stuck.attempts, 2);
    assert.match(
      stuck.error!,
      /^\[JOB_TASK_TIMEOUT\] task stuck of job slow ran longer than its timeout of 300000 ms \(attempt 2\)/,
    );
    assert.equal(res.tasks.find((t) => t.task === 'after')!.state, 'skipped');
    assert.ok(isTributaryError(reason, 'JOB_TASK_TIMEOUT'));
    assert.equal(
      suite.logs.filter((l) => /attempt \d timed out after 300000 ms; abandoned/.test(l)).length,
      3,
    );
  });

  test('independent tasks run at the same time, at most max_parallel at once, each after its dependencies', async () => {
    let now = 0;
    let most = 0;
    const order: string[] = [];
    registerTaskKind('busy', {
      check: () => [],
      async run(_p, ctx) {
        now++;
        most = Math.max(most, now);
        order.push(`start ${ctx.task}`);
        await gate(`fan-${ctx.task}`).promise;
        order.push(`end ${ctx.task}`);
        now--;
        return {};
      },
    });
    const job = await checkJobValue({
      name: 'fan',
      max_parallel: 2,
      tasks: [
        { name: 'a', kind: 'busy' },
        { name: 'b', kind: 'busy' },
        { name: 'c', kind: 'busy' },
        { name: 'd', kind: 'busy' },
        { name: 'join', kind: 'busy', depends_on: ['a', 'b', 'c', 'd'] },
      ],
    });
    const run = runJob(job, { dataDir: suite.dataDir, log: suite.log });
    while (now < 2) await new Promise((r) => setTimeout(r, 5));
    // Two are running and blocked: a third does not start, however long it is given.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(order, ['start a', 'start b']);
    for (const t of ['a', 'b', 'c', 'd', 'join']) gate(`fan-${t}`).open();
    const res = await run;
    assert.equal(res.state, 'succeeded');
    assert.equal(most, 2);
    assert.deepEqual(order.slice(-2), ['start join', 'end join']);
  });

  test('runs of one job never overlap: a second run while one is going on is refused', async () => {
    const clock = new ManualClock(T0);
    const job = await checkJobValue({
      name: 'exclusive',
      tasks: [{ name: 'wait', kind: 'gate', params: { gate: 'overlap' } }],
    });
    const events = new Events();
    const first = runJob(job, { dataDir: suite.dataDir, clock, log: suite.log, onEvent: events.on });
    await events.waitFor('task_started');
    await assert.rejects(runJob(job, { dataDir: suite.dataDir, clock, log: suite.log }), (err) => {
      assert.ok(isTributaryError(err, 'JOB_ALREADY_RUNNING'));
      assert.match(err.message, /a run of job exclusive is still going on in this process/);
      return true;
    });
    gate('overlap').open();
    assert.equal((await first).state, 'succeeded');
    // Once it ended, the next run goes.
    assert.equal((await runJob(job, { dataDir: suite.dataDir, clock, log: suite.log })).state, 'succeeded');
    const history = await JobHistory.open(suite.dataDir, clock);
    assert.deepEqual(
      (await history.runs({ job: 'exclusive' })).map((r) => r.state),
      ['succeeded', 'succeeded'],
    );
  });

  test('placeholders get the run date: --date, or the scheduled day in the time zone plus date_offset', async () => {
    const clock = new ManualClock(Date.parse('2026-11-29T23:30:00Z'));
    const job = await checkJobValue({
      name: 'daily',
      schedule: { cron: '30 0 * * *', timezone: 'Europe/Berlin', date_offset: -1 },
      tasks: [
        {
          name: 'day',
          kind: 'noop',
          params: { where: "event_date = '{{ date }}'", run: '{{job}}/{{ task }}' },
        },
      ],
    });
    // 23:30 UTC is 00:30 on the 30th in Berlin: the day before is the 29th.
    await runJob(job, { dataDir: suite.dataDir, clock, log: suite.log });
    await runJob(job, { dataDir: suite.dataDir, clock, log: suite.log, date: '2026-11-01' });
    assert.deepEqual(
      calls.map((c) => [c.date, c.params.where, c.params.run]),
      [
        ['2026-11-29', "event_date = '2026-11-29'", 'daily/day'],
        ['2026-11-01', "event_date = '2026-11-01'", 'daily/day'],
      ],
    );
    await assert.rejects(
      runJob(job, { dataDir: suite.dataDir, clock, log: suite.log, date: '2026-02-30' }),
      /not a date like 2026-11-29/,
    );
  });

  test('the history tables are Delta tables delta-rs reads: one row per run and per task', {
    skip,
  }, async () => {
    const clock = new ManualClock(T0);
    const job = await checkJobValue({
      name: 'pair',
      tasks: [
        { name: 'a', kind: 'noop' },
        { name: 'b', kind: 'flaky', params: { fail: 1 }, retry_delay: '1s' },
      ],
    });
    const res = await runJob(job, {
      dataDir: suite.dataDir,
      clock,
      sleep: instantSleep(clock, []),
      log: suite.log,
    });
    const runs = await deltaRsRead(join(suite.dataDir, 'tables', RUNS_TABLE));
    assert.equal(runs.rows.length, 1);
    assert.equal(runs.rows[0].run_id, res.runId);
    assert.equal(runs.rows[0].state, 'succeeded');
    assert.equal(runs.rows[0].owner_pid, process.pid);
    const tasks = await deltaRsRead(join(suite.dataDir, 'tables', TASKS_TABLE));
    assert.deepEqual(tasks.rows.map((r) => [r.task, r.state, r.attempts, r.error]).sort(), [
      ['a', 'succeeded', 1, null],
      ['b', 'succeeded', 2, null],
    ]);
  });

  test('the history tables are compacted once they hold many small files; their rows stay', async () => {
    const clock = new ManualClock(T0);
    const history = await JobHistory.open(suite.dataDir, clock);
    const owner = { host: 'h', pid: 1, start: '' };
    for (let i = 0; i < 50; i++) {
      await history.saveRun({
        runId: `r${String(i).padStart(3, '0')}`,
        job: 'many',
        scheduledTime: T0 + i * 60_000,
        date: '2026-11-29',
        trigger: 'schedule',
        state: 'succeeded',
        startedAt: T0 + i * 60_000,
        endedAt: T0 + i * 60_000 + 1000,
        owner,
        expiresAt: T0,
      });
    }
    const before = await history.runs({ job: 'many' });
    assert.equal((await history.runsTable.snapshot()).files().length, 50);
    await history.tidy();
    assert.equal((await history.runsTable.snapshot()).files().length, 1);
    assert.deepEqual(await history.runs({ job: 'many' }), before);
    assert.equal(before.length, 50);
  });

  test('sql tasks: a query over the tables, and a check that fails on rows it finds', async () => {
    const clock = new ManualClock(T0);
    const setup = await checkJobValue({
      name: 'first',
      tasks: [{ name: 'a', kind: 'noop' }],
    });
    await runJob(setup, { dataDir: suite.dataDir, clock, log: suite.log });
    const job = await checkJobValue({
      name: 'checks',
      retries: 0,
      tasks: [
        {
          name: 'count',
          kind: 'sql',
          params: { sql: "SELECT count(*) AS n FROM _tributary_job_runs WHERE job = 'first'" },
        },
        {
          name: 'no_failures',
          kind: 'sql',
          params: {
            sql: "SELECT job, state FROM _tributary_job_runs WHERE job = 'first' AND state <> 'failed'",
            expect: 'empty',
          },
        },
      ],
    });
    const res = await runJob(job, { dataDir: suite.dataDir, clock, log: suite.log });
    const count = res.tasks.find((t) => t.task === 'count')!;
    assert.equal(count.state, 'succeeded');
    assert.deepEqual(count.output, { rows: 1, columns: ['n'], sample: [{ n: 1 }] });
    const check = res.tasks.find((t) => t.task === 'no_failures')!;
    assert.equal(check.state, 'failed');
    assert.match(
      check.error!,
      /returned 1 row where none were expected; the first: \[\{"job":"first","state":"succeeded"\}\]/,
    );
  });
});

async function alertRows(dataDir: string): Promise<Record<string, unknown>[]> {
  const { DeltaTable, readRows } = await import('../../../src/table/index.ts');
  const { openStore } = await import('../../../src/storage/open.ts');
  const store = openStore(join(dataDir, 'tables', ALERTS_TABLE));
  if (!(await DeltaTable.exists(store))) return [];
  const t = await DeltaTable.open(store);
  return readRows(t, await t.snapshot());
}
