/**
 * Seed 002's daily DAG as a scheduled job: `tributary jobs run lakehouse_bronze_to_gold
 * --project clickstream --date D` (the six tasks, `models` and `export` kinds) leaves the
 * silver and gold Delta tables and PostgreSQL's gold.* exactly as running the models of
 * the project directly for that day does (runModels; compared but for `updated_at`, the
 * time of each run) — and running the job for the day again changes nothing else. The
 * history says which tasks ran, in which order.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { PostgresPool } from '../../src/connectors/postgres/client.ts';
import { runModels } from '../../src/jobs/models/run.ts';
import { writeBronze } from '../../src/scenarios/clickstream/synthetic-bronze.ts';
import { freshDatabase, postgresMissing } from '../connectors/postgres/server.ts';
import { tableRows, tempDir } from './models/helpers.ts';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'tributary.js');
const run = promisify(execFile);
const skip = postgresMissing();
const DAY = '2026-11-29';
const MODELS = [
  'silver_user_events',
  'daily_active_users',
  'conversion_rate_daily',
  'events_per_source_daily',
  'purchases_per_page_daily',
];
const GOLD: Record<string, string> = {
  daily_active_users: 'event_date',
  conversion_rate_daily: 'event_date',
  events_per_source_daily: 'event_date, source',
  purchases_per_page_daily: 'event_date, page',
};

const tmp = tempDir('clickstream-job');
after(() => tmp.cleanup());

const withoutUpdatedAt = (rows: Record<string, unknown>[]) =>
  JSON.stringify(rows.map(({ updated_at: _, ...rest }) => rest));

async function state(dataDir: string, url: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const m of MODELS) out[`delta:${m}`] = withoutUpdatedAt(await tableRows(dataDir, m));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const [t, key] of Object.entries(GOLD)) {
      out[`postgres:${t}`] = withoutUpdatedAt(
        (await client.query(`SELECT * FROM gold.${t} ORDER BY ${key}`)).rows,
      );
    }
  } finally {
    await client.end();
  }
  return out;
}

test('lakehouse_bronze_to_gold: the job gives the tables of the models run directly, and a re-run changes nothing', {
  skip,
  timeout: 300_000,
}, async () => {
  const direct = join(tmp.dir, 'direct');
  const job = join(tmp.dir, 'job');
  for (const dir of [direct, job]) {
    await writeBronze(join(dir, 'tables', 'bronze_user_events'), '2026-11-28', 3000, 0);
    await writeBronze(join(dir, 'tables', 'bronze_user_events'), DAY, 3000, 3000);
  }
  const dbDirect = await freshDatabase('job_direct');
  const dbJob = await freshDatabase('job_run');
  const pool = new PostgresPool(dbDirect.url, { max: 2 });
  try {
    const r = await runModels({
      project: 'clickstream',
      dataDir: direct,
      postgres: pool,
      partition: `event_date=${DAY}`,
    });
    assert.ok(r.ok, JSON.stringify(r.models.map((m) => [m.model, m.status, m.error])));
    const want = await state(direct, dbDirect.url);

    const args = [
      'jobs',
      'run',
      'lakehouse_bronze_to_gold',
      '--project',
      'clickstream',
      '--data-dir',
      job,
      '--date',
      DAY,
      '--postgres',
      dbJob.url,
    ];
    const first = await run(process.execPath, [BIN, ...args], { timeout: 240_000 });
    assert.match(first.stdout, /run \S+ of lakehouse_bronze_to_gold succeeded/);
    // The seed's order: silver before every gold task, the export last.
    const order = [...first.stdout.matchAll(/^ {2}(\S+) +succeeded/gm)].map((m) => m[1]);
    assert.equal(order.length, 6, first.stdout);
    assert.equal(order[0], 'bronze_to_silver');
    assert.equal(order[5], 'gold_to_postgres');
    assert.ok(order.indexOf('silver_to_gold_dau') < order.indexOf('silver_to_gold_conversion'));
    assert.deepEqual(
      await state(job, dbJob.url),
      want,
      'the job leaves the tables of the models run directly',
    );
    assert.ok(
      Object.values(want).every((v) => v !== '[]'),
      'every table has rows',
    );

    await run(process.execPath, [BIN, ...args], { timeout: 240_000 });
    assert.deepEqual(await state(job, dbJob.url), want, 'running the day again changes nothing');

    const history = await run(process.execPath, [
      BIN,
      'jobs',
      'history',
      'lakehouse_bronze_to_gold',
      '--project',
      'clickstream',
      '--data-dir',
      job,
      '--format',
      'json',
    ]);
    const runs = JSON.parse(history.stdout);
    assert.equal(runs.length, 2, history.stdout);
  } finally {
    await pool.end();
    await dbDirect.drop();
    await dbJob.drop();
  }
});
