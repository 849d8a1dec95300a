/**
 * The orders system's page (seed 001; pipelines/orders.yaml): orders now, events/s, lag
 * and end-to-end latency of the pipeline, orders by status, paid revenue per minute, and
 * the dead-letter topic.
 *
 * Time windows are anchored at the newest row rather than the wall clock: a page over a
 * lake whose pipeline stopped still shows its last activity, and over a running one the
 * newest row is seconds old. `{{newest table.column}}` lets DuckDB skip the older row
 * groups (sql-panels.ts, resolveNewest).
 */
import type { DashboardDef } from './definition.ts';
import { pipelinePanels, place } from './pipeline-panels.ts';
import { recentSource } from './recent-sql.ts';

const shared = pipelinePanels({
  topic: 'orders',
  dlqTopic: 'orders.dlq',
  committedIn: 'its commit in both tables',
});

export const ORDERS_DASHBOARD: DashboardDef = {
  name: 'orders',
  title: 'Orders',
  description: 'Order events (seed 001): tables orders_events and orders_current, topic orders',
  pipeline: 'orders',
  dlqTopic: 'orders.dlq',
  tables: ['orders_events', 'orders_current'],
  panels: [
    {
      id: 'totals',
      title: 'Orders now',
      description:
        'orders (one row each in orders_current), those still open (created or paid), and events (the rows of orders_events, from its files’ statistics)',
      kind: 'stat',
      unit: 'count',
      width: 5,
      source: {
        type: 'sql',
        sql: `SELECT count(*) AS orders,
  count(*) FILTER (WHERE status IN ('CREATED', 'PAID')) AS open_orders,
  {{rows orders_events}} AS events
FROM orders_current`,
      },
    },
    place(shared.dlq_total, 2),
    place(shared.pipeline_now, 5),
    {
      id: 'events_per_second',
      title: 'Events landed per second',
      description: 'orders_events rows per second of arrival (ingest_time), the last 5 minutes',
      kind: 'timeseries',
      unit: 'per_second',
      width: 6,
      source: recentSource({
        table: 'orders_events',
        column: 'ingest_time',
        span: '5 MINUTE',
        select: `epoch(date_trunc('second', e.ingest_time))::BIGINT AS t, count(*) AS events`,
        orderBy: 't',
      }),
    },
    place(shared.latency, 6),
    {
      id: 'revenue_per_minute',
      title: 'Paid revenue per minute',
      description: 'total_amount of ORDER_PAID events per minute of event time, by currency, the last hour',
      kind: 'timeseries',
      unit: 'money',
      width: 8,
      seriesBy: 'currency',
      source: recentSource({
        table: 'orders_events',
        column: 'event_timestamp',
        span: '60 MINUTE',
        select: `epoch(date_trunc('minute', e.event_timestamp))::BIGINT AS t, e.currency, sum(e.total_amount) AS revenue`,
        where: `e.event_type = 'ORDER_PAID'`,
        orderBy: 't, currency',
      }),
    },
    {
      id: 'orders_by_status',
      title: 'Orders by status',
      description: 'orders_current rows per status',
      kind: 'bars',
      unit: 'count',
      width: 4,
      source: {
        type: 'sql',
        sql: `SELECT status, count(*) AS orders FROM orders_current GROUP BY status ORDER BY orders DESC, status`,
      },
    },
    place(shared.events_rate, 4),
    place(shared.lag, 4, { description: 'records in topic orders not yet committed to both tables' }),
    place(shared.dlq_by_reason, 4),
    place(shared.dlq_recent, 12),
  ],
};
