/**
 * The commands as users run them: `tributary serve` with the data directory's log takes
 * records over HTTP (read back from the log by this process) and serves the schema
 * registry under /registry; `tributary run --serve` shows its pipeline at
 * /api/v1/pipelines while ingest feeds it, and the table holds every record; with
 * `--project` its jobs at /api/v1/jobs, run over HTTP. Both stop
 * cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openLog } from '../../src/log/open.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { DeltaTable, readRows } from '../../src/table/index.ts';
import { exitWithin, startCli } from '../helpers/cli-child.ts';
import { call, tempDir } from './helpers.ts';
import { readTopic } from './ingest-helpers.ts';

/** Waits for `pattern` in the child's output (stdout or stderr); resolves with its first group. */
function waitFor(cli: ReturnType<typeof startCli>, pattern: RegExp): Promise<string> {
  let out = '';
  return new Promise<string>((resolve, reject) => {
    const look = (d: Buffer) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve(m[1]);
    };
    cli.child.stdout!.on('data', look);
    cli.child.stderr!.on('data', look);
    void cli.exit.then((e) => reject(new Error(`exited early: ${e.code} ${e.stderr}`)));
  });
}

const ndjson = (n: number) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ id: i, amount: i / 4 })).join('\n');

describe('serve and run --serve with a log', () => {
  test('serve: ingest into the embedded log, the registry under /registry', async () => {
    const dataDir = tempDir('cli-ingest');
    const log = await openLog({ dataDir });
    await log.createTopic('events', { partitions: 2 });
    const cli = startCli(['serve', '--port', '0', '--no-auth', '--data-dir', dataDir]);
    try {
      const url = await waitFor(cli, /serving .* at (http:\/\/\S+)\/api\/v1\n/);
      const res = await fetch(`${url}/api/v1/topics/events/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: ndjson(50),
      });
      assert.equal(res.status, 200, await res.text());
      const back = await readTopic(log, 'events');
      assert.deepEqual(back.map((r) => r.value).sort(), ndjson(50).split('\n').sort());
      const subjects = await call(url, '/registry/subjects');
      assert.equal(subjects.status, 200, subjects.text);
      assert.deepEqual(subjects.body, []);
      const metrics = await call(url, '/metrics');
      assert.match(metrics.text, /tributary_ingest_records_total\{topic="events"\} 50/);
    } finally {
      cli.child.kill('SIGTERM');
      await log.close();
    }
    const exit = await exitWithin(cli.exit, 20_000);
    assert.equal(exit?.code, 0, exit?.stderr ?? 'no exit');
  });

  test('run --serve: the pipeline at /api/v1/pipelines, fed by ingest, lands every record', async () => {
    const dataDir = tempDir('cli-run');
    const definition = join(dataDir, 'events.yaml');
    writeFileSync(
      definition,
      `name: events
source: { topic: events, partitions: 2 }
contract:
  name: events.v1
  fields:
    - { name: id, type: integer }
    - { name: amount, type: number }
sinks:
  - { name: lake, type: delta_append, from: input, table: events }
runtime: { trigger: 20ms }
`,
    );
    const cli = startCli([
      'run',
      definition,
      '--serve',
      '0',
      '--no-auth',
      '--data-dir',
      dataDir,
      '--progress-ms',
      '0',
      '--project',
      'orders',
    ]);
    try {
      const url = await waitFor(cli, /serving at (http:\/\/[^\s:]+:\d+)/);
      const res = await fetch(`${url}/api/v1/topics/events/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: ndjson(120),
      });
      assert.equal(res.status, 200, await res.text());
      let status: { state: string; counters: { recordsIn: number }; source: { lag: number } } | undefined;
      for (let i = 0; i < 1500; i++) {
        status = (await call(url, '/api/v1/pipelines/events')).body;
        if (status?.counters.recordsIn === 120 && status.source.lag === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(status?.state, 'running');
      assert.equal(status?.counters.recordsIn, 120);
      assert.equal(status?.source.lag, 0);
      // The project's jobs, once its scheduler has started beside the pipeline; one run now.
      let jobs: Array<{ name: string }> = [];
      for (let i = 0; i < 1500 && jobs.length === 0; i++) {
        jobs = (await call(url, '/api/v1/jobs')).body.jobs;
        if (jobs.length === 0) await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(
        jobs.map((j) => j.name),
        ['orders_maintenance'],
      );
      const started = await call(url, '/api/v1/jobs/orders_maintenance/runs', { method: 'POST' });
      assert.equal(started.status, 202, started.text);
      let state = 'running';
      while (state === 'running') {
        state = (await call(url, started.body.run)).body.state;
        if (state === 'running') await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(state, 'succeeded');
    } finally {
      cli.child.kill('SIGTERM');
    }
    const exit = await exitWithin(cli.exit, 30_000);
    assert.equal(exit?.code, 0, exit?.stderr ?? 'no exit');
    const table = await DeltaTable.open(new LocalStore(join(dataDir, 'tables', 'events')));
    assert.equal((await readRows(table, await table.snapshot())).length, 120);
  });

  test('demo orders serves its pipeline: the URL printed, its status and metrics while it runs', async () => {
    const dataDir = tempDir('cli-demo');
    const cli = startCli([
      'demo',
      'orders',
      '--rate',
      '2000',
      '--serve',
      '0',
      '--no-auth',
      '--data-dir',
      dataDir,
    ]);
    try {
      const url = await waitFor(cli, /serving at (http:\/\/[^\s:]+:\d+)/);
      let status: {
        state: string;
        counters: { recordsIn: number };
        sinks: Array<{ name: string; table: string }>;
      };
      for (let i = 0; ; i++) {
        status = (await call(url, '/api/v1/pipelines/orders')).body;
        if (status?.counters?.recordsIn > 0 || i > 1500) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(status.state, 'running');
      assert.ok(status.counters.recordsIn > 0);
      assert.deepEqual(
        status.sinks.map((x) => [x.name, x.table]),
        [
          ['orders_events', 'orders_events'],
          ['orders_current', 'orders_current'],
        ],
      );
      const m = await call(url, '/metrics');
      assert.match(m.text, /tributary_records_in_total\{pipeline="orders"\} [1-9]/);
    } finally {
      cli.child.kill('SIGTERM');
    }
    const exit = await exitWithin(cli.exit, 30_000);
    assert.equal(exit?.code, 0, exit?.stderr ?? 'no exit');
  });
});
