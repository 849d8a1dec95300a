/**
 * The clickstream batch layer (projects/clickstream) run day by day over a bronze table,
 * its gold tables exported to a real PostgreSQL server — and the same work done in ways
 * that go wrong, which must all end with every table (the Delta tables of silver and
 * gold, and PostgreSQL's gold.*) exactly as one clean run leaves them:
 * - every day re-run (twice, out of order);
 * - a run that fails in the middle (a gold model's SQL broken: the models before it and
 *   beside it committed, it and its dependants not), then retried with the fix;
 * - an export whose COMMIT lands but whose answer is lost (the run reports the failure,
 *   skips the dependants), then retried.
 * Every lane runs with the same ManualClock, so updated_at (the run's start) is the same.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { type PgConnector, PostgresPool } from '../../../src/connectors/postgres/client.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { BUILTIN_PROJECTS_DIR } from '../../../src/jobs/models/project.ts';
import { type ModelsRunResult, runModels } from '../../../src/jobs/models/run.ts';
import { writeBronze } from '../../../src/scenarios/clickstream/synthetic-bronze.ts';
import { type FreshDatabase, freshDatabase, postgresMissing } from '../../connectors/postgres/server.ts';
import { deltaRsRead, pythonSkip } from '../../interop/helpers.ts';
import { tableRows, tempDir } from './helpers.ts';

const skip = postgresMissing();
const DAYS = ['2026-11-28', '2026-11-29'];
const EVENTS = 4000;
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
const clock = () => new ManualClock(Date.UTC(2026, 10, 30, 1, 0, 0));

/** A PostgreSQL connector whose next COMMIT lands on the server while its answer is lost. */
class LostCommit implements PgConnector {
  readonly target: string;
  armed = false;
  fired = 0;
  private readonly inner: PgConnector;
  constructor(inner: PgConnector) {
    this.inner = inner;
    this.target = inner.target;
  }
  async connect() {
    const s = await this.inner.connect();
    return {
      query: async <R>(text: string, values?: unknown[], name?: string) => {
        const res = await s.query<R>(text, values, name);
        if (this.armed && /^\s*COMMIT/i.test(text)) {
          this.armed = false;
          this.fired++;
          throw Object.assign(new Error('injected: connection reset after COMMIT was sent'), {
            code: 'ECONNRESET',
          });
        }
        return res;
      },
      release: (broken?: boolean) => s.release(broken),
    };
  }
  end() {
    return this.inner.end();
  }
}

interface Lane {
  dataDir: string;
  db: FreshDatabase;
  pool: PostgresPool;
}

describe('clickstream batch layer: re-runs and retries leave the tables of one clean run', { skip }, () => {
  const tmp = tempDir('models-clickstream-retry');
  const lanes: Lane[] = [];
  let clean: Lane;

  async function lane(name: string): Promise<Lane> {
    const dataDir = join(tmp.dir, name);
    const bronze = join(dataDir, 'tables', 'bronze_user_events');
    for (const [i, day] of DAYS.entries()) await writeBronze(bronze, day, EVENTS, i * EVENTS);
    const db = await freshDatabase(`models_${name}`);
    const l = { dataDir, db, pool: new PostgresPool(db.url, { max: 2 }) };
    lanes.push(l);
    return l;
  }

  const run = (l: Lane, day: string, opts: { project?: string; postgres?: PgConnector } = {}) =>
    runModels({
      project: opts.project ?? 'clickstream',
      dataDir: l.dataDir,
      postgres: opts.postgres ?? l.pool,
      clock: clock(),
      partition: `event_date=${day}`,
    });

  const ok = (r: ModelsRunResult) =>
    assert.ok(r.ok, JSON.stringify(r.models.map((m) => [m.model, m.status, m.error])));

  /** Every model table (our reader) and every gold.* table (PostgreSQL), as text. */
  async function state(l: Lane): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const m of MODELS) out[`delta:${m}`] = JSON.stringify(await tableRows(l.dataDir, m));
    const client = new pg.Client({ connectionString: l.db.url });
    await client.connect();
    try {
      for (const [t, key] of Object.entries(GOLD)) {
        const { rows } = await client.query(`SELECT * FROM gold.${t} ORDER BY ${key}`);
        out[`postgres:${t}`] = JSON.stringify(rows);
      }
    } finally {
      await client.end();
    }
    return out;
  }

  before(async () => {
    clean = await lane('clean');
    for (const day of DAYS) ok(await run(clean, day));
  });

  after(async () => {
    for (const l of lanes) {
      await l.pool.end();
      await l.db.drop();
    }
    tmp.cleanup();
  });

  test('the clean run: every day in every table; PostgreSQL mirrors gold; delta-rs reads silver', async (t) => {
    const s = await state(clean);
    const dau = JSON.parse(s['delta:daily_active_users']);
    assert.deepEqual(
      dau.map((r: Record<string, unknown>) => r.event_date),
      DAYS,
    );
    assert.equal(JSON.parse(s['postgres:daily_active_users']).length, 2);
    const pgDau = JSON.parse(s['postgres:daily_active_users']) as Array<Record<string, unknown>>;
    assert.deepEqual(
      pgDau.map((r) => Number(r.dau_count)),
      dau.map((r: Record<string, unknown>) => Number(r.dau_count)),
    );
    const silver = JSON.parse(s['delta:silver_user_events']) as unknown[];
    // Every 200th record re-sends the event before it.
    assert.equal(silver.length, DAYS.length * (EVENTS - EVENTS / 200));
    const skipRs = pythonSkip();
    if (skipRs) return t.skip(skipRs);
    const rs = await deltaRsRead(join(clean.dataDir, 'tables', 'purchases_per_page_daily'));
    const ours = await tableRows(clean.dataDir, 'purchases_per_page_daily');
    assert.deepEqual(
      rs.rows.map((r) => `${r.event_date}|${r.page}|${r.purchase_count}`).sort(),
      ours.map((r) => `${r.event_date}|${r.page}|${r.purchase_count}`).sort(),
    );
  });

  test('re-running each day, twice and out of order', async () => {
    const l = await lane('rerun');
    for (const day of [...DAYS, DAYS[1], DAYS[0], DAYS[1]]) ok(await run(l, day));
    assert.deepEqual(await state(l), await state(clean));
  });

  test('a run that fails in the middle, then retried', async () => {
    const l = await lane('middle');
    ok(await run(l, DAYS[0]));
    const broken = join(tmp.dir, 'broken-project');
    cpSync(join(BUILTIN_PROJECTS_DIR, 'clickstream'), broken, { recursive: true });
    const file = join(broken, 'models', 'gold', 'conversion_rate_daily.sql');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('d.dau_count AS', "d.dau_count / error('injected') AS"),
    );
    const failed = await run(l, DAYS[1], { project: broken });
    assert.equal(failed.ok, false);
    assert.deepEqual(Object.fromEntries(failed.models.map((m) => [m.model, m.status])), {
      silver_user_events: 'success',
      daily_active_users: 'success',
      conversion_rate_daily: 'failed',
      events_per_source_daily: 'success',
      purchases_per_page_daily: 'success',
    });
    assert.notDeepEqual(await state(l), await state(clean), 'the failed run left day 2 half done');
    ok(await run(l, DAYS[1]));
    assert.deepEqual(await state(l), await state(clean));
  });

  test('an export whose COMMIT lands but whose answer is lost, then retried', async () => {
    const l = await lane('lost-commit');
    ok(await run(l, DAYS[0]));
    const faulty = new LostCommit(l.pool);
    faulty.armed = true;
    const failed = await run(l, DAYS[1], { postgres: faulty });
    assert.equal(faulty.fired, 1);
    assert.equal(failed.ok, false);
    const dau = failed.models.find((m) => m.model === 'daily_active_users')!;
    assert.equal(dau.status, 'failed');
    assert.match(dau.error!, /injected|reset|PostgreSQL/i);
    assert.equal(failed.models.find((m) => m.model === 'conversion_rate_daily')!.status, 'skipped');
    ok(await run(l, DAYS[1]));
    assert.deepEqual(await state(l), await state(clean));
  });
});
