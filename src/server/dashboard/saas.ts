/**
 * The sales system's page (seed 004; pipelines/saas.yaml): events and the share that came
 * too late for their window, net revenue per 5-minute window by plan tier and by region
 * (gold, sales_revenue_5m), the newest window in full, the pipeline's live numbers and
 * the dead-letter topic by reason. Amounts of different currencies are never added: the
 * charts are in USD, the newest window's table has every currency.
 */
import type { DashboardDef } from './definition.ts';

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
    {
      id: 'dlq_total',
      title: 'Dead letters',
      description: 'records held in topic sales.events.dlq.v1',
      kind: 'stat',
      unit: 'count',
      width: 2,
      source: { type: 'dlq', view: 'total' },
    },
    {
      id: 'pipeline_now',
      title: 'Pipeline now',
      description: 'events/s taken in, records behind (lag), end-to-end latency (ms), DLQ records written',
      kind: 'stat',
      unit: 'count',
      width: 5,
      source: { type: 'live', view: 'now' },
    },
    {
      id: 'revenue_by_tier',
      title: 'Net revenue per 5 minutes by plan tier (USD)',
      description:
        'sales_revenue_5m: revenue of each closed window, by plan_tier, the last 24 hours of windows',
      kind: 'timeseries',
      unit: 'money',
      width: 6,
      seriesBy: 'plan_tier',
      source: {
        type: 'sql',
        sql: `WITH newest AS (
  SELECT max(window_start) AS t FROM sales_revenue_5m
  WHERE window_start >= {{newest sales_revenue_5m.window_start}})
SELECT epoch(g.window_start)::BIGINT AS t, g.plan_tier, sum(g.revenue) AS revenue
FROM sales_revenue_5m AS g, newest
WHERE g.currency = 'USD'
  AND g.window_start >= {{newest sales_revenue_5m.window_start}} - INTERVAL 24 HOUR
  AND g.window_start > newest.t - INTERVAL 24 HOUR
GROUP BY ALL ORDER BY t, plan_tier`,
        windows: [{ table: 'sales_revenue_5m', column: 'window_start', minutes: 24 * 60 }],
      },
    },
    {
      id: 'revenue_by_region',
      title: 'Net revenue per 5 minutes by region (USD)',
      description: 'sales_revenue_5m: revenue of each closed window, by region, the last 24 hours of windows',
      kind: 'timeseries',
      unit: 'money',
      width: 6,
      seriesBy: 'region',
      source: {
        type: 'sql',
        sql: `WITH newest AS (
  SELECT max(window_start) AS t FROM sales_revenue_5m
  WHERE window_start >= {{newest sales_revenue_5m.window_start}})
SELECT epoch(g.window_start)::BIGINT AS t, g.region, sum(g.revenue) AS revenue
FROM sales_revenue_5m AS g, newest
WHERE g.currency = 'USD'
  AND g.window_start >= {{newest sales_revenue_5m.window_start}} - INTERVAL 24 HOUR
  AND g.window_start > newest.t - INTERVAL 24 HOUR
GROUP BY ALL ORDER BY t, region`,
        windows: [{ table: 'sales_revenue_5m', column: 'window_start', minutes: 24 * 60 }],
      },
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
    {
      id: 'dlq_by_reason',
      title: 'Dead letters by reason',
      description:
        'records in sales.events.dlq.v1 by the rule and field they broke (avro_*: the bytes are not Avro of a known schema)',
      kind: 'bars',
      unit: 'count',
      width: 4,
      source: { type: 'dlq', view: 'by_reason' },
    },
    {
      id: 'events_rate',
      title: 'Events taken in per second',
      description: 'records the pipeline read from topic sales.events.v1 each second',
      kind: 'timeseries',
      unit: 'per_second',
      width: 4,
      source: { type: 'live', view: 'rate' },
    },
    {
      id: 'latency',
      title: 'End-to-end latency',
      description: 'from a record produced to its commit in the last table, p50 and p99 (ms)',
      kind: 'timeseries',
      unit: 'ms',
      width: 4,
      source: { type: 'live', view: 'latency' },
    },
    {
      id: 'lag',
      title: 'Lag by partition',
      description: 'records in topic sales.events.v1 not yet committed by every sink',
      kind: 'bars',
      unit: 'count',
      width: 4,
      source: { type: 'live', view: 'lag' },
    },
    {
      id: 'dlq_recent',
      title: 'Newest dead letters',
      description: 'the last records rejected to sales.events.dlq.v1, and why',
      kind: 'table',
      unit: 'count',
      width: 12,
      source: { type: 'dlq', view: 'recent' },
    },
  ],
};
