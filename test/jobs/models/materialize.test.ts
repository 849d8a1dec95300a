/**
 * Materializations over real Delta tables and DuckDB: a full run builds every model
 * (checked against plain JavaScript over the source rows), a partition run recomputes
 * and replaces only that partition in one commit (the other partitions' files stay, and
 * the source's other partitions are not even opened: one of their files is deleted and
 * the run still works), a re-run of a day gives the same table (our reader and delta-rs),
 * a model that fails leaves its table as it was and skips its dependants, and every run
 * records the versions it read and wrote.
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../../src/core/clock.ts';
import { RUNS_TABLE } from '../../../src/jobs/models/history.ts';
import { runModels } from '../../../src/jobs/models/run.ts';
import { append } from '../../../src/table/index.ts';
import { deltaRsRead, pythonSkip } from '../../interop/helpers.ts';
import { openTable, sourceTable, tableRows, tempDir, writeProject } from './helpers.ts';

const CLOCK = () => new ManualClock(Date.UTC(2026, 11, 1, 2, 0, 0));
const DAYS = ['2026-11-28', '2026-11-29', '2026-11-30'];

type Sale = {
  id: number;
  day: string;
  shop: string;
  amount: number;
};

function sales(day: string, from: number, count: number): Sale[] {
  return Array.from({ length: count }, (_, i) => ({
    id: from + i,
    day,
    shop: ['north', 'south', 'east'][(from + i) % 3],
    amount: ((from + i) * 37) % 100,
  }));
}

const PROJECT = {
  // Cleaned sales: amounts of 0 dropped, the day as a DATE.
  'models/clean_sales.sql': `/*---
materialized: incremental
partition_by: day
---*/
SELECT id, CAST(day AS DATE) AS day, shop, amount, run_started_at() AS updated_at
FROM source('sales')
WHERE amount > 0
`,
  'models/daily_shop.sql': `/*---
materialized: incremental
partition_by: day
---*/
SELECT day, shop, count(*) AS sales, sum(amount) AS total
FROM ref('clean_sales')
GROUP BY day, shop
`,
  // A full rebuild every run: the best day per shop.
  'models/best_day.sql': `SELECT shop, arg_max(day, total) AS day, max(total) AS total
FROM ref('daily_shop')
GROUP BY shop
`,
};

/** The truth, in plain JavaScript. */
function expected(rows: Sale[]) {
  const clean = rows.filter((r) => r.amount > 0);
  const daily = new Map<string, { day: string; shop: string; sales: number; total: number }>();
  for (const r of clean) {
    const k = `${r.day}|${r.shop}`;
    const d = daily.get(k) ?? { day: r.day, shop: r.shop, sales: 0, total: 0 };
    d.sales++;
    d.total += r.amount;
    daily.set(k, d);
  }
  const best = new Map<string, { shop: string; day: string; total: number }>();
  for (const d of daily.values()) {
    const b = best.get(d.shop);
    if (!b || d.total > b.total) best.set(d.shop, { shop: d.shop, day: d.day, total: d.total });
  }
  const byKey = <T>(m: Iterable<T>, key: (x: T) => string) =>
    [...m].sort((a, b) => (key(a) < key(b) ? -1 : 1));
  return {
    clean: [...clean].sort((a, b) => a.id - b.id).map((r) => `${r.id}|${r.day}|${r.shop}|${r.amount}`),
    daily: byKey(daily.values(), (d) => `${d.day}|${d.shop}`).map(
      (d) => `${d.day}|${d.shop}|${d.sales}|${d.total}`,
    ),
    best: byKey(best.values(), (b) => b.shop).map((b) => `${b.shop}|${b.day}|${b.total}`),
  };
}

async function actual(dataDir: string) {
  const clean = (await tableRows(dataDir, 'clean_sales'))
    .sort((a, b) => Number(a.id) - Number(b.id))
    .map((r) => `${r.id}|${r.day}|${r.shop}|${r.amount}`);
  const daily = (await tableRows(dataDir, 'daily_shop')).map(
    (r) => `${r.day}|${r.shop}|${r.sales}|${r.total}`,
  );
  const best = (await tableRows(dataDir, 'best_day')).map((r) => `${r.shop}|${r.day}|${r.total}`);
  return { clean, daily, best };
}

const files = (dir: string) =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.parquet'))
    .sort();

describe('materializations', () => {
  const tmp = tempDir('models-materialize');
  after(() => tmp.cleanup());
  let dataDir: string;
  let project: string;
  let rows: Sale[];

  before(async () => {
    dataDir = join(tmp.dir, 'data');
    project = writeProject(join(tmp.dir, 'project'), PROJECT);
    rows = DAYS.flatMap((d, i) => sales(d, i * 100, 60));
    // The source is partitioned by day, as text (as the clickstream's bronze is).
    await sourceTable(dataDir, 'sales', { id: 'long', day: 'string', shop: 'string', amount: 'long' }, rows, [
      'day',
    ]);
  });

  test('a full run builds every model; one commit each; the run records what it read and wrote', async () => {
    const result = await runModels({ project, dataDir, clock: CLOCK() });
    assert.ok(result.ok, JSON.stringify(result.models.map((m) => m.error)));
    assert.deepEqual(
      result.models.map((m) => [m.model, m.status, m.mode, m.versionWritten]),
      [
        ['clean_sales', 'success', 'overwrite', 0],
        ['daily_shop', 'success', 'overwrite', 0],
        ['best_day', 'success', 'overwrite', 0],
      ],
    );
    assert.deepEqual(await actual(dataDir), expected(rows));
    assert.deepEqual(result.models[1].inputs, [{ table: 'clean_sales', version: 0 }]);
    const runs = (await tableRows(dataDir, RUNS_TABLE)).filter((r) => r.run_id === result.runId);
    assert.deepEqual(
      runs.map((r) => [r.model, r.status, r.version_written, JSON.parse(String(r.inputs))]).sort(),
      [
        ['best_day', 'success', '0', [{ table: 'daily_shop', version: 0 }]],
        ['clean_sales', 'success', '0', [{ table: 'sales', version: 0 }]],
        ['daily_shop', 'success', '0', [{ table: 'clean_sales', version: 0 }]],
      ],
    );
    // updated_at is the run's start by its clock, in every row.
    const stamps = new Set((await tableRows(dataDir, 'clean_sales')).map((r) => r.updated_at));
    assert.deepEqual([...stamps], ['2026-12-01 02:00:00+00']);
  });

  test('a partition run replaces that partition only, reading only its source files', async () => {
    const source = await openTable(dataDir, 'sales');
    // Day 29 changes in the source: a late batch of sales arrives.
    const late = sales('2026-11-29', 1000, 25);
    await append(source, { rows: late });
    rows.push(...late);
    const cleanDir = join(dataDir, 'tables', 'clean_sales');
    const before28 = files(cleanDir).filter((f) => f.includes('day=2026-11-28'));
    // Another day's source file vanishes: a run that opened it would fail.
    const gone = files(join(dataDir, 'tables', 'sales')).filter((f) => f.includes('day=2026-11-30'));
    assert.equal(gone.length, 1);
    rmSync(join(dataDir, 'tables', 'sales', gone[0]));

    const result = await runModels({
      project,
      dataDir,
      clock: CLOCK(),
      select: 'clean_sales+',
      partition: 'day=2026-11-29',
    });
    assert.ok(result.ok, JSON.stringify(result.models.map((m) => m.error)));
    assert.deepEqual(
      result.models.map((m) => [m.model, m.mode, m.versionWritten]),
      [
        ['clean_sales', 'replace-partitions', 1],
        ['daily_shop', 'replace-partitions', 1],
        // A table model is rebuilt whole, from the whole of its input.
        ['best_day', 'overwrite', 1],
      ],
    );
    assert.equal(
      result.models[0].rows,
      late.filter((r) => r.amount > 0).length +
        sales('2026-11-29', 100, 60).filter((r) => r.amount > 0).length,
    );
    assert.deepEqual(result.models[0].inputs, [{ table: 'sales', version: 1 }]);
    assert.deepEqual(
      files(cleanDir).filter((f) => f.includes('day=2026-11-28')),
      before28,
      'day 28 files untouched',
    );
    assert.deepEqual(await actual(dataDir), expected(rows));
    const history = await (await openTable(dataDir, 'clean_sales')).history({ limit: 1 });
    assert.equal(history[0].operation, 'WRITE');
    assert.match(String(history[0].operationParameters?.predicate), /day IN \('2026-11-29'\)/);

    // A full run would need the missing file.
    const full = await runModels({ project, dataDir, clock: CLOCK(), select: 'clean_sales' });
    assert.equal(full.ok, false);
    assert.match(full.models[0].error!, /missing/);
  });

  test('re-running a day gives the same table, as delta-rs reads it too', async (t) => {
    const first = await tableRows(dataDir, 'daily_shop');
    const again = await runModels({
      project,
      dataDir,
      clock: CLOCK(),
      select: 'clean_sales+',
      partition: 'day=2026-11-29',
    });
    assert.ok(again.ok);
    assert.equal(again.models[0].versionWritten, 2, 'a new commit');
    assert.deepEqual(await tableRows(dataDir, 'daily_shop'), first);
    assert.deepEqual(await actual(dataDir), expected(rows));
    const skip = pythonSkip();
    if (skip) return t.skip(skip);
    const rs = await deltaRsRead(join(dataDir, 'tables', 'daily_shop'));
    assert.equal(rs.version, again.models[1].versionWritten);
    assert.deepEqual(
      rs.rows.map((r) => `${r.day}|${r.shop}|${r.sales}|${r.total}`).sort(),
      expected(rows).daily,
    );
  });

  test('a model that fails leaves its table as before and skips its dependants', async () => {
    const broken = writeProject(join(tmp.dir, 'broken'), {
      ...PROJECT,
      'models/daily_shop.sql': PROJECT['models/daily_shop.sql'].replace(
        'sum(amount)',
        "sum(CASE WHEN amount > 0 THEN error('injected model failure') ELSE amount END)",
      ),
    });
    const before = await (await openTable(dataDir, 'daily_shop')).snapshot();
    const bestBefore = await (await openTable(dataDir, 'best_day')).snapshot();
    const result = await runModels({
      project: broken,
      dataDir,
      clock: CLOCK(),
      select: 'clean_sales+',
      partition: 'day=2026-11-29',
    });
    assert.equal(result.ok, false);
    assert.deepEqual(
      result.models.map((m) => [m.model, m.status]),
      [
        ['clean_sales', 'success'],
        ['daily_shop', 'failed'],
        ['best_day', 'skipped'],
      ],
    );
    assert.match(result.models[1].error!, /model daily_shop .*injected/);
    assert.equal(result.models[2].skippedBecause, 'daily_shop failed');
    assert.equal((await (await openTable(dataDir, 'daily_shop')).snapshot()).version, before.version);
    assert.equal((await (await openTable(dataDir, 'best_day')).snapshot()).version, bestBefore.version);
    assert.deepEqual(await actual(dataDir), expected(rows), 'the tables still hold the right rows');
    const runs = (await tableRows(dataDir, RUNS_TABLE)).filter((r) => r.run_id === result.runId);
    assert.deepEqual(runs.map((r) => r.status).sort(), ['failed', 'skipped', 'success']);
    assert.match(String(runs.find((r) => r.model === 'daily_shop')!.error), /injected/);
  });

  test('rows outside the partition of the run fail the model; nothing is committed', async () => {
    const leaky = writeProject(join(tmp.dir, 'leaky'), {
      'models/clean_sales.sql': PROJECT['models/clean_sales.sql'].replace(
        'CAST(day AS DATE) AS day',
        'CAST(day AS DATE) + INTERVAL 1 DAY AS day',
      ),
    });
    const before = await (await openTable(dataDir, 'clean_sales')).snapshot();
    const result = await runModels({ project: leaky, dataDir, clock: CLOCK(), partition: 'day=2026-11-29' });
    assert.equal(result.models[0].status, 'failed');
    assert.match(result.models[0].error!, /outside partition day=2026-11-29/);
    assert.equal((await (await openTable(dataDir, 'clean_sales')).snapshot()).version, before.version);
  });
});
