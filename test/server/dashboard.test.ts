/**
 * The dashboard's API through real HTTP: each orders panel's numbers equal the truth
 * computed from delta-rs reads of the same table versions (test/server/dashboard-fixture.ts),
 * the dead-letter panels equal the DLQ topic's records, the live panels the running
 * pipeline's counters; the stream pushes new numbers after new data lands; the page's
 * files are public and everything else needs a token. The page itself, in Chromium:
 * test/ui/dashboard.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts';
import { closeSandbox, runSandboxedQuery } from '../../src/query/sandbox.ts';
import { dashboardPlugin } from '../../src/server/plugins/dashboard.ts';
import { UI_CSP } from '../../src/server/plugins/dashboard-assets.ts';
import { pythonSkip } from '../interop/helpers.ts';
import { dlqTruth, type OrdersLake, ordersLake, ordersTruth } from './dashboard-fixture.ts';
import { assertSqlPanelsRerun } from './dashboard-rerun.ts';
import { call, type Running, startServer, tempDir } from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: panels as the server answers them
type Panel = any;

const panelOf = (body: { panels: Panel[] }, id: string): Panel => {
  const panel = body.panels.find((p) => p.id === id);
  assert.ok(panel, `no panel ${id}`);
  return panel;
};

/** Server-sent events of a stream, parsed as they arrive. */
async function* events(url: string, token: string, signal: AbortSignal) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body!) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      const event = /^event: (.*)$/m.exec(frame)?.[1];
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (event !== undefined && data !== undefined) yield { event, data: JSON.parse(data) };
    }
  }
}

describe('the dashboard API', { skip: pythonSkip() }, () => {
  let lake: OrdersLake;
  let reader: EmbeddedLog;
  let server: Running;
  let token: string;

  before(async () => {
    lake = await ordersLake();
    // More than the generator's 10,000 open orders, so orders get paid, shipped, returned.
    await lake.add(30_000, 7);
    // The server reads the log as `tributary serve` does: an instance of its own.
    reader = new EmbeddedLog({ dir: join(lake.dataDir, 'log') });
    server = await startServer({
      dataDir: lake.dataDir,
      sql: (req) => runSandboxedQuery(req),
      plugins: [
        dashboardPlugin({
          dataDir: lake.dataDir,
          log: reader,
          pipelines: () => [{ name: 'orders', metrics: lake.pipeline.metrics }],
          sqlIntervalMs: 0,
          tickMs: 100,
        }),
      ],
    });
    token = await server.token('reader');
  });

  after(async () => {
    await server?.stop();
    closeSandbox();
    await reader?.close();
    await lake?.close();
  });

  test('the SQL panels show what delta-rs reads in the same versions', async () => {
    const truth = await ordersTruth(lake.dataDir);
    const res = await call(server.url, '/api/v1/dashboards/orders', { token });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.versions, truth.versions);
    const totals = panelOf(res.body, 'totals');
    assert.deepEqual(
      totals.columns.map((c: { name: string }) => c.name),
      ['orders', 'open_orders', 'events'],
    );
    assert.deepEqual(totals.rows, [[truth.totals.orders, truth.totals.open_orders, truth.totals.events]]);
    assert.deepEqual(panelOf(res.body, 'orders_by_status').rows, truth.byStatus);
    assert.deepEqual(panelOf(res.body, 'events_per_second').rows, truth.eventsPerSecond);
    const revenue = panelOf(res.body, 'revenue_per_minute');
    assert.ok(truth.revenuePerMinute.length > 0, 'some orders were paid');
    assert.deepEqual(revenue.rows, truth.revenuePerMinute);
    // Each SQL panel names the versions it read, so its query can be run again as it was.
    assert.match(
      totals.sql,
      new RegExp(`FROM orders_current VERSION AS OF ${truth.versions.orders_current}\\b`),
    );
    // The events are counted from orders_events' file statistics: a literal in the query.
    assert.match(totals.sql, new RegExp(`CAST\\(${truth.totals.events} AS BIGINT\\) AS events`));
  });

  test('each SQL panel’s query, run by a reader through POST /api/v1/sql, gives the panel’s rows', async () => {
    assert.ok((await assertSqlPanelsRerun(server.url, token, 'orders')) >= 4);
  });

  test('the dead-letter panels count the records of orders.dlq', async () => {
    const truth = await dlqTruth(lake.log, 'orders.dlq');
    assert.ok(truth.total > 0, 'the generator sends malformed records');
    assert.equal(truth.total, lake.pipeline.metrics.dlqWritten);
    const res = await call(server.url, '/api/v1/dashboards/orders', { token });
    assert.deepEqual(panelOf(res.body, 'dlq_total').rows, [[truth.total]]);
    const byReason = panelOf(res.body, 'dlq_by_reason').rows as Array<[string, number]>;
    assert.deepEqual(new Map(byReason), truth.byReason);
    const counts = byReason.map((r) => r[1]);
    assert.deepEqual(
      counts,
      [...counts].sort((a, b) => b - a),
      'most first',
    );
    const recent = panelOf(res.body, 'dlq_recent');
    assert.equal(recent.rows.length, Math.min(10, truth.total));
  });

  test('the live panels read the pipeline running in the process', async () => {
    const res = await call(server.url, '/api/v1/dashboards/orders', { token });
    assert.equal(res.body.live, true);
    const m = lake.pipeline.metrics;
    const now = panelOf(res.body, 'pipeline_now');
    assert.deepEqual(
      now.columns.map((c: { name: string }) => c.name),
      ['events_per_second', 'lag', 'latency_p50_ms', 'latency_p99_ms', 'dlq_written'],
    );
    const [rate, lag, p50, p99, dlq] = now.rows[0];
    assert.ok(rate >= 0);
    assert.equal(lag, m.totalLag());
    assert.equal(p50, Math.round(m.ingestLatencyMs.quantile(0.5)));
    assert.equal(p99, Math.round(m.ingestLatencyMs.quantile(0.99)));
    assert.ok(p99 >= p50 && p50 > 0);
    assert.equal(dlq, m.dlqWritten);
    assert.deepEqual(
      panelOf(res.body, 'lag').rows,
      [...m.lag].sort((a, b) => a[0] - b[0]).map(([p, n]) => [`p${p}`, n]),
    );
    assert.ok(panelOf(res.body, 'latency').rows.length >= 1);
  });

  test('the stream sends the dashboard, then the panels that changed when data lands', async () => {
    const abort = new AbortController();
    const stream = events(`${server.url}/api/v1/dashboards/orders/stream`, token, abort.signal);
    try {
      const first = await stream.next();
      assert.equal(first.value?.event, 'dashboard');
      const before = first.value!.data;
      await lake.add(5_000, 8);
      const truth = await ordersTruth(lake.dataDir);
      assert.notDeepEqual(truth.versions, before.versions);
      // Panels events until one carries the new versions' totals (live panels change every tick).
      for (;;) {
        const next = await stream.next();
        assert.equal(next.done, false, 'the stream ended');
        assert.equal(next.value!.event, 'panels');
        const totals = next.value!.data.panels.find((p: Panel) => p.id === 'totals');
        if (totals === undefined) continue;
        if (JSON.stringify(next.value!.data.versions) !== JSON.stringify(truth.versions)) continue;
        assert.deepEqual(totals.rows, [[truth.totals.orders, truth.totals.open_orders, truth.totals.events]]);
        break;
      }
    } finally {
      abort.abort();
      await stream.return(undefined).catch(() => {});
    }
  });

  test('the API needs a reader token; the page is public and allows only its own scripts', async () => {
    for (const path of [
      '/api/v1/dashboards',
      '/api/v1/dashboards/orders',
      '/api/v1/dashboards/orders/stream',
    ]) {
      const res = await call(server.url, path);
      assert.equal(res.status, 401, path);
      assert.equal(res.body.code, 'AUTH_REQUIRED');
    }
    const list = await call(server.url, '/api/v1/dashboards', { token });
    // Every scenario's page; those with tables here (or their pipeline running) are available.
    assert.deepEqual(
      list.body.dashboards.map((d: { name: string; available: boolean; live: boolean }) => [
        d.name,
        d.available,
        d.live,
      ]),
      [
        ['orders', true, true],
        ['saas', false, false],
        ['clickstream', false, false],
        ['cdc', false, false],
      ],
    );
    const missing = await call(server.url, '/api/v1/dashboards/nope', { token });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'HTTP_NOT_FOUND');

    const root = await fetch(`${server.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/ui/');
    const page = await fetch(`${server.url}/ui/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(page.headers.get('content-security-policy'), UI_CSP);
    assert.match(await page.text(), /<script type="module" src="app.js">/);
    const uplot = await fetch(`${server.url}/ui/vendor/uPlot.iife.min.js`, {
      headers: { 'accept-encoding': 'gzip' },
    });
    assert.equal(uplot.status, 200);
    assert.match(uplot.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(await uplot.text(), /uPlot/);
    const again = await fetch(`${server.url}/ui/vendor/uPlot.iife.min.js`, {
      headers: { 'if-none-match': uplot.headers.get('etag')! },
    });
    assert.equal(again.status, 304);
    const none = await call(server.url, '/ui/../package.json');
    assert.equal(none.status, 404);
  });
});

describe('the dashboard over a new lake', () => {
  test('panels say the tables and the pipeline are not there yet, without failing', async () => {
    const dataDir = tempDir('empty');
    const server = await startServer({ dataDir, plugins: [dashboardPlugin({ dataDir })] });
    try {
      const res = await call(server.url, '/api/v1/dashboards/orders', {
        token: await server.token('reader'),
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body.versions, { orders_events: null, orders_current: null });
      assert.equal(res.body.live, false);
      for (const panel of res.body.panels) {
        assert.equal(panel.error, undefined, `${panel.id}: ${JSON.stringify(panel.error)}`);
        assert.equal(typeof panel.note, 'string', panel.id);
      }
      assert.match(panelOf(res.body, 'totals').note, /the table orders_(current|events) does not exist yet/);
      assert.match(panelOf(res.body, 'dlq_total').note, /does not read the event log/);
      assert.match(panelOf(res.body, 'pipeline_now').note, /does not run in this server/);
    } finally {
      await server.stop();
    }
  });

  test('stopping the server ends the streams open on it', { timeout: 20_000 }, async () => {
    const dataDir = tempDir('stop');
    // A stop waits for requests under way up to this limit: a stream left open would hold it that long.
    const server = await startServer({
      dataDir,
      limits: { requestTimeoutMs: 120_000 },
      plugins: [dashboardPlugin({ dataDir, tickMs: 100 })],
    });
    const stream = events(
      `${server.url}/api/v1/dashboards/orders/stream`,
      await server.token('reader'),
      new AbortController().signal,
    );
    assert.equal((await stream.next()).value?.event, 'dashboard');
    await server.stop();
    assert.equal((await stream.next()).done, true, 'the stream ended');
  });
});
