/**
 * The dashboard's fast paths give the answers of a plain full scan. A panel's query runs
 * over the server's open tables (a new version read from the commits since), with its
 * time windows restricting the files read by their statistics, and the dashboard answers
 * again only when a table has a new version. Each answer is compared with the same query
 * run the slow way: `{{newest}}` bounds replaced by -infinity (no row group skipped), no
 * window restriction, each table's log read afresh — after new commits, at an older
 * version (time travel), and after OPTIMIZE and VACUUM rewrote and deleted the files the
 * open tables had seen.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { jsonText, runQuery } from '../../src/query/index.ts';
import { generateOrders } from '../../src/scenarios/orders/generate.ts';
import type { PanelDef, SqlSource } from '../../src/server/dashboard/definition.ts';
import { ORDERS_DASHBOARD } from '../../src/server/dashboard/orders.ts';
import { pinVersions, runSqlPanel, tableVersions } from '../../src/server/dashboard/sql-panels.ts';
import { dashboardPlugin } from '../../src/server/plugins/dashboard.ts';
import { TableCache } from '../../src/server/tables/open.ts';
import { optimize, scan } from '../../src/table/index.ts';
import { parseJsonExact } from '../interop/helpers.ts';
import { type OrdersLake, ordersLake } from './dashboard-fixture.ts';
import { call, type Running, startServer } from './helpers.ts';

type SqlPanel = PanelDef & { source: SqlSource };
const SQL_PANELS = ORDERS_DASHBOARD.panels.filter((p): p is SqlPanel => p.source.type === 'sql');
const TABLES = ORDERS_DASHBOARD.tables;

/** The panel's query at `versions`, the slow way: every file, every row group, logs read afresh. */
async function fullScan(lake: OrdersLake, panel: SqlPanel, versions: Record<string, number | null>) {
  const counted = panel.source.sql.replace(/\{\{rows ([\w.]+)\}\}/g, '(SELECT count(*) FROM $1)');
  const sql = pinVersions(counted, versions).replace(/\{\{newest [\w.]+\}\}/g, "'-infinity'::TIMESTAMPTZ");
  const result = await runQuery(sql, { dataDir: lake.dataDir });
  return result.rows.map((row) => result.columns.map((c) => row[c.name]));
}

/** Every SQL panel through runSqlPanel (open tables, windows) equals its full scan. */
async function assertPanelsExact(
  lake: OrdersLake,
  tables: TableCache,
  versions: Record<string, number | null>,
  what: string,
) {
  for (const panel of SQL_PANELS) {
    const fast = await runSqlPanel(panel, versions, lake.dataDir, tables);
    assert.equal(fast.error, undefined, `${what}: ${panel.id} failed: ${JSON.stringify(fast.error)}`);
    const slow = await fullScan(lake, panel, versions);
    assert.ok(slow.length > 0, `${what}: ${panel.id} has rows`);
    assert.deepEqual(fast.rows, slow, `${what}: ${panel.id}`);
  }
}

describe('dashboard panels: open tables, time windows and answers per version equal a full scan', () => {
  let lake: OrdersLake;
  let server: Running;
  let token: string;
  // Event time moves 20 minutes per slice: the last hour holds the newest few commits only.
  const clock = new ManualClock(Date.parse('2026-03-01T08:00:00Z'));
  let seed = 1;
  async function addSlice(count: number) {
    await generateOrders({ log: lake.log, count, seed: seed++, clock, activeOrders: 300 });
    await lake.pipeline.run({ untilCaughtUp: true });
    clock.advance(20 * 60_000);
  }

  before(async () => {
    lake = await ordersLake();
    for (let i = 0; i < 6; i++) await addSlice(1500);
    server = await startServer({
      dataDir: lake.dataDir,
      plugins: [dashboardPlugin({ dataDir: lake.dataDir, sqlIntervalMs: 0, tickMs: 20 })],
    });
    token = await server.token('reader');
  });
  after(async () => {
    await server?.stop();
    await lake?.close();
  });

  /** The dashboard's SQL panels as GET /api/v1/dashboards/orders answers them, once it shows `versions`. */
  async function served(versions: Record<string, number | null>) {
    for (let i = 0; i < 200; i++) {
      const res = await call(server.url, '/api/v1/dashboards/orders', { token });
      assert.equal(res.status, 200);
      if (JSON.stringify(res.body.versions) === JSON.stringify(versions)) {
        // Each SQL panel's time, in the Server-Timing header.
        const timing = res.headers.get('server-timing') ?? '';
        for (const panel of SQL_PANELS)
          assert.match(timing, new RegExp(`\\b${panel.id};dur=\\d+(\\.\\d+)?\\b`));
        return res.body.panels.filter((p: { source: string }) => p.source === 'sql');
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`the dashboard never showed versions ${JSON.stringify(versions)}`);
  }

  async function assertServedExact(versions: Record<string, number | null>, what: string) {
    for (const p of await served(versions)) {
      const panel = SQL_PANELS.find((x) => x.id === p.id)!;
      assert.equal(p.error, undefined, `${what}: ${p.id}`);
      // The served JSON against the full scan's values written as the API writes them.
      const slow = await fullScan(lake, panel, versions);
      assert.deepEqual(p.rows, parseJsonExact(jsonText(slow)), `${what}: ${p.id}`);
    }
  }

  test('the windows read only the recent files of orders_events, and answer what the full scan does', async () => {
    const tables = new TableCache(lake.dataDir);
    const versions = await tableVersions(tables, TABLES);
    await assertPanelsExact(lake, tables, versions, 'after the first commits');
    // The last hour of event time spans the newest 3 or 4 of 6 slices: fewer files are read.
    const { table, snapshot } = await tables.snapshot('orders_events');
    const revenue = SQL_PANELS.find((p) => p.id === 'revenue_per_minute')!;
    const newest = snapshot
      .files()
      .map((f) => Date.parse(JSON.parse(f.stats!).maxValues.event_timestamp))
      .reduce((a, b) => Math.max(a, b));
    const from = new Date(newest - 1 - revenue.source.windows![0].minutes * 60_000).toISOString();
    const read = await scan(table, snapshot, {
      filter: [{ column: 'event_timestamp', op: '>=', value: from }],
    });
    assert.ok(
      read.length < snapshot.files().length,
      `${read.length} of ${snapshot.files().length} files read`,
    );
    assert.ok(read.length > 0);
    await assertServedExact(versions, 'served, after the first commits');
  });

  test('after new commits the open tables and the served answers follow the new versions', async () => {
    const tables = new TableCache(lake.dataDir);
    const before = await tableVersions(tables, TABLES);
    await served(before); // computed and kept for these versions
    await addSlice(1500);
    await addSlice(1500);
    const versions = await tableVersions(tables, TABLES);
    assert.ok(versions.orders_events! > before.orders_events!);
    await assertPanelsExact(lake, tables, versions, 'after new commits');
    await assertServedExact(versions, 'served, after new commits');
  });

  test('time travel: panels pinned to an older version read that version', async () => {
    const tables = new TableCache(lake.dataDir);
    const latest = await tableVersions(tables, TABLES);
    const older = { orders_events: latest.orders_events! - 3, orders_current: latest.orders_current! - 3 };
    await assertPanelsExact(lake, tables, older, 'at older versions');
    await assertPanelsExact(lake, tables, latest, 'back at the latest versions');
  });

  test('after OPTIMIZE and VACUUM (files rewritten and deleted) the open tables answer exactly', async () => {
    const tables = new TableCache(lake.dataDir);
    const seen = await tableVersions(tables, TABLES);
    await assertPanelsExact(lake, tables, seen, 'before OPTIMIZE');
    for (const name of TABLES) {
      const { table } = await tables.snapshot(name);
      await optimize(table, { targetFileSize: 64 * 1024 * 1024 });
      const deleted = await table.vacuum({ retentionMs: 0 });
      assert.ok(deleted.deleted.length > 0, `VACUUM deleted files of ${name}`);
    }
    const versions = await tableVersions(tables, TABLES);
    assert.ok(versions.orders_events! > seen.orders_events!);
    await assertPanelsExact(lake, tables, versions, 'after OPTIMIZE and VACUUM');
    await assertServedExact(versions, 'served, after OPTIMIZE and VACUUM');
    await addSlice(1500);
    const next = await tableVersions(tables, TABLES);
    await assertPanelsExact(lake, tables, next, 'a commit after VACUUM');
    await assertServedExact(next, 'served, a commit after VACUUM');
  });
});
