/**
 * The sales page (seed 004) over a lake made by `tributary demo saas`: its panels equal
 * what delta-rs reads from the same table versions, worked out here in plain JavaScript,
 * and its dead-letter panels the records of sales.events.dlq.v1.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts';
import { dashboardPlugin } from '../../src/server/plugins/dashboard.ts';
import { pythonSkip, tributary } from '../interop/helpers.ts';
import { dlqTruth, readColumns } from './dashboard-fixture.ts';
import { call, type Running, startServer, tempDir } from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: panels as the server answers them
type Panel = any;

function cents(text: string): bigint {
  const negative = text.startsWith('-');
  const [whole, frac = ''] = text.replace('-', '').split('.');
  const c = BigInt(whole) * 100n + BigInt(frac.padEnd(2, '0'));
  return negative ? -c : c;
}

function money(c: bigint): string {
  const abs = c < 0n ? -c : c;
  return `${c < 0n ? '-' : ''}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

describe('the sales dashboard', { skip: pythonSkip() }, () => {
  const dataDir = tempDir('saas');
  let reader: EmbeddedLog;
  let server: Running;
  let body: { versions: Record<string, number>; panels: Panel[] };

  before(async () => {
    // The embedded log and registry, whatever the environment names.
    const demo = await tributary(
      [
        'demo',
        'saas',
        '--events',
        '12000',
        '--rate',
        '6000',
        '--seed',
        '5',
        '--registry-port',
        '0',
        '--data-dir',
        dataDir,
      ],
      { env: { TRIBUTARY_KAFKA: undefined, TRIBUTARY_REGISTRY: undefined } },
    );
    assert.equal(demo.code, 0, demo.stderr);
    reader = new EmbeddedLog({ dir: join(dataDir, 'log') });
    server = await startServer({ dataDir, plugins: [dashboardPlugin({ dataDir, log: reader })] });
    const res = await call(server.url, '/api/v1/dashboards/saas', { token: await server.token('reader') });
    assert.equal(res.status, 200, res.text);
    body = res.body;
  });

  after(async () => {
    await server?.stop();
    await reader?.close();
  });

  const panel = (id: string): Panel => body.panels.find((p) => p.id === id);

  test('events, late events, their share and windows equal delta-rs counts', async () => {
    const silver = await readColumns(dataDir, 'sales_silver', ['event_id']);
    const late = await readColumns(dataDir, 'sales_late_events', ['event_id']);
    const gold = await readColumns(dataDir, 'sales_revenue_5m', ['window_start']);
    assert.deepEqual(body.versions, {
      sales_silver: silver.version,
      sales_late_events: late.version,
      sales_revenue_5m: gold.version,
    });
    const events = silver.columns.event_id.length;
    const lateEvents = late.columns.event_id.length;
    assert.ok(events > 0 && lateEvents > 0);
    const [row] = panel('totals').rows;
    assert.deepEqual(row, [events, lateEvents, lateEvents / events, new Set(gold.columns.window_start).size]);
  });

  test('revenue per window by tier and by region (USD), and the newest window, equal delta-rs sums', async () => {
    const cols = ['window_start', 'plan_tier', 'region', 'currency', 'revenue', 'events'];
    const gold = await readColumns(dataDir, 'sales_revenue_5m', cols);
    const n = gold.columns.window_start.length;
    assert.ok(n > 0, 'the demo closed some windows');
    const rows = Array.from({ length: n }, (_, i) =>
      Object.fromEntries(cols.map((c) => [c, gold.columns[c][i]])),
    );
    const newest = Math.max(...rows.map((r) => r.window_start as number));
    for (const [id, by] of [
      ['revenue_by_tier', 'plan_tier'],
      ['revenue_by_region', 'region'],
    ] as const) {
      const sums = new Map<string, bigint>();
      for (const r of rows) {
        if (r.currency !== 'USD' || (r.window_start as number) <= newest - 24 * 3600e6) continue;
        const key = JSON.stringify([(r.window_start as number) / 1e6, r[by]]);
        sums.set(key, (sums.get(key) ?? 0n) + cents(r.revenue as string));
      }
      const expected = [...sums]
        .map(([k, c]) => [...JSON.parse(k), money(c)])
        .sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
      assert.deepEqual(panel(id).rows, expected, id);
    }
    const latest = rows.filter((r) => r.window_start === newest);
    const shown = panel('newest_window').rows as unknown[][];
    assert.equal(shown.length, latest.length);
    const key = (tier: unknown, region: unknown, currency: unknown) => `${tier}/${region}/${currency}`;
    const want = new Map(latest.map((r) => [key(r.plan_tier, r.region, r.currency), [r.revenue, r.events]]));
    for (const r of shown) assert.deepEqual([r[4], r[7]], want.get(key(r[1], r[2], r[3])));
  });

  test('the dead letters by reason are the records of sales.events.dlq.v1', async () => {
    const log = new EmbeddedLog({ dir: join(dataDir, 'log') });
    try {
      const truth = await dlqTruth(log, 'sales.events.dlq.v1');
      assert.ok(truth.total > 0);
      assert.deepEqual(panel('dlq_total').rows, [[truth.total]]);
      assert.deepEqual(new Map(panel('dlq_by_reason').rows), truth.byReason);
    } finally {
      await log.close();
    }
  });
});
