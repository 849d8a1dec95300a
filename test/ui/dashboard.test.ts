/**
 * The dashboard in a real browser: Debian's Chromium (TRIBUTARY_TEST_CHROMIUM, set by
 * `npm test` after scripts/provision/chromium.sh) driven by playwright-core. Over a lake
 * made by the real orders pipeline, the page must sign in with a token and refuse a wrong
 * one, show numbers equal to delta-rs reads of the same tables, draw its charts (pixels on
 * the canvas, uPlot's series and points), change its numbers without a reload when new
 * data lands, browse a table back in time, and run SQL through the sandbox, showing its
 * refusals.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts';
import { createToken } from '../../src/server/auth/token.ts';
import { dashboardPlugin } from '../../src/server/plugins/dashboard.ts';
import {
  dlqTruth,
  type OrdersLake,
  ordersLake,
  ordersTruth,
  readColumns,
} from '../server/dashboard-fixture.ts';
import { type Running, startServer } from '../server/helpers.ts';
import {
  barsOf,
  browserSkip,
  chartOf,
  markPage,
  signedInPage,
  statValue,
  stillSamePage,
  versionsShown,
} from './browser.ts';
import { type DashboardSession, dashboardSession } from './session.ts';

const INTEGER = new Intl.NumberFormat('en-US');

describe('the dashboard in Chromium', { skip: browserSkip }, () => {
  let lake: OrdersLake;
  let reader: EmbeddedLog;
  let session: DashboardSession;
  let server: Running;
  let browser: Browser;
  let token: string;

  before(async () => {
    lake = await ordersLake();
    // Spread over a few seconds, so the per-second chart has a line to draw.
    await lake.add(30_000, 11, 10_000);
    reader = new EmbeddedLog({ dir: join(lake.dataDir, 'log') });
    session = await dashboardSession({
      dataDir: lake.dataDir,
      log: reader,
      pipelines: () => [{ name: 'orders', metrics: lake.pipeline.metrics }],
    });
    ({ server, browser, token } = session);
  });

  after(async () => {
    await session?.stop();
    await reader?.close();
    await lake?.close();
  });

  /** A page whose tab already holds the reader's token (as after signing in). */
  const signedIn = (hash: string) => signedInPage(browser, `${server.url}/ui/${hash}`, token);

  async function dashboard(): Promise<{ context: BrowserContext; page: Page }> {
    const opened = await signedIn('#/dash/orders');
    await opened.page.waitForSelector('main[data-loaded] [data-panel="totals"] .stat');
    return opened;
  }

  test('signing in: a wrong token is refused with the server’s message, a valid one opens the dashboard', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(`${server.url}/ui/`);
      await page.waitForSelector('form.login');
      const other = await createToken({
        key: new TextEncoder().encode('another secret, also thirty-two bytes long'),
        role: 'reader',
        ttlSeconds: 600,
      });
      await page.fill('form.login textarea', other.token);
      await page.click('form.login button[type=submit]');
      const refusal = await page.waitForSelector('form.login .error');
      const text = await refusal.textContent();
      assert.match(text ?? '', /AUTH_TOKEN_INVALID/);
      assert.match(text ?? '', /signature/);
      assert.equal(await page.evaluate(() => sessionStorage.getItem('tributary.token')), null);
      assert.equal(await page.$('[data-panel]'), null, 'no dashboard behind a refused token');

      await page.fill('form.login textarea', token);
      await page.click('form.login button[type=submit]');
      await page.waitForSelector('main[data-loaded] [data-panel="totals"] .stat');
      assert.equal(await page.evaluate(() => sessionStorage.getItem('tributary.token')), token);
      // The tab keeps its sign-in across a reload.
      await page.reload();
      await page.waitForSelector('main[data-loaded] [data-panel="totals"] .stat');
      assert.equal(await page.$('form.login'), null);
    } finally {
      await context.close();
    }
  });

  test('a tab whose token has expired is sent to sign in, with the reason', async () => {
    const expired = await server.token('reader', {
      now: Math.floor(Date.now() / 1000) - 7200,
      ttlSeconds: 600,
    });
    const context = await browser.newContext();
    try {
      await context.addInitScript((t) => sessionStorage.setItem('tributary.token', t), expired);
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(`${server.url}/ui/#/dash/orders`);
      const reason = await page.waitForSelector('form.login .error');
      assert.match((await reason.textContent()) ?? '', /AUTH_TOKEN_INVALID.*expired/);
      assert.equal(await page.evaluate(() => sessionStorage.getItem('tributary.token')), null);
    } finally {
      await context.close();
    }
  });

  test('a server without authentication (--no-auth) opens the dashboard with no sign-in', async () => {
    const open = await startServer({
      dataDir: lake.dataDir,
      auth: { mode: 'none' },
      plugins: [dashboardPlugin({ dataDir: lake.dataDir })],
    });
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(`${open.url}/`);
      await page.waitForSelector('main[data-loaded] [data-panel="totals"] .stat');
      assert.equal(await page.$('form.login'), null);
      assert.equal(await page.isHidden('#signout'), true);
      assert.match(page.url(), /\/ui\/#\/dash\/orders$/);
    } finally {
      await context.close();
      await open.stop();
    }
  });

  test('the numbers shown equal delta-rs reads of the tables and the DLQ topic', async () => {
    const truth = await ordersTruth(lake.dataDir);
    const dlq = await dlqTruth(lake.log, 'orders.dlq');
    const { context, page } = await dashboard();
    try {
      assert.deepEqual(await versionsShown(page), truth.versions);
      for (const [column, value] of Object.entries(truth.totals)) {
        assert.equal(await statValue(page, 'totals', column), String(value), column);
        const shown = await page.textContent(
          `[data-panel="totals"] .stat[data-column="${column}"] .stat-value`,
        );
        assert.equal(shown, INTEGER.format(value), `${column} as shown`);
      }
      assert.deepEqual(await barsOf(page, 'orders_by_status'), truth.byStatus);
      assert.equal(await statValue(page, 'dlq_total', 'records'), String(dlq.total));
      assert.deepEqual(new Map(await barsOf(page, 'dlq_by_reason')), dlq.byReason);
      // The pipeline runs in the server's process: its live numbers are on the page.
      assert.equal(
        await statValue(page, 'pipeline_now', 'dlq_written'),
        String(lake.pipeline.metrics.dlqWritten),
      );
      assert.equal(
        await statValue(page, 'pipeline_now', 'latency_p99_ms'),
        String(Math.round(lake.pipeline.metrics.ingestLatencyMs.quantile(0.99))),
      );
    } finally {
      await context.close();
    }
  });

  test('the charts are drawn with the data of the SQL answers', async () => {
    const truth = await ordersTruth(lake.dataDir);
    const { context, page } = await dashboard();
    try {
      const chart = (id: string) => chartOf(page, id);

      const perSecond = await chart('events_per_second');
      assert.deepEqual(perSecond.series, ['events']);
      assert.deepEqual(perSecond.data, [
        truth.eventsPerSecond.map((r) => r[0]),
        truth.eventsPerSecond.map((r) => r[1]),
      ]);
      assert.ok(perSecond.data[0].length >= 3, 'arrivals spread over seconds');
      assert.ok(perSecond.line > 100, `the line is drawn (${perSecond.line} pixels of its colour)`);
      assert.ok(perSecond.painted > perSecond.line, 'axes and grid are drawn too');

      const revenue = await chart('revenue_per_minute');
      const currencies = [...new Set(truth.revenuePerMinute.map((r) => r[1]))].sort();
      assert.deepEqual(revenue.series, currencies);
      const minutes = [...new Set(truth.revenuePerMinute.map((r) => r[0]))];
      assert.deepEqual(revenue.data[0], minutes);
      for (const [i, currency] of currencies.entries()) {
        const expected = minutes.map((t) => {
          const row = truth.revenuePerMinute.find((r) => r[0] === t && r[1] === currency);
          return row === undefined ? 0 : Number(row[2]);
        });
        assert.deepEqual(revenue.data[i + 1], expected, currency);
      }
      assert.ok(revenue.line > 0, 'the first currency is drawn');

      const latency = await chart('latency');
      assert.deepEqual(latency.series, ['p50_ms', 'p99_ms']);
      assert.ok(latency.data[0].length >= 1);
    } finally {
      await context.close();
    }
  });

  test('new data changes the numbers without a reload', async () => {
    const { context, page } = await dashboard();
    try {
      await markPage(page);
      const before = await statValue(page, 'totals', 'events');
      await lake.add(5_000, 12);
      const truth = await ordersTruth(lake.dataDir);
      assert.notEqual(String(truth.totals.events), before);
      // Pushed by the server: the page never asks again.
      await page.waitForSelector(
        `[data-panel="totals"] .stat[data-column="events"][data-value="${truth.totals.events}"]`,
      );
      assert.equal(await statValue(page, 'totals', 'orders'), String(truth.totals.orders));
      assert.ok(await stillSamePage(page), 'the same page, not a reload');
      const version = await page.getAttribute(
        '.versions .version[data-table="orders_events"]',
        'data-version',
      );
      assert.equal(Number(version), truth.versions.orders_events);
    } finally {
      await context.close();
    }
  });

  test('the table browser shows a table as it was at an earlier version', async () => {
    const v0 = await readColumns(lake.dataDir, 'orders_current', ['order_id'], 0);
    const latest = await readColumns(lake.dataDir, 'orders_current', ['order_id']);
    assert.notEqual(v0.columns.order_id.length, latest.columns.order_id.length);
    const { context, page } = await signedIn('#/tables/orders_current?version=0');
    try {
      const summary = await page.waitForSelector('.summary[data-version="0"]');
      assert.match((await summary.textContent()) ?? '', new RegExp(`${v0.columns.order_id.length} rows`));
      await page.waitForSelector('.rows h2');
      assert.equal(await page.textContent('.rows h2'), 'Rows at version 0');
      const shown = await page.$$eval('.rows table.data tbody tr', (rows) => rows.length);
      assert.equal(shown, 50);
      const ids = await page.$$eval('.rows table.data tbody tr td:first-child', (cells) =>
        cells.map((c) => c.textContent),
      );
      const atV0 = new Set(v0.columns.order_id as string[]);
      assert.ok(
        ids.every((id) => atV0.has(id!)),
        'every row shown was in the table at version 0',
      );
      // The history links to each version; the latest is marked.
      await page.click(`.table-view table.data a[href$="version=${latest.version}"]`);
      await page.waitForSelector(`.summary[data-version="${latest.version}"]`);
      assert.match(
        (await page.textContent('.summary')) ?? '',
        new RegExp(`\\(latest\\).*${latest.columns.order_id.length} rows`),
      );
    } finally {
      await context.close();
    }
  });

  test('the SQL page runs a query through the sandbox and shows its refusals', async () => {
    const truth = await ordersTruth(lake.dataDir);
    const { context, page } = await signedIn('#/sql');
    try {
      await page.fill(
        'form.sql textarea',
        'SELECT status, count(*) AS orders FROM orders_current GROUP BY status ORDER BY orders DESC, status',
      );
      await page.click('form.sql button[type=submit]');
      await page.waitForSelector('.sql-result table.data');
      const rows = await page.$$eval('.sql-result table.data tbody tr', (trs) =>
        trs.map((tr) => [tr.children[0].textContent, Number(tr.children[1].textContent)]),
      );
      assert.deepEqual(rows, truth.byStatus);

      await page.fill('form.sql textarea', "SELECT * FROM read_text('/etc/passwd')");
      await page.click('form.sql button[type=submit]');
      const refusal = await page.waitForSelector('.sql-result .error');
      const text = (await refusal.textContent()) ?? '';
      assert.match(text, /^QUERY_REFUSED /);
      assert.match(text, /read_text/);
      assert.doesNotMatch(text, /root:/);
    } finally {
      await context.close();
    }
  });
});
