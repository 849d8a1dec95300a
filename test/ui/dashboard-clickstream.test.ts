/**
 * The clickstream page (seed 002) in Chromium, over a lake made in this process by the
 * real clickstream pipeline (bronze Delta table, realtime.* in the embedded PostgreSQL)
 * and the batch layer's models (silver, gold): the seed's panels show numbers equal to a
 * plain-JavaScript recomputation from the bronze table as delta-rs reads it, the charts
 * hold and draw those numbers, the dead-letter panels count the records of
 * user-events.dlq, the live panels read the pipeline, and new events change the page
 * without a reload.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts';
import {
  type ClickstreamLake,
  clickstreamLake,
  clickstreamTruth,
} from '../server/dashboard-clickstream-fixture.ts';
import { dlqTruth } from '../server/dashboard-fixture.ts';
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

describe('the clickstream page in Chromium', { skip: browserSkip }, () => {
  let lake: ClickstreamLake;
  let reader: EmbeddedLog;
  let session: DashboardSession;
  let server: Running;
  let browser: Browser;
  let token: string;

  before(async () => {
    lake = await clickstreamLake();
    // Spread over a couple of seconds; the generator's late events reach back minutes.
    await lake.add(4_000, 21, 2_000);
    reader = new EmbeddedLog({ dir: join(lake.dataDir, 'log') });
    session = await dashboardSession({
      dataDir: lake.dataDir,
      log: reader,
      pipelines: () => [{ name: 'clickstream', metrics: lake.pipeline.metrics }],
    });
    ({ server, browser, token } = session);
  });

  after(async () => {
    await session?.stop();
    await reader?.close();
    await lake?.close();
  });

  const open = async () => {
    const opened = await signedInPage(browser, `${server.url}/ui/`, token);
    // The pipeline running here is the clickstream one: its page is the one opened.
    await opened.page.waitForSelector('main[data-loaded] [data-panel="batch_day"] .stat');
    assert.match(opened.page.url(), /#\/dash\/clickstream$/);
    return opened;
  };

  test('the numbers shown equal a recomputation from bronze, and the DLQ topic’s records', async () => {
    const truth = await clickstreamTruth(lake.dataDir);
    const dlq = await dlqTruth(reader, 'user-events.dlq');
    const { context, page } = await open();
    try {
      assert.deepEqual(await versionsShown(page), truth.versions);
      const [day, dau, conversion, purchases, events] = truth.day;
      assert.ok(dau > 100 && purchases > 0 && events > 3_000, `a day with data (${truth.day})`);
      assert.equal(await statValue(page, 'batch_day', 'day'), day);
      assert.equal(await statValue(page, 'batch_day', 'daily_active_users'), String(dau));
      assert.equal(await statValue(page, 'batch_day', 'conversion_rate'), String(conversion));
      assert.equal(
        await page.textContent('[data-panel="batch_day"] .stat[data-column="conversion_rate"] .stat-value'),
        `${(conversion * 100).toFixed(2)} %`,
      );
      assert.equal(await statValue(page, 'batch_day', 'total_purchases'), String(purchases));
      assert.equal(await statValue(page, 'batch_day', 'total_events'), String(events));
      assert.deepEqual(await barsOf(page, 'top_pages'), truth.topPages);

      assert.ok(dlq.total > 0, 'the generator sends malformed and late events');
      assert.equal(await statValue(page, 'dlq_total', 'records'), String(dlq.total));
      assert.deepEqual(new Map(await barsOf(page, 'dlq_by_reason')), dlq.byReason);
      // The pipeline runs in the server's process: its live numbers are on the page.
      assert.equal(
        await statValue(page, 'pipeline_now', 'dlq_written'),
        String(lake.pipeline.metrics.dlqWritten),
      );
      assert.equal(await page.getAttribute('[data-panel="lag"]', 'data-state'), 'ok');
    } finally {
      await context.close();
    }
  });

  test('the event stream and the logins per source are drawn with the per-minute counts', async () => {
    const truth = await clickstreamTruth(lake.dataDir);
    const { context, page } = await open();
    try {
      for (const [panel, rows] of [
        ['event_stream', truth.eventStream],
        ['logins_per_source', truth.logins],
      ] as const) {
        const chart = await chartOf(page, panel);
        const want = wideOf(rows);
        assert.deepEqual(chart.series, want.series, panel);
        assert.deepEqual(chart.data, want.data, panel);
        assert.ok(chart.line > 50, `${panel}: the first line is drawn (${chart.line} pixels of its colour)`);
        assert.ok(chart.painted > chart.line, `${panel}: axes and grid are drawn too`);
      }
      assert.deepEqual((await chartOf(page, 'event_stream')).series, [
        'click',
        'login',
        'logout',
        'purchase',
      ]);
      assert.deepEqual((await chartOf(page, 'logins_per_source')).series, ['mobile', 'web']);
    } finally {
      await context.close();
    }
  });

  test('new events change the page without a reload', async () => {
    const { context, page } = await open();
    try {
      await markPage(page);
      const before = await statValue(page, 'batch_day', 'total_events');
      await lake.add(1_500, 22);
      const truth = await clickstreamTruth(lake.dataDir);
      assert.notEqual(String(truth.day[4]), before);
      // Pushed by the server: the page never asks again.
      await page.waitForSelector(
        `[data-panel="batch_day"] .stat[data-column="total_events"][data-value="${truth.day[4]}"]`,
      );
      assert.equal(await statValue(page, 'batch_day', 'daily_active_users'), String(truth.day[1]));
      assert.deepEqual(await versionsReached(page, truth.versions), truth.versions);
      assert.ok(await stillSamePage(page), 'the same page, not a reload');
    } finally {
      await context.close();
    }
  });

  test('each SQL panel’s query, run by a reader in the SQL sandbox, gives the panel’s rows', async () => {
    assert.equal(await assertSqlPanelsRerun(server.url, token, 'clickstream'), 4);
  });
});
