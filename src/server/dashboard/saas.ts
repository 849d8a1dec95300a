/**
 * The sales system's page (seed 004; pipelines/saas.yaml): events and the share that came
 * too late for their window, net revenue per 5-minute window by plan tier and by region
 * (gold, sales_revenue_5m), the newest window in full, the pipeline's live numbers and
 * the dead-letter topic by reason. Amounts of different currencies are never added: the
 * charts are in USD, the newest window's table has every currency.
 */
import type { DashboardDef } from './definition.ts';
import { pipelinePanels, place } from './pipeline-panels.ts';
import { recentSource } from './recent-sql.ts';

const shared = pipelinePanels({ topic: 'sales.events.v1', dlqTopic: 'sales.events.dlq.v1' });

/** USD revenue of the last 24 hours of closed windows, a line per value of `column`. */
const revenueBy = (column: string) =>
  recentSource({
    table: 'sales_revenue_5m',
    column: 'window_start',
    span: '24 HOUR',
    select: `epoch(e.window_start)::BIGINT AS t, e.${column}, sum(e.revenue) AS revenue`,
    where: `e.currency = 'USD'`,
    orderBy: `t, ${column}`,
  });

export const SAAS_DASHBOARD: DashboardDef = {
  name: 'saas',
  title: 'Sales',
  description:
    'SaaS subscription events in Avro (seed 004): tables sales_silver, sales_late_events and sales_revenue_5m, topic sales.events.v1',
  pipeline: 'saas',
  dlqTopic: 'sales.events.dlq.v1',
  tables: ['sales_silver', 'sales_late_events', 'sales_revenue_5m'],
  panels: [
    {
      id: 'totals',
      title: 'Events',
      description:
        'events once each (sales_silver), those later than the watermark (sales_late_events) and their share, 5-minute windows closed',
      kind: 'stat',
      unit: 'count',
      columnUnits: { late_share: 'percent' },
      width: 5,
      source: {
        type: 'sql',
        sql: `SELECT s.events, l.late_events, l.late_events / nullif(s.events, 0) AS late_share, g.windows
FROM (SELECT count(*) AS events FROM sales_silver) AS s,
  (SELECT count(*) AS late_events FROM sales_late_events) AS l,
  (SELECT count(DISTINCT window_start) AS windows FROM sales_revenue_5m) AS g`,
      },
    },
    place(shared.dlq_total, 2),
    place(shared.pipeline_now, 5),
    {
      id: 'revenue_by_tier',
      title: 'Net revenue per 5 minutes by plan tier (USD)',
      description:
        'sales_revenue_5m: revenue of each closed window, by plan_tier, the last 24 hours of windows',
      kind: 'timeseries',
      unit: 'money',
      width: 6,
      seriesBy: 'plan_tier',
      source: revenueBy('plan_tier'),
    },
    {
      id: 'revenue_by_region',
      title: 'Net revenue per 5 minutes by region (USD)',
      description: 'sales_revenue_5m: revenue of each closed window, by region, the last 24 hours of windows',
      kind: 'timeseries',
      unit: 'money',
      width: 6,
      seriesBy: 'region',
      source: revenueBy('region'),
    },
    {
      id: 'newest_window',
      title: 'The newest closed window',
      description: 'sales_revenue_5m rows of the latest window_start, every currency',
      kind: 'table',
      unit: 'money',
      width: 8,
      source: {
        type: 'sql',
        sql: `SELECT window_start, plan_tier, region, currency, revenue, gross_revenue, refunds, events, accounts
FROM sales_revenue_5m
WHERE window_start = (SELECT max(window_start) FROM sales_revenue_5m)
ORDER BY revenue DESC, plan_tier, region, currency`,
      },
    },
    place(shared.dlq_by_reason, 4, {
      description:
        'records in sales.events.dlq.v1 by the rule and field they broke (avro_*: the bytes are not Avro of a known schema)',
    }),
    place(shared.events_rate, 4),
    place(shared.latency, 4),
    place(shared.lag, 4),
    place(shared.dlq_recent, 12),
  ],
};
