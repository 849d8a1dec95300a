/**
 * `tributary jobs ...` as a user runs it: list, run (exit 0 and 1, --date), history,
 * usage and definition errors, and serve stopped by Ctrl-C (SIGINT).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanup, ROOT, tempDir, tributary } from '../interop/helpers.ts';

const JOBS = `jobs:
  - name: checks
    schedule: { cron: '0 6 * * *', timezone: Europe/Berlin }
    sla: { within: 1h }
    tasks:
      - name: count
        kind: sql
        params: { sql: "SELECT '{{ date }}' AS day, count(*) AS runs FROM _tributary_job_runs" }
      - name: nothing_failed
        kind: sql
        depends_on: [count]
        params: { sql: "SELECT run_id FROM _tributary_job_runs WHERE state = 'failed'", expect: empty }
  - name: must_find
    retries: 0
    tasks:
      - name: find
        kind: sql
        params: { sql: "SELECT 1 AS x WHERE false", expect: not_empty }
      - name: after
        kind: sql
        depends_on: [find]
        params: { sql: SELECT 1 }
`;

describe('tributary jobs', () => {
  let cwd: string;
  const t = (...args: string[]) =>
    tributary(['jobs', ...args], { cwd, env: { TRIBUTARY_DATA_DIR: undefined } });

  before(async () => {
    cwd = await tempDir('cli-jobs');
    await fs.mkdir(join(cwd, 'project'));
    await fs.writeFile(join(cwd, 'project', 'jobs.yaml'), JOBS);
  });
  after(() => cleanup(cwd));

  test('list shows the jobs of ./project with their schedule, SLA and next run', async () => {
    const r = await t('list');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^JOB\s+SCHEDULE\s+NEXT RUN \(UTC\)\s+SLA\s+TASKS\s+LAST RUN$/);
    assert.match(
      lines[1],
      /^checks\s+0 6 \* \* \* \(Europe\/Berlin\)\s+\d{4}-\d\d-\d\dT0[45]:00:00Z\s+within 1h\s+2\s+-$/,
    );
    assert.match(lines[2], /^must_find\s+on demand\s+-\s+-\s+2\s+-$/);
    const json = JSON.parse((await t('list', '--format', 'json')).stdout);
    assert.deepEqual(json[0].schedule, { cron: '0 6 * * *', timezone: 'Europe/Berlin', date_offset: 0 });
  });

  test('run prints each task and exits 0 when the run succeeded, 1 when it failed; history shows both', async () => {
    const ok = await t('run', 'checks', '--date', '2026-11-29');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^run \S+ of checks \(date 2026-11-29, scheduled .+\)$/m);
    assert.match(
      ok.stdout,
      /^ {2}count\s+succeeded in \S+ {2}\{"rows":1,"columns":\["day","runs"\],"sample":\[\{"day":"2026-11-29","runs":1\}\]\}$/m,
    );
    assert.match(ok.stdout, /^ {2}nothing_failed\s+succeeded/m);
    assert.match(ok.stdout, /^succeeded in /m);

    const bad = await t('run', 'must_find');
    assert.equal(bad.code, 1);
    assert.match(
      bad.stdout,
      /^ {2}find\s+failed in \S+: the check query returned no rows where some were expected$/m,
    );
    assert.match(bad.stdout, /^ {2}after\s+skipped: skipped: task find it depends on failed$/m);
    assert.match(bad.stderr, /ALERT run_failed: job must_find \(run \S+\): task find failed after 1 attempt/);

    const history = await t('history', 'must_find');
    assert.equal(history.code, 0, history.stderr);
    assert.match(
      history.stdout,
      /^\S+ {2}failed in \S+ {2}scheduled \S+ {2}date \d{4}-\d\d-\d\d {2}manual {2}started /m,
    );
    assert.match(history.stdout, /^ {2}find\s+failed/m);
    const runs = JSON.parse((await t('history', 'checks', '--format', 'json')).stdout);
    assert.equal(runs.length, 1);
    assert.equal(runs[0].state, 'succeeded');
    assert.equal(runs[0].date, '2026-11-29');
    assert.deepEqual(
      runs[0].tasks.map((x: { task: string; state: string }) => [x.task, x.state]),
      [
        ['count', 'succeeded'],
        ['nothing_failed', 'succeeded'],
      ],
    );
  });

  test('usage mistakes, unknown jobs and bad definitions exit 2 with what to do', async () => {
    const noJob = await t('run', 'nope');
    assert.equal(noJob.code, 2);
    assert.match(
      noJob.stderr,
      /error \[JOB_NOT_FOUND\]: no job named 'nope' in \.\/project; its jobs are checks, must_find/,
    );
    const badDate = await t('run', 'checks', '--date', 'tomorrow');
    assert.equal(badDate.code, 2);
    assert.match(badDate.stderr, /the run date 'tomorrow' is not a date like 2026-11-29/);
    const wrongOption = await t('list', '--date', '2026-11-29');
    assert.equal(wrongOption.code, 2);
    assert.match(wrongOption.stderr, /'jobs list' does not take --date/);
    await fs.mkdir(join(cwd, 'broken'));
    await fs.writeFile(
      join(cwd, 'broken', 'jobs.yaml'),
      'jobs:\n  - name: x\n    tasks:\n      - { name: a, kind: sql, params: { sql: 1 } }\n',
    );
    const broken = await t('list', '--project', 'broken');
    assert.equal(broken.code, 2);
    assert.match(
      broken.stderr,
      /error \[JOB_INVALID\]: a job definition has a problem:\n {2}broken\/jobs\.yaml:4:46: jobs\[0\]\.tasks\[0\]\.params\.sql: expected text, got number 1/,
    );
  });

  test('serve runs until Ctrl-C and then stops cleanly', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'tributary.js'), 'jobs', 'serve'], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      out += b.toString();
    });
    while (!out.includes('scheduler running')) await new Promise((r) => setTimeout(r, 20));
    assert.match(out, /checks: next run at \S+/);
    const code = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGINT');
    assert.equal(await code, 0, out);
    assert.match(out, /stopping: no new run starts/);
  });
});
