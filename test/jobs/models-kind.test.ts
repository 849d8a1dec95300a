/**
 * SQL models as tasks of a job (src/jobs/models/task-kinds.ts): a `models` task whose
 * model fails an `error` expectation raises exactly one `expectation_failed` alert (a row
 * of the alerts table, a log line) and fails without retries (bad data stays bad: each
 * attempt would alert again) — the task after it does not run — while a
 * job over good data runs its model tasks in order. Real Delta tables, real DuckDB; the
 * `export` kind is covered by test/jobs/clickstream-job.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { registerModelKinds } from '../../src/cli/commands/project-jobs.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { ALERTS_TABLE, loadProject, runJob } from '../../src/jobs/scheduler/index.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { DeltaTable, readRows } from '../../src/table/index.ts';
import { sourceTable, tableRows, tempDir, writeProject } from './models/helpers.ts';
import { instantSleep } from './scheduler/helpers.ts';

registerModelKinds(async () => {
  throw new Error('no database in this test');
});

const PROJECT = {
  'models/clean_orders.sql': `/*---
expectations:
  - not_null: [customer_id]
  - range: { column: amount, min: 0 }
---*/
SELECT * FROM source('orders')
`,
  'models/totals.sql':
    "SELECT customer_id, sum(amount) AS total FROM ref('clean_orders') GROUP BY customer_id",
  'jobs.yaml': `
jobs:
  - name: nightly
    retries: 2
    retry_delay: 1s
    tasks:
      - name: clean
        kind: models
        params: { select: [clean_orders] }
      - name: totals
        kind: models
        depends_on: [clean]
        params: { select: [totals] }
`,
};

async function alerts(dataDir: string): Promise<Record<string, unknown>[]> {
  const store = new LocalStore(join(dataDir, 'tables', ALERTS_TABLE));
  if (!(await DeltaTable.exists(store))) return [];
  const t = await DeltaTable.open(store);
  return readRows(t, await t.snapshot());
}

const COLUMNS = { id: 'long', customer_id: 'long', amount: 'long' } as const;

test('a models task: one alert for a failed error expectation, the dependants not run; good data runs in order', async () => {
  const tmp = tempDir('models-kind');
  try {
    for (const [lane, bad] of [
      ['bad', true],
      ['good', false],
    ] as const) {
      const dir = writeProject(join(tmp.dir, lane, 'project'), PROJECT);
      const dataDir = join(tmp.dir, lane, 'data');
      const rows = [
        { id: 1, customer_id: 1, amount: 10 },
        { id: 2, customer_id: 2, amount: 20 },
        { id: 3, customer_id: 1, amount: 5 },
        ...(bad ? [{ id: 4, customer_id: null, amount: 7 }] : []),
      ];
      await sourceTable(dataDir, 'orders', { ...COLUMNS }, rows);
      const project = await loadProject(dir);
      const logs: string[] = [];
      const clock = new ManualClock(Date.UTC(2026, 10, 29, 1, 0, 0));
      const res = await runJob(project.jobs[0], {
        dataDir,
        project: dir,
        clock,
        sleep: instantSleep(clock, []),
        log: (l) => logs.push(l),
      });
      const states = Object.fromEntries(res.tasks.map((t) => [t.task, t.state]));
      const found = await alerts(dataDir);
      if (bad) {
        assert.equal(res.state, 'failed');
        assert.equal(states.totals, 'skipped', JSON.stringify(res.tasks));
        const expectation = found.filter((a) => a.kind === 'expectation_failed');
        assert.equal(expectation.length, 1, JSON.stringify(found));
        assert.match(
          String(expectation[0].message),
          /clean_orders: expectation .*customer_id.* failed \(1 failing rows\)/,
        );
        assert.equal(logs.filter((l) => l.includes('ALERT expectation_failed')).length, 1, logs.join('\n'));
        // The run's failure is an alert of its own, once.
        assert.equal(found.filter((a) => a.kind === 'run_failed').length, 1);
      } else {
        assert.equal(res.state, 'succeeded', JSON.stringify(res.tasks));
        assert.deepEqual(states, { clean: 'succeeded', totals: 'succeeded' });
        assert.equal(found.length, 0);
        const totals = (await tableRows(dataDir, 'totals')).map((r) => [
          Number(r.customer_id),
          Number(r.total),
        ]);
        assert.deepEqual(totals.sort(), [
          [1, 15],
          [2, 20],
        ]);
      }
    }
  } finally {
    tmp.cleanup();
  }
});
