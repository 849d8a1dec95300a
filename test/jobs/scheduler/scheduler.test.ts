/**
 * The scheduler loop in virtual time: runs fire at their cron instants (time zones,
 * both DST changes), an SLA miss raises its alert at the deadline without any real
 * waiting, a run due while the previous one is still going is skipped and recorded,
 * and stop() ends a run under way. Runs are real: history and alerts in Delta tables.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkJobValue, JobHistory, registerTaskKind, Scheduler } from '../../../src/jobs/scheduler/index.ts';
import { calls, Events, gate, jobsSuite, VirtualTime, webhookServer } from './helpers.ts';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const WEEK = 7 * 86_400_000;

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

describe('Scheduler', () => {
  const suite = jobsSuite('jobs-sched');

  test('an SLA miss raises one alert at its deadline, driven by the clock; an SLA met raises none', async () => {
    const hook = await webhookServer();
    const time = new VirtualTime(at('2026-11-29T01:00:00Z'));
    const nightly = await checkJobValue({
      name: 'nightly',
      schedule: '0 2 * * *',
      sla: { within: '30m' },
      tasks: [{ name: 'work', kind: 'gate', params: { gate: 'sla' } }],
    });
    const quick = await checkJobValue({
      name: 'quick',
      schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin' },
      sla: { by: '03:15' },
      tasks: [{ name: 'work', kind: 'noop' }],
    });
    const events = new Events();
    const s = await Scheduler.start({
      jobs: [nightly, quick],
      dataDir: suite.dataDir,
      clock: time,
      sleep: time.sleep,
      log: suite.log,
      onEvent: events.on,
      maxSleepMs: WEEK,
      alerts: { webhook: { url: hook.url, headers: {}, timeoutMs: 5000, attempts: 3, retryDelayMs: 1000 } },
    });
    try {
      // 03:00 in Berlin is 02:00 UTC: both jobs are due at once.
      assert.deepEqual(s.upcoming(), [
        { job: 'nightly', at: at('2026-11-29T02:00:00Z') },
        { job: 'quick', at: at('2026-11-29T02:00:00Z') },
      ]);
      await time.advanceTo(at('2026-11-29T02:00:00Z'));
      await events.waitFor('task_started', (e) => e.job === 'nightly');
      await events.waitFor('run_finished', (e) => e.job === 'quick');
      await time.advanceTo(at('2026-11-29T02:29:59Z'));
      assert.equal(events.of('sla_missed').length, 0);
      // The deadline passes while the run is still going: the alert comes at once.
      await time.advanceTo(at('2026-11-29T02:30:00Z'));
      const alert = (await events.waitFor('alert')).alert;
      assert.equal(alert.kind, 'sla_missed');
      assert.equal(alert.job, 'nightly');
      assert.equal(alert.raisedAt, at('2026-11-29T02:30:00Z'));
      assert.match(
        alert.message,
        /scheduled for 2026-11-29T02:00:00.000Z had not succeeded by its SLA deadline 2026-11-29T02:30:00.000Z/,
      );
      gate('sla').open();
      const finished = await events.waitFor('run_finished', (e) => e.job === 'nightly');
      assert.equal(finished.state, 'succeeded');
      // quick's deadline (03:15 Berlin = 02:15 UTC) passed with its run done: no alert.
      await time.advanceTo(at('2026-11-29T04:00:00Z'));
    } finally {
      await s.stop();
      await hook.close();
    }
    assert.deepEqual(
      events.of('alert').map((e) => [e.alert.kind, e.alert.job]),
      [['sla_missed', 'nightly']],
    );
    assert.equal(hook.received.length, 1);
    assert.equal((hook.received[0].body as { kind: string }).kind, 'sla_missed');
  });

  test('a run due while the previous one still runs is skipped and recorded; the next one runs', async () => {
    const time = new VirtualTime(at('2026-11-29T10:00:30Z'));
    const job = await checkJobValue({
      name: 'minutely',
      schedule: '* * * * *',
      tasks: [{ name: 'work', kind: 'gate', params: { gate: 'overlap' } }],
    });
    const events = new Events();
    const s = await Scheduler.start({
      jobs: [job],
      dataDir: suite.dataDir,
      clock: time,
      sleep: time.sleep,
      log: suite.log,
      onEvent: events.on,
      maxSleepMs: WEEK,
    });
    try {
      await time.advanceTo(at('2026-11-29T10:01:00Z'));
      await events.waitFor('task_started');
      await time.advanceTo(at('2026-11-29T10:02:00Z'));
      const skipped = await events.waitFor('run_skipped');
      assert.equal(skipped.scheduledTime, at('2026-11-29T10:02:00Z'));
      gate('overlap').open();
      await events.waitFor('run_finished');
      await time.advanceTo(at('2026-11-29T10:03:00Z'));
      await until(() => events.of('run_finished').length === 2);
    } finally {
      await s.stop();
    }
    const history = await JobHistory.open(suite.dataDir, time);
    const runs = (await history.runs({ job: 'minutely' })).sort((a, b) => a.scheduledTime - b.scheduledTime);
    assert.deepEqual(
      runs.map((r) => [iso(r.scheduledTime), r.state, r.trigger]),
      [
        ['2026-11-29T10:01:00.000Z', 'succeeded', 'schedule'],
        ['2026-11-29T10:02:00.000Z', 'skipped', 'schedule'],
        ['2026-11-29T10:03:00.000Z', 'succeeded', 'schedule'],
      ],
    );
    assert.match(runs[1].error!, /the previous run of the job was still going on/);
    // The task ran twice, never at the same time.
    assert.equal(calls.length, 2);
  });

  /** Fires every run up to `end`, one instant at a time, waiting for each to end; returns the instants per job. */
  async function fireUntil(jobs: Awaited<ReturnType<typeof checkJobValue>>[], start: string, end: string) {
    const time = new VirtualTime(at(start));
    const events = new Events();
    const s = await Scheduler.start({
      jobs,
      dataDir: suite.dataDir,
      clock: time,
      sleep: time.sleep,
      log: suite.log,
      onEvent: events.on,
      maxSleepMs: WEEK,
    });
    try {
      for (;;) {
        const next = s.upcoming()[0];
        if (next === undefined || next.at > at(end)) break;
        await time.advanceTo(next.at);
        await until(() => s.active().length === 0);
      }
    } finally {
      await s.stop();
    }
    const fired: Record<string, string[]> = {};
    for (const e of events.of('run_started')) {
      fired[e.job] ??= [];
      fired[e.job].push(iso(e.scheduledTime));
    }
    assert.equal(events.of('run_skipped').length, 0);
    return { fired, events };
  }

  test('cron in a time zone fires at the right instants across the autumn DST change', async () => {
    const berlin = await checkJobValue({
      name: 'berlin_0230',
      schedule: { cron: '30 2 * * *', timezone: 'Europe/Berlin' },
      tasks: [{ name: 't', kind: 'noop' }],
    });
    const ny = await checkJobValue({
      name: 'ny_0900',
      schedule: { cron: '0 9 * * *', timezone: 'America/New_York' },
      tasks: [{ name: 't', kind: 'noop' }],
    });
    const { fired, events } = await fireUntil([berlin, ny], '2026-10-23T14:00:00Z', '2026-11-03T00:00:00Z');
    // Berlin leaves CEST (UTC+2) for CET (UTC+1) at 03:00 on 25 October: 02:30 happens
    // twice that night and the job runs once, at the first.
    assert.deepEqual(fired.berlin_0230, [
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
      '2026-10-27T01:30:00.000Z',
      '2026-10-28T01:30:00.000Z',
      '2026-10-29T01:30:00.000Z',
      '2026-10-30T01:30:00.000Z',
      '2026-10-31T01:30:00.000Z',
      '2026-11-01T01:30:00.000Z',
      '2026-11-02T01:30:00.000Z',
    ]);
    // New York leaves EDT (UTC-4) for EST (UTC-5) on 1 November.
    assert.deepEqual(fired.ny_0900, [
      '2026-10-24T13:00:00.000Z',
      '2026-10-25T13:00:00.000Z',
      '2026-10-26T13:00:00.000Z',
      '2026-10-27T13:00:00.000Z',
      '2026-10-28T13:00:00.000Z',
      '2026-10-29T13:00:00.000Z',
      '2026-10-30T13:00:00.000Z',
      '2026-10-31T13:00:00.000Z',
      '2026-11-01T14:00:00.000Z',
      '2026-11-02T14:00:00.000Z',
    ]);
    // Each run's logical date is its local day.
    const dates = events
      .of('run_started')
      .filter((e) => e.job === 'berlin_0230')
      .map((e) => e.date);
    assert.deepEqual(dates.slice(0, 3), ['2026-10-24', '2026-10-25', '2026-10-26']);
    assert.ok(events.of('run_finished').every((e) => e.state === 'succeeded'));
  });

  test('cron in a time zone across the spring DST change: a skipped 02:30 runs at the first time after the gap', async () => {
    const berlin = await checkJobValue({
      name: 'berlin_0230',
      schedule: { cron: '30 2 * * *', timezone: 'Europe/Berlin' },
      tasks: [{ name: 't', kind: 'noop' }],
    });
    const hourly = await checkJobValue({
      name: 'hourly',
      schedule: { cron: '0 * * * *', timezone: 'Europe/Berlin' },
      tasks: [{ name: 't', kind: 'noop' }],
    });
    const { fired } = await fireUntil([berlin, hourly], '2026-03-28T00:00:00Z', '2026-03-29T03:00:00Z');
    // 02:00 CET jumps to 03:00 CEST on 29 March: 02:30 does not exist that night.
    assert.deepEqual(fired.berlin_0230, ['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z']);
    // An hourly job skips the missing hour: one run per real hour, none twice.
    const night = fired.hourly.filter((t) => t >= '2026-03-28T23:00:00.000Z');
    assert.deepEqual(night, [
      '2026-03-28T23:00:00.000Z',
      '2026-03-29T00:00:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T02:00:00.000Z',
      '2026-03-29T03:00:00.000Z',
    ]);
  });

  test('stop() ends a run under way: its task sees the signal, no retry starts, the run is recorded cancelled', async () => {
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    registerTaskKind('listens', {
      check: () => [],
      run: (_p, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => reject(new Error('stopped')));
          started();
        }),
    });
    const time = new VirtualTime(at('2026-11-29T10:00:30Z'));
    const job = await checkJobValue({
      name: 'stoppable',
      schedule: '* * * * *',
      tasks: [
        { name: 'work', kind: 'listens' },
        { name: 'next', kind: 'noop', depends_on: ['work'] },
      ],
    });
    const events = new Events();
    const s = await Scheduler.start({
      jobs: [job],
      dataDir: suite.dataDir,
      clock: time,
      sleep: time.sleep,
      log: suite.log,
      onEvent: events.on,
      maxSleepMs: WEEK,
    });
    await time.advanceTo(at('2026-11-29T10:01:00Z'));
    await running;
    await s.stop();
    const finished = await events.waitFor('run_finished');
    assert.equal(finished.state, 'cancelled');
    assert.equal(events.of('task_retry').length, 0);
    assert.equal(events.of('alert').length, 0);
    const history = await JobHistory.open(suite.dataDir, time);
    const [run] = await history.runs({ job: 'stoppable' });
    assert.equal(run.state, 'cancelled');
    const tasks = await history.tasks([run.runId]);
    assert.deepEqual(tasks.map((t) => [t.task, t.state]).sort(), [
      ['next', 'cancelled'],
      ['work', 'cancelled'],
    ]);
    assert.match(tasks.find((t) => t.task === 'work')!.error!, /^stopped$/);
  });
});
