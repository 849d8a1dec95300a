/**
 * `tributary models ...` as a user runs it (bin/tributary.js in a child process): the
 * graph of the shipped clickstream project, a run and a test of a small project (exit
 * codes, text and JSON output), the errors of a broken project with file:line, and the
 * clickstream project run for a day with its exports to a real PostgreSQL server.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { writeBronze } from '../../src/scenarios/clickstream/synthetic-bronze.ts';
import { freshDatabase, postgresMissing } from '../connectors/postgres/server.ts';
import { tributary } from '../interop/helpers.ts';
import { sourceTable, tempDir, writeProject } from '../jobs/models/helpers.ts';

const tmp = tempDir('cli-models');
after(() => tmp.cleanup());

describe('tributary models', () => {
  test('graph: the shipped clickstream project in run order; dot', async () => {
    const r = await tributary(['models', 'graph', '--project', 'clickstream']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], '5 models in run order; sources: bronze_user_events');
    assert.match(lines[1], /^silver_user_events\s+incremental by event_date\s+<- source bronze_user_events$/);
    assert.match(
      lines[3],
      /^conversion_rate_daily .*<- silver_user_events, daily_active_users {2}\(export: postgres gold\.conversion_rate_daily\)$/,
    );
    const dot = await tributary([
      'models',
      'graph',
      '--project',
      'clickstream',
      '--format',
      'dot',
      '--select',
      '+conversion_rate_daily',
    ]);
    assert.equal(dot.code, 0, dot.stderr);
    assert.match(dot.stdout, /^digraph models \{/);
    assert.doesNotMatch(dot.stdout, /purchases_per_page_daily/);
  });

  test('run and test a small project: output, JSON, exit codes', async () => {
    const dataDir = join(tmp.dir, 'small');
    const project = writeProject(join(tmp.dir, 'small-project'), {
      'models/totals.sql': `/*---
expectations:
  - range: { column: total, min: 0 }
---*/
SELECT kind, sum(v) AS total FROM source('raw') GROUP BY kind`,
    });
    await sourceTable(dataDir, 'raw', { kind: 'string', v: 'long' }, [
      { kind: 'a', v: 1 },
      { kind: 'a', v: 2 },
      { kind: 'b', v: -5 },
    ]);
    const args = ['--project', project, '--data-dir', dataDir];
    const run = await tributary(['models', 'run', ...args]);
    assert.equal(run.code, 1, `an error expectation failed: exit 1\n${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /^totals\s+table {2}2 rows {2}version 0 {2}\S+ m?s {2}read raw@0 {2}FAILED$/m);
    assert.match(run.stdout, /FAIL {2}range\(total\) {2}1 failing row/);
    assert.match(run.stdout, /\{"kind":"b","total":"-5"\}/);
    assert.match(run.stdout, /1 model: 0 ok, 1 failed, 0 skipped/);

    const json = await tributary(['models', 'test', ...args, '--format', 'json']);
    assert.equal(json.code, 1);
    const result = JSON.parse(json.stdout);
    assert.equal(result.results[0].expectation, 'range(total)');
    assert.equal(result.results[0].failingRows, 1);

    const broken = writeProject(join(tmp.dir, 'broken-project'), {
      'models/x.sql': "SELECT *\nFROM ref('nope')",
    });
    const bad = await tributary(['models', 'run', '--project', broken, '--data-dir', dataDir]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /error \[MODEL_INVALID\].*\n.*models\/x\.sql:2:6: ref\('nope'\): there is no model 'nope'/,
    );

    const usage = await tributary(['models', 'run', ...args, '--partition', 'nonsense']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--partition: 'nonsense' is not a partition: write column=value/);
  });

  test('run a day of the clickstream project with exports to PostgreSQL', {
    skip: postgresMissing(),
  }, async () => {
    const dataDir = join(tmp.dir, 'clickstream');
    await writeBronze(join(dataDir, 'tables', 'bronze_user_events'), '2026-11-29', 2000);
    const db = await freshDatabase('cli_models');
    try {
      const r = await tributary([
        'models',
        'run',
        '--project',
        'clickstream',
        '--data-dir',
        dataDir,
        '--partition',
        'event_date=2026-11-29',
        '--postgres',
        db.url,
      ]);
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
      assert.match(
        r.stdout,
        /^daily_active_users\s+partitions {2}1 row {2}version 0 .*read silver_user_events@0 {2}→ postgres gold\.daily_active_users \(1 row\) {2}ok$/m,
      );
      assert.match(r.stdout, /5 models: 5 ok, 0 failed, 0 skipped/);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query(
          'SELECT event_date::text AS d, dau_count FROM gold.daily_active_users',
        );
        assert.equal(rows.length, 1);
        assert.equal(rows[0].d, '2026-11-29');
      } finally {
        await client.end();
      }
    } finally {
      await db.drop();
    }
  });
});
