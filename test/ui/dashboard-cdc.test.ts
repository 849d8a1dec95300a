/**
 * The food orders (CDC) page (seed 003) in Chromium, over a lake made by `tributary demo
 * cdc` run in this process (embedded PostgreSQL with its workload, the polling capture,
 * the cdc pipeline): its numbers equal a plain-JavaScript recomputation from the three
 * tables as delta-rs reads them, its charts hold those numbers, and a second run of the
 * demo shows its pipeline live and changes the page without a reload.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { type CdcLake, cdcLake, cdcTruth } from '../server/dashboard-cdc-fixture.ts';
import { assertSqlPanelsRerun } from '../server/dashboard-rerun.ts';
import type { Running } from '../server/helpers.ts';
import {
  barsOf,
  browserSkip,
  chartOf,
  markPage,
  signedInPage,
  statValue,
  stillSamePage,
  versionsReached,
  versionsShown,
  wideOf,
} from './browser.ts';
import { type DashboardSession, dashboardSession } from './session.ts';

describe('the CDC page in Chromium', { skip: browserSkip }, () => {
  let lake: CdcLake;
  let session: DashboardSession;
  let server: Running;
  let browser: Browser;
  let token: string;

  before(async () => {
    lake = await cdcLake();
    await lake.run(400, 400, 31);
    session = await dashboardSession({ dataDir: lake.dataDir, pipelines: lake.live });
    ({ server, browser, token } = session);
  });

  after(async () => {
    await session?.stop();
    await lake?.close();
  });

  const open = async () => {
    const opened = await signedInPage(browser, `${server.url}/ui/#/dash/cdc`, token);
    await opened.page.waitForSelector('main[data-loaded] [data-panel="totals"] .stat');
    return opened;
  };

  test('the numbers shown equal a recomputation from delta-rs reads of food.*', async () => {
    const truth = await cdcTruth(lake.dataDir);
    const { context, page } = await open();
    try {
      assert.deepEqual(await versionsShown(page), truth.versions);
      // The menu lists the pages with tables here: this lake has only the CDC tables.
      const menu = await page.$$eval('#nav a', (links) => links.map((a) => a.textContent));
      assert.deepEqual(menu, ['Food orders (CDC)', 'Tables', 'SQL']);
      assert.ok(truth.totals.failed_changes > 0 && truth.delay.changes > 0, JSON.stringify(truth.totals));
      for (const [column, value] of Object.entries(truth.totals)) {
        assert.equal(await statValue(page, 'totals', column), String(value), column);
      }
      for (const [column, value] of Object.entries(truth.delay)) {
        assert.equal(await statValue(page, 'capture_delay', column), String(value), column);
      }
      assert.deepEqual(await barsOf(page, 'orders_by_status'), truth.byStatus);
      assert.deepEqual(await barsOf(page, 'failed_by_reason'), truth.byReason);
      const recent = await page.$$eval(
        '[data-panel="failed_recent"] table.data tbody tr td:nth-child(2)',
        (cells) => cells.map((c) => c.textContent),
      );
      assert.deepEqual(recent, truth.recentFailed);
      // No pipeline runs now: the live panels say so, and the page has no dead-letter panels.
      assert.equal(await page.getAttribute('[data-panel="pipeline_now"]', 'data-state'), 'note');
      assert.equal(await page.$('[data-panel^="dlq_"]'), null);

      const chart = await chartOf(page, 'changes_per_minute');
      const want = wideOf(truth.perMinute);
      assert.deepEqual(chart.series, ['failed', 'valid']);
      assert.deepEqual(chart.data, want.data);
      assert.ok(chart.painted > 0, 'the chart is drawn');
    } finally {
      await context.close();
    }
  });

  test('a second run shows its pipeline live and changes the numbers without a reload', async () => {
    const { context, page } = await open();
    try {
      await markPage(page);
      const before = await statValue(page, 'totals', 'changes');
      const running = lake.run(300, 60, 32);
      // While it runs, the pipeline's live numbers are on the page.
      await page.waitForSelector('[data-panel="pipeline_now"][data-state="ok"]');
      await running;
      const truth = await cdcTruth(lake.dataDir);
      assert.notEqual(String(truth.totals.changes), before);
      await page.waitForSelector(
        `[data-panel="totals"] .stat[data-column="changes"][data-value="${truth.totals.changes}"]`,
      );
      assert.equal(await statValue(page, 'totals', 'orders'), String(truth.totals.orders));
      assert.deepEqual(await versionsReached(page, truth.versions), truth.versions);
      assert.ok(await stillSamePage(page), 'the same page, not a reload');
    } finally {
      await context.close();
    }
  });

  test('each SQL panel’s query, run by a reader in the SQL sandbox, gives the panel’s rows', async () => {
    assert.equal(await assertSqlPanelsRerun(server.url, token, 'cdc'), 6);
  });
});
