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
      description: 'orders (one row each in orders_current), those still open (created or paid), and events',
      kind: 'stat',
      unit: 'count',
      width: 5,
      source: {
        type: 'sql',
        sql: `SELECT count(*) AS orders,
  count(*) FILTER (WHERE status IN ('CREATED', 'PAID')) AS open_orders,
  (SELECT count(*) FROM orders_events) AS events
FROM orders_current`,
      },
    },
    {
      id: 'dlq_total',
      title: 'Dead letters',
      description: 'records held in topic orders.dlq',
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
      id: 'events_per_second',
      title: 'Events landed per second',
      description: 'orders_events rows per second of arrival (ingest_time), the last 5 minutes',
      kind: 'timeseries',
      unit: 'per_second',
      width: 6,
      source: {
        type: 'sql',
        sql: `WITH newest AS (
  SELECT max(ingest_time) AS t FROM orders_events WHERE ingest_time >= {{newest orders_events.ingest_time}})
SELECT epoch(date_trunc('second', e.ingest_time))::BIGINT AS t, count(*) AS events
FROM orders_events AS e, newest
WHERE e.ingest_time >= {{newest orders_events.ingest_time}} - INTERVAL 5 MINUTE
  AND e.ingest_time > newest.t - INTERVAL 5 MINUTE
GROUP BY ALL ORDER BY t`,
        windows: [{ table: 'orders_events', column: 'ingest_time', minutes: 5 }],
      },
    },
    {
      id: 'latency',
      title: 'End-to-end latency',
      description: 'from a record produced to its commit in both tables, p50 and p99 (ms)',
      kind: 'timeseries',
      unit: 'ms',
      width: 6,
      source: { type: 'live', view: 'latency' },
    },
    {
      id: 'revenue_per_minute',
      title: 'Paid revenue per minute',
      description: 'total_amount of ORDER_PAID events per minute of event time, by currency, the last hour',
      kind: 'timeseries',
      unit: 'money',
      width: 8,
      seriesBy: 'currency',
      source: {
        type: 'sql',
        sql: `WITH newest AS (
  SELECT max(event_timestamp) AS t FROM orders_events
  WHERE event_timestamp >= {{newest orders_events.event_timestamp}})
SELECT epoch(date_trunc('minute', e.event_timestamp))::BIGINT AS t, e.currency, sum(e.total_amount) AS revenue
FROM orders_events AS e, newest
WHERE e.event_type = 'ORDER_PAID'
  AND e.event_timestamp >= {{newest orders_events.event_timestamp}} - INTERVAL 60 MINUTE
  AND e.event_timestamp > newest.t - INTERVAL 60 MINUTE
GROUP BY ALL ORDER BY t, currency`,
        windows: [{ table: 'orders_events', column: 'event_timestamp', minutes: 60 }],
      },
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
    {
      id: 'events_rate',
      title: 'Events taken in per second',
      description: 'records the pipeline read from topic orders each second',
      kind: 'timeseries',
      unit: 'per_second',
      width: 4,
      source: { type: 'live', view: 'rate' },
    },
    {
      id: 'lag',
      title: 'Lag by partition',
      description: 'records in topic orders not yet committed to both tables',
      kind: 'bars',
      unit: 'count',
      width: 4,
      source: { type: 'live', view: 'lag' },
    },
    {
      id: 'dlq_by_reason',
      title: 'Dead letters by reason',
      description: 'records in orders.dlq by the rule and field they broke',
      kind: 'bars',
      unit: 'count',
      width: 4,
      source: { type: 'dlq', view: 'by_reason' },
    },
    {
      id: 'dlq_recent',
      title: 'Newest dead letters',
      description: 'the last records rejected to orders.dlq, and why',
      kind: 'table',
      unit: 'count',
      width: 12,
      source: { type: 'dlq', view: 'recent' },
    },
  ],
};
