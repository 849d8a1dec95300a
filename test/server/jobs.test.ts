/**
 * The jobs API through real HTTP: the project's jobs with their schedule, next and last
 * run; runs paged newest first; one run with its tasks; an admin starting a run, which
 * runs (a maintenance job compacts a table: delta-rs reads the compacted table, the
 * tables API shows the OPTIMIZE commit) and is in `tributary jobs history` too; a run
 * refused while another of the job goes on; roles, validation and 404s; job metrics.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobHistory, loadProject, registerTaskKind } from '../../src/jobs/scheduler/index.ts';
import { deltaRsRead, pythonSkip, tributary } from '../interop/helpers.ts';
import { writeOrders } from './fixtures.ts';
import { call, type Running, startServer, tempDir } from './helpers.ts';

let gate: { open: () => void; wait: Promise<void> } | undefined;
const newGate = () => {
  let open = () => {};
  const wait = new Promise<void>((r) => {
    open = r;
  });
  gate = { open, wait };
  return gate;
};

const JOBS_YAML = `jobs:
  - name: compact
    description: compact the orders table
    schedule: { cron: '0 * * * *', timezone: UTC }
    tasks:
      - name: optimize
        kind: maintenance
        params: { table: orders, operations: [optimize] }
  - name: slow
    tasks:
      - name: wait
        kind: test_api_gate
  - name: broken
    retries: 0
    tasks:
      - name: bad_sql
        kind: sql
        params: { sql: "SELECT * FROM no_such_table" }
      - name: after
        kind: test_api_gate
        depends_on: [bad_sql]
`;

const skipPython = pythonSkip();

describe('the jobs API', () => {
  let s: Running;
  let projectDir: string;
  let cliProject: string;
  let admin: string;
  let reader: string;
  let writer: string;

  before(async () => {
    registerTaskKind('test_api_gate', {
      check: () => [],
      async run() {
        await gate?.wait;
        return { waited: true };
      },
    });
    const dataDir = tempDir('jobs');
    await writeOrders(dataDir, 6, 20);
    projectDir = join(dataDir, 'project');
    mkdirSync(projectDir);
    writeFileSync(join(projectDir, 'jobs.yaml'), JOBS_YAML);
    // The CLI knows no test kinds: it reads the same job's history through a project of its own.
    cliProject = join(dataDir, 'cli-project');
    mkdirSync(cliProject);
    writeFileSync(join(cliProject, 'jobs.yaml'), JOBS_YAML.split('  - name: slow')[0]);
    const project = await loadProject(projectDir);
    s = await startServer({ dataDir, jobs: { project, log: () => {} }, log: (l) => console.error(l) });
    [admin, reader, writer] = await Promise.all([s.token('admin'), s.token('reader'), s.token('writer')]);
  });
  after(() => s?.stop());

  /** Polls a run until it is over. */
  async function finished(job: string, runId: string) {
    for (;;) {
      const r = await call(s.url, `/api/v1/jobs/${job}/runs/${runId}`, { token: reader });
      assert.equal(r.status, 200, r.text);
      if (r.body.state !== 'running') return r.body;
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  async function trigger(job: string, token = admin, body: unknown = {}) {
    return call(s.url, `/api/v1/jobs/${job}/runs`, { token, method: 'POST', body });
  }

  test('roles: no token 401, reader reads, writer and reader may not start a run (403)', async () => {
    const none = await call(s.url, '/api/v1/jobs');
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'AUTH_REQUIRED');
    assert.equal((await call(s.url, '/api/v1/jobs', { token: reader })).status, 200);
    for (const token of [reader, writer]) {
      const r = await trigger('compact', token);
      assert.equal(r.status, 403, r.text);
      assert.equal(r.body.code, 'AUTH_FORBIDDEN');
      assert.match(r.body.message, /admin/);
    }
    const bad = await call(s.url, '/api/v1/jobs', { token: `${reader}x` });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.code, 'AUTH_TOKEN_INVALID');
  });

  test('the list: each job, its schedule, next run and tasks', async () => {
    const r = await call(s.url, '/api/v1/jobs', { token: reader });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.project, projectDir);
    assert.deepEqual(
      r.body.jobs.map((j: { name: string }) => j.name),
      ['compact', 'slow', 'broken'],
    );
    const compact = r.body.jobs[0];
    assert.deepEqual(compact.schedule, { cron: '0 * * * *', timezone: 'UTC', dateOffset: 0 });
    // Hourly: the next whole hour after now (computed here, not by the scheduler).
    const hour = 3_600_000;
    const next = Date.parse(compact.nextRun);
    assert.equal(next % hour, 0);
    assert.ok(next > Date.now() - 5_000 && next <= Date.now() + hour);
    assert.equal(compact.description, 'compact the orders table');
    assert.deepEqual(
      compact.tasks.map((t: { name: string; kind: string }) => [t.name, t.kind]),
      [['optimize', 'maintenance']],
    );
    assert.equal(r.body.jobs[1].schedule, null);
    assert.equal(r.body.jobs[1].nextRun, null);
    const one = await call(s.url, '/api/v1/jobs/compact', { token: reader });
    assert.equal(one.status, 200);
    assert.equal(one.body.name, 'compact');
  });

  test('an admin starts a run: 202 with its id; it compacts the table (delta-rs reads it); the CLI lists it', async () => {
    const before = await call(s.url, '/api/v1/tables/orders', { token: reader });
    assert.ok(before.body.files > 1, `files: ${before.body.files}`);
    const r = await trigger('compact');
    assert.equal(r.status, 202, r.text);
    assert.match(r.body.runId, /^\d{8}T\d{9}Z-[0-9a-f]{6}$/);
    assert.equal(r.body.run, `/api/v1/jobs/compact/runs/${r.body.runId}`);
    const run = await finished('compact', r.body.runId);
    assert.equal(run.state, 'succeeded', JSON.stringify(run));
    assert.equal(run.trigger, 'manual');
    assert.equal(run.attempts, 1);
    assert.equal(run.error, null);
    assert.equal(run.durationMs, Date.parse(run.endedAt) - Date.parse(run.startedAt));
    assert.equal(run.tasks.length, 1);
    assert.equal(run.tasks[0].state, 'succeeded');
    assert.ok(run.tasks[0].output, 'the task output is kept');
    // The table as the API and delta-rs see it: one OPTIMIZE commit, fewer files, the same rows.
    const history = await call(s.url, '/api/v1/tables/orders/history?limit=1', { token: reader });
    assert.equal(history.body.entries[0].operation, 'OPTIMIZE', history.text);
    const afterSummary = await call(s.url, '/api/v1/tables/orders', { token: reader });
    assert.ok(afterSummary.body.files < before.body.files);
    assert.equal(afterSummary.body.rows, before.body.rows);
    if (!skipPython) {
      const dr = await deltaRsRead(join(s.dataDir, 'tables', 'orders'));
      assert.equal(dr.rows.length, 120);
      assert.equal(dr.files.length, afterSummary.body.files);
    }
    // The CLI reads the same history.
    const cli = await tributary([
      'jobs',
      'history',
      'compact',
      '--project',
      cliProject,
      '--data-dir',
      s.dataDir,
      '--format',
      'json',
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    const runs = JSON.parse(cli.stdout) as Array<{ runId: string; state: string }>;
    assert.ok(runs.some((x) => x.runId === r.body.runId && x.state === 'succeeded'));
  });

  test('a second run while one goes on: 409 JOB_ALREADY_RUNNING', async () => {
    const g = newGate();
    const first = await trigger('slow');
    assert.equal(first.status, 202, first.text);
    const second = await trigger('slow');
    assert.equal(second.status, 409, second.text);
    assert.equal(second.body.code, 'JOB_ALREADY_RUNNING');
    assert.equal(
      (await call(s.url, `/api/v1/jobs/slow/runs/${first.body.runId}`, { token: reader })).body.state,
      'running',
    );
    g.open();
    assert.equal((await finished('slow', first.body.runId)).state, 'succeeded');
    const third = await trigger('slow', admin, { date: '2026-11-29' });
    assert.equal(third.status, 202, third.text);
    assert.equal(third.body.date, '2026-11-29');
    assert.equal((await finished('slow', third.body.runId)).date, '2026-11-29');
  });

  test('a failed run: its error, the failed task’s error, the skipped task', async () => {
    const r = await trigger('broken');
    assert.equal(r.status, 202, r.text);
    const run = await finished('broken', r.body.runId);
    assert.equal(run.state, 'failed');
    assert.match(run.error, /task bad_sql failed after 1 attempt/);
    assert.deepEqual(
      run.tasks.map((t: { task: string; state: string }) => [t.task, t.state]),
      [
        ['bad_sql', 'failed'],
        ['after', 'skipped'],
      ],
    );
    assert.match(run.tasks[0].error, /no_such_table/);
  });

  test('runs paged newest first: every run once, in the order the CLI prints them', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await trigger('compact');
      assert.equal(r.status, 202, r.text);
      await finished('compact', r.body.runId);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : '';
      const page = await call(s.url, `/api/v1/jobs/compact/runs?limit=2${q}`, { token: reader });
      assert.equal(page.status, 200, page.text);
      assert.ok(page.body.runs.length <= 2);
      seen.push(...page.body.runs.map((x: { runId: string }) => x.runId));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(seen.length, 4);
    assert.equal(pages, 2);
    const cli = await tributary([
      'jobs',
      'history',
      'compact',
      '--project',
      cliProject,
      '--data-dir',
      s.dataDir,
      '--format',
      'json',
      '--limit',
      '100',
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(
      seen,
      (JSON.parse(cli.stdout) as Array<{ runId: string }>).map((x) => x.runId),
    );
    // A cursor of another job's runs, a bad limit, an unknown parameter: 400.
    const first = await call(s.url, '/api/v1/jobs/compact/runs?limit=1', { token: reader });
    const wrong = await call(s.url, `/api/v1/jobs/slow/runs?cursor=${first.body.nextCursor}`, {
      token: reader,
    });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.code, 'HTTP_REQUEST_INVALID');
    assert.equal(wrong.body.field, 'querystring.cursor');
    for (const q of ['limit=0', 'limit=101', 'limit=two', 'state=failed', 'cursor=%%%']) {
      const r = await call(s.url, `/api/v1/jobs/compact/runs?${q}`, { token: reader });
      assert.equal(r.status, 400, `${q}: ${r.text}`);
      assert.equal(r.body.code, 'HTTP_REQUEST_INVALID', q);
    }
  });

  test('validation and 404s', async () => {
    const unknown = await call(s.url, '/api/v1/jobs/nope', { token: reader });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'JOB_NOT_FOUND');
    assert.match(unknown.body.message, /compact, slow, broken/);
    assert.equal((await trigger('nope')).status, 404);
    const noRun = await call(s.url, '/api/v1/jobs/compact/runs/20260101T000000000Z-000000', {
      token: reader,
    });
    assert.equal(noRun.status, 404);
    assert.equal(noRun.body.code, 'JOB_RUN_NOT_FOUND');
    for (const body of [{ date: 'tomorrow' }, { date: '2026-11-29', extra: 1 }]) {
      const r = await trigger('compact', admin, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body.code, 'HTTP_REQUEST_INVALID');
    }
    const noDate = await trigger('compact', admin, { date: '2026-13-45' });
    assert.equal(noDate.status, 400, noDate.text);
    assert.equal(noDate.body.field, 'body.date');
    // No body at all: a run for today.
    const bare = await call(s.url, '/api/v1/jobs/slow/runs', { token: admin, method: 'POST' });
    assert.equal(bare.status, 202, bare.text);
    assert.equal((await finished('slow', bare.body.runId)).state, 'succeeded');
  });

  test('a table’s upkeep through the API: admin only, run as the job maintenance:<table>', async () => {
    const path = '/api/v1/tables/orders/maintenance';
    const refused = await call(s.url, path, { token: writer, method: 'POST', body: {} });
    assert.equal(refused.status, 403);
    const r = await call(s.url, path, { token: admin, method: 'POST', body: { operations: ['checkpoint'] } });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.job, 'maintenance:orders');
    const run = await finished('maintenance:orders', r.body.runId);
    assert.equal(run.state, 'succeeded', JSON.stringify(run));
    const version = run.tasks[0].output.checkpoint_version;
    assert.equal(typeof version, 'number');
    // The checkpoint is on disk, where any Delta reader looks for it.
    const name = `${String(version).padStart(20, '0')}.checkpoint.parquet`;
    assert.ok(existsSync(join(s.dataDir, 'tables', 'orders', '_delta_log', name)), name);
    const runs = await call(s.url, '/api/v1/jobs/maintenance:orders/runs', { token: reader });
    assert.deepEqual(
      runs.body.runs.map((x: { runId: string }) => x.runId),
      [r.body.runId],
    );
    for (const [body, field] of [
      [{ operations: ['drop'] }, 'body.operations[0]'],
      [{ fileSize: 'huge' }, 'body.fileSize'],
      [{ what: 1 }, 'body'],
    ] as const) {
      const bad = await call(s.url, path, { token: admin, method: 'POST', body });
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.body.code, 'HTTP_REQUEST_INVALID');
      assert.ok(String(bad.body.field).startsWith(field.split('[')[0]), `${bad.body.field} for ${field}`);
    }
    const missing = await call(s.url, '/api/v1/tables/nope/maintenance', {
      token: admin,
      method: 'POST',
      body: {},
    });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'TABLE_NOT_FOUND');
    const viaJobs = await trigger('maintenance:orders');
    assert.equal(viaJobs.status, 400, viaJobs.text);
  });

  test('metrics count the runs by state; OpenAPI documents the routes', async () => {
    const m = await call(s.url, '/metrics', { token: reader });
    assert.match(m.text, /tributary_job_runs_total\{job="compact",state="succeeded"\} 4/);
    assert.match(m.text, /tributary_job_runs_total\{job="broken",state="failed"\} 1/);
    const doc = await call(s.url, '/openapi.json');
    const runs = doc.body.paths['/api/v1/jobs/{name}/runs'];
    assert.ok(runs.get && runs.post, 'GET and POST runs documented');
    assert.ok(runs.post.responses['202'] && runs.post.responses['409']);
    assert.ok(doc.body.paths['/api/v1/jobs/{name}/runs/{runId}'].get);
  });
});

test('a stopping server stops the runs it started: recorded cancelled, with its tasks (the one under way and the one not started)', async () => {
  registerTaskKind('test_api_until_stopped', {
    check: () => [],
    run: (_params, ctx) =>
      new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve({ stopped: true }))),
  });
  const dataDir = tempDir('jobs-stop');
  const projectDir = join(dataDir, 'project');
  mkdirSync(projectDir);
  writeFileSync(
    join(projectDir, 'jobs.yaml'),
    `jobs:
  - name: endless
    tasks:
      - { name: first, kind: test_api_until_stopped }
      - { name: second, kind: test_api_until_stopped, depends_on: [first] }
`,
  );
  const s = await startServer({ dataDir, jobs: { project: await loadProject(projectDir), log: () => {} } });
  const admin = await s.token('admin');
  const r = await call(s.url, '/api/v1/jobs/endless/runs', { token: admin, method: 'POST' });
  assert.equal(r.status, 202, r.text);
  await s.stop();
  // The history, as the CLI's reader sees it: the run was stopped.
  const history = await JobHistory.open(dataDir, { now: () => Date.now() });
  const [run] = await history.runs({ job: 'endless' });
  assert.equal(run.runId, r.body.runId);
  assert.equal(run.state, 'cancelled');
  const tasks = await history.tasks([run.runId]);
  assert.deepEqual(tasks.map((t) => [t.task, t.state]).sort(), [
    ['first', 'cancelled'],
    ['second', 'cancelled'],
  ]);
});
