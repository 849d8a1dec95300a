/**
 * Jobs from a project folder: jobs.yaml and jobs/<name>.yaml, their defaults, and every
 * problem reported at once with its file, line and column.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isTributaryError } from '../../../src/core/errors.ts';
import { BUILTIN_PROJECTS_DIR, loadProject, resolveProjectDir } from '../../../src/jobs/scheduler/index.ts';
import { cleanup, tempDir } from '../../interop/helpers.ts';
import { registerTestKinds } from './helpers.ts';

async function project(dir: string, files: Record<string, string>): Promise<string> {
  await fs.mkdir(join(dir, 'jobs'), { recursive: true });
  for (const [name, text] of Object.entries(files)) await fs.writeFile(join(dir, name), text);
  return dir;
}

/** The problem lines of a JOB_INVALID error, with the folder cut off the file names. */
async function problems(dir: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  try {
    await loadProject(dir, { env });
  } catch (err) {
    assert.ok(isTributaryError(err, 'JOB_INVALID'), String(err));
    return err.message
      .split('\n')
      .slice(1)
      .map((l) => l.trim().replaceAll(`${dir}/`, ''));
  }
  throw new Error('expected JOB_INVALID');
}

describe('loadProject', () => {
  let dir: string;
  before(async () => {
    registerTestKinds();
    dir = await tempDir('jobs-load');
  });
  after(() => cleanup(dir));

  test('jobs.yaml and jobs/<name>.yaml, with their defaults and overrides', async () => {
    const p = await project(join(dir, 'ok'), {
      'jobs.yaml': `alerts:
  webhook:
    url: https://hooks.example.com/\${HOOK_PATH}
    headers: { Authorization: "Bearer \${HOOK_TOKEN}" }
jobs:
  - name: daily
    schedule: { cron: '30 1 * * *', timezone: Europe/Berlin, date_offset: -1 }
    retries: 5
    retry_delay: 1 minute
    timeout: 2h
    max_parallel: 2
    sla: { by: '06:00' }
    tasks:
      - { name: report, kind: noop, depends_on: [gold_a, gold_b] }
      - { name: gold_a, kind: noop, depends_on: [silver] }
      - { name: gold_b, kind: noop, depends_on: [silver], retries: 0, timeout: 5m }
      - { name: silver, kind: flaky, params: { fail: 0 } }
`,
      'jobs/hourly_upkeep.yaml': `schedule: '0 * * * *'
sla: { within: 20 minutes }
tasks:
  - name: compact
    kind: maintenance
    params: { table: orders_events, file_size: 16MiB, older_than: 1 minute }
`,
    });
    const loaded = await loadProject(p, { env: { HOOK_PATH: 'services/T0/B1', HOOK_TOKEN: 's3cret' } });
    assert.deepEqual(
      loaded.jobs.map((j) => j.name),
      ['daily', 'hourly_upkeep'],
    );
    const [daily, hourly] = loaded.jobs;
    assert.deepEqual(daily.schedule, { cron: '30 1 * * *', timezone: 'Europe/Berlin', dateOffset: -1 });
    assert.deepEqual(daily.sla, { by: { hour: 6, minute: 0 } });
    assert.equal(daily.maxParallel, 2);
    // Dependency order, whatever the order in the file.
    assert.deepEqual(
      daily.tasks.map((t) => t.name),
      ['silver', 'gold_a', 'gold_b', 'report'],
    );
    const gold_b = daily.tasks.find((t) => t.name === 'gold_b')!;
    assert.deepEqual(gold_b.retry, { retries: 0, delayMs: 60_000, maxDelayMs: 600_000 });
    assert.equal(gold_b.timeoutMs, 300_000);
    assert.deepEqual(daily.tasks[0].retry, { retries: 5, delayMs: 60_000, maxDelayMs: 600_000 });
    assert.equal(daily.tasks[0].timeoutMs, 7_200_000);
    // The defaults: UTC, 3 retries from 30 s, one hour per task, four at once.
    assert.deepEqual(hourly.schedule, { cron: '0 * * * *', timezone: 'UTC', dateOffset: 0 });
    assert.deepEqual(hourly.sla, { withinMs: 1_200_000 });
    assert.deepEqual(hourly.tasks[0].retry, { retries: 3, delayMs: 30_000, maxDelayMs: 600_000 });
    assert.equal(hourly.tasks[0].timeoutMs, 3_600_000);
    assert.equal(hourly.maxParallel, 4);
    assert.equal(hourly.source, `${p}/jobs/hourly_upkeep.yaml:1:1`);
    assert.deepEqual(loaded.alerts.webhook, {
      url: 'https://hooks.example.com/services/T0/B1',
      headers: { Authorization: 'Bearer s3cret' },
      timeoutMs: 10_000,
      attempts: 3,
      retryDelayMs: 1000,
    });
  });

  test('every problem at once, each with file:line:column', async () => {
    const p = await project(join(dir, 'bad'), {
      'jobs.yaml': `alerts:
  webhook:
    url: \${NO_SUCH_VARIABLE}
jobs:
  - name: one
    timout: 2h
    schedule: { cron: '61 * * * *', timezone: Mars/Olympus }
    sla: { by: '25:00' }
    tasks:
      - { name: a, kind: maintenance, params: { tabel: t } }
      - { name: b, kind: noop, depends_on: [a, nope] }
      - { name: c, kind: teleport }
      - { name: d, kind: noop, params: { sql: "{{ day }}" } }
  - name: cyclic
    tasks:
      - { name: x, kind: noop, depends_on: [z] }
      - { name: y, kind: noop, depends_on: [x] }
      - { name: z, kind: noop, depends_on: [y] }
`,
      'jobs/one.yaml': `tasks:
  - { name: a, kind: noop }
`,
    });
    assert.deepEqual(await problems(p), [
      'jobs.yaml:3:10: alerts.webhook.url: the environment variable NO_SUCH_VARIABLE is not set',
      "jobs.yaml:6:5: jobs[0].timout: unknown key 'timout' (did you mean 'timeout'?); expected one of: name, description, schedule, max_parallel, sla, tasks, retries, retry_delay, max_retry_delay, timeout",
      "jobs.yaml:7:23: jobs[0].schedule.cron: '61 * * * *' is not a cron expression (CronPattern: Invalid value for minute: 61); write 'minute hour day-of-month month day-of-week', e.g. '0 * * * *' (hourly) or '30 2 * * *' (02:30 daily)",
      "jobs.yaml:7:47: jobs[0].schedule.timezone: 'Mars/Olympus' is not a time zone; use an IANA name such as UTC, Europe/Berlin or America/New_York",
      "jobs.yaml:8:16: jobs[0].sla.by: expected a time of day such as '06:00' (24-hour), got '25:00'",
      "jobs.yaml:16:44: jobs[1].tasks[0].depends_on: the tasks x → z → y → x depend on each other in a cycle; a job's tasks must form a DAG",
    ]);
    // Once the shape of job 'one' is right, its deeper problems come out.
    await fs.writeFile(
      join(p, 'jobs.yaml'),
      `jobs:
  - name: one
    tasks:
      - { name: a, kind: maintenance, params: { tables: t } }
      - { name: b, kind: noop, depends_on: [a, nope] }
      - { name: c, kind: teleport }
      - { name: d, kind: noop, params: { sql: "{{ day }}" } }
`,
    );
    assert.deepEqual(await problems(p), [
      "jobs.yaml:4:47: jobs[0].tasks[0].params: missing required key 'table'",
      "jobs.yaml:4:49: jobs[0].tasks[0].params.tables: unknown key 'tables' (did you mean 'table'?); expected one of: table, operations, file_size, older_than, order_by, vacuum_retention, if_missing",
      "jobs.yaml:5:48: jobs[0].tasks[1].depends_on[1]: no task named 'nope' in this job; its tasks are a, b, c, d",
      "jobs.yaml:6:26: jobs[0].tasks[2].kind: unknown task kind 'teleport'; the kinds are flaky, gate, hang, maintenance, noop, sql",
      'jobs.yaml:7:47: jobs[0].tasks[3].params.sql: unknown placeholder {{ day }}; the placeholders are {{ date }}, {{ scheduled_time }}, {{ run_id }}, {{ job }}, {{ task }}',
      "jobs/one.yaml:1:1: (the definition): a second job named 'one' (the first is at jobs.yaml:2:5)",
    ]);
  });

  test('a YAML syntax error points at its line', async () => {
    const p = await project(join(dir, 'syntax'), {
      'jobs/broken.yaml': 'tasks:\n  - { name: a, kind: noop\n',
    });
    await assert.rejects(loadProject(p), (err) => {
      assert.ok(isTributaryError(err, 'JOB_INVALID'));
      assert.match(err.message, /jobs\/broken\.yaml:3:1: /);
      return true;
    });
  });

  test('a folder without jobs has none; the shipped orders project has its hourly upkeep', async () => {
    assert.deepEqual((await loadProject(join(dir, 'nothing'))).jobs, []);
    assert.equal(await resolveProjectDir('orders'), join(BUILTIN_PROJECTS_DIR, 'orders'));
    const orders = await loadProject(await resolveProjectDir('orders'));
    assert.equal(orders.jobs.length, 1);
    const [job] = orders.jobs;
    assert.equal(job.name, 'orders_maintenance');
    assert.deepEqual(job.schedule, { cron: '0 * * * *', timezone: 'UTC', dateOffset: 0 });
    assert.deepEqual(
      job.tasks.map((t) => [t.kind, t.params.table]),
      [
        ['maintenance', 'orders_events'],
        ['maintenance', 'orders_current'],
      ],
    );
  });
});
