/**
 * `tributary serve --project orders`: the shipped orders project's hourly upkeep at
 * /api/v1/jobs; an admin runs it over HTTP, the run is in `tributary jobs history`
 * (another process reading the same history); the server stops cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createToken } from '../../src/server/auth/token.ts';
import { exitWithin, startCli } from '../helpers/cli-child.ts';
import { tributary } from '../interop/helpers.ts';
import { call, tempDir } from './helpers.ts';

const SECRET = 'the jobs test secret, at least thirty-two bytes long';

test('serve --project: the jobs at /api/v1/jobs, a run started over HTTP, seen by the CLI', async () => {
  const dataDir = tempDir('jobs-cli');
  const cli = startCli([
    'serve',
    '--port',
    '0',
    '--no-log',
    '--jwt-secret',
    SECRET,
    '--project',
    'orders',
    '--data-dir',
    dataDir,
  ]);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      cli.child.stdout!.on('data', (d) => {
        out += d;
        const m = /jobs: (http:\/\/\S+)\/api\/v1\/jobs /.exec(out);
        if (m) resolve(m[1]);
      });
      void cli.exit.then((e) => reject(new Error(`serve exited early: ${e.code} ${e.stderr}`)));
    });
    const token = async (role: 'admin' | 'writer') =>
      (await createToken({ key: new TextEncoder().encode(SECRET), role, ttlSeconds: 600 })).token;
    const list = await call(url, '/api/v1/jobs', { token: await token('writer') });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
      list.body.jobs.map((j: { name: string }) => j.name),
      ['orders_maintenance'],
    );
    const refused = await call(url, '/api/v1/jobs/orders_maintenance/runs', {
      token: await token('writer'),
      method: 'POST',
    });
    assert.equal(refused.status, 403);
    const started = await call(url, '/api/v1/jobs/orders_maintenance/runs', {
      token: await token('admin'),
      method: 'POST',
    });
    assert.equal(started.status, 202, started.text);
    let run: { state: string; tasks: unknown[] };
    for (;;) {
      const r = await call(url, started.body.run, { token: await token('writer') });
      assert.equal(r.status, 200, r.text);
      run = r.body;
      if (run.state !== 'running') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(run.state, 'succeeded', JSON.stringify(run));
    const history = await tributary([
      'jobs',
      'history',
      'orders_maintenance',
      '--project',
      'orders',
      '--data-dir',
      dataDir,
      '--format',
      'json',
    ]);
    assert.equal(history.code, 0, history.stderr);
    const runs = JSON.parse(history.stdout) as Array<{ runId: string; state: string; trigger: string }>;
    assert.deepEqual(
      runs.map((r) => [r.runId, r.state, r.trigger]),
      [[started.body.runId, 'succeeded', 'manual']],
    );
  } finally {
    cli.child.kill('SIGTERM');
  }
  const exit = await exitWithin(cli.exit, 20_000);
  assert.equal(exit?.code, 0, exit?.stderr ?? 'no exit');
});
