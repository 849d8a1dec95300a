/**
 * The food-orders system's page (seed 003; pipelines/cdc.yaml): the changes captured from
 * the PostgreSQL table, landed as food.orders (valid changes), food.orders_failed (the
 * changes that broke a rule, with the reason) and food.orders_current (the table as the
 * source holds it now). Changes per minute of their source commit time, orders by status,
 * failed changes by reason and the newest ones, how long the capture took to publish a
 * change (source commit to log), and the pipeline's live numbers. The page's header shows
 * the three tables' versions (each a link to the table at that version).
 *
 * The pipeline tags failures instead of rejecting them (on_failure: tag), so the page has
 * no dead-letter panels: food.orders_failed is where failures are.
 */
import type { DashboardDef } from './definition.ts';
import { pipelinePanels, place } from './pipeline-panels.ts';
import { recentSource } from './recent-sql.ts';

const TOPIC = '2025em1100102_food_orders_raw';
const shared = pipelinePanels({ topic: TOPIC, committedIn: 'its commit in the three tables' });

export const CDC_DASHBOARD: DashboardDef = {
  name: 'cdc',
  title: 'Food orders (CDC)',
  description: `Changes of PostgreSQL table 2025em1100102_orders (seed 003), captured into topic ${TOPIC}: tables food.orders, food.orders_failed, food.orders_current`,
  pipeline: 'cdc',
  tables: ['food.orders', 'food.orders_failed', 'food.orders_current'],
  panels: [
    {
      id: 'totals',
      title: 'Orders and changes',
      description:
        'orders in the mirror (food.orders_current), changes landed (food.orders and food.orders_failed), those that broke a rule and their share',
      kind: 'stat',
      unit: 'count',
      columnUnits: { failed_share: 'percent' },
      width: 6,
      source: {
        type: 'sql',
        sql: `SELECT c.orders, v.changes + f.failed AS changes, f.failed AS failed_changes,
  f.failed / nullif(v.changes + f.failed, 0) AS failed_share
FROM (SELECT count(*) AS orders FROM food.orders_current) AS c,
  (SELECT count(*) AS changes FROM food.orders) AS v,
  (SELECT count(*) AS failed FROM food.orders_failed) AS f`,
      },
    },
    {
      id: 'capture_delay',
      title: 'Capture delay',
      description:
        'valid changes (food.orders) committed in the source in the last 5 minutes up to the newest: from that commit (__commit_ts) to the log (ingest_time), mean and max (ms)',
      kind: 'stat',
      unit: 'ms',
      columnUnits: { changes: 'count' },
      width: 6,
      source: recentSource({
        table: 'food.orders',
        column: '__commit_ts',
        span: '5 MINUTE',
        select: `count(*) AS changes,
  round(avg(epoch_ms(e.ingest_time) - epoch_ms(e.__commit_ts)))::BIGINT AS mean_delay_ms,
  max(epoch_ms(e.ingest_time) - epoch_ms(e.__commit_ts)) AS max_delay_ms`,
        orderBy: 'changes',
      }),
    },
    {
      id: 'changes_per_minute',
      title: 'Changes per minute',
      description:
        'changes landed per minute of their commit in the source (__commit_ts), valid (food.orders) and failed (food.orders_failed), the last hour',
      kind: 'timeseries',
      unit: 'count',
      width: 8,
      seriesBy: 'outcome',
      source: {
        type: 'sql',
        sql: `WITH changes AS (
  SELECT __commit_ts AS ts, 'valid' AS outcome FROM food.orders
  UNION ALL SELECT __commit_ts AS ts, 'failed' AS outcome FROM food.orders_failed),
newest AS (SELECT max(ts) AS t FROM changes)
SELECT epoch(date_trunc('minute', c.ts))::BIGINT AS t, c.outcome, count(*) AS changes
FROM changes AS c, newest
WHERE c.ts > newest.t - INTERVAL 60 MINUTE
GROUP BY ALL ORDER BY t, outcome`,
      },
    },
    {
      id: 'orders_by_status',
      title: 'Orders by status',
      description:
        'food.orders_current rows per order_status (rows that failed a rule included: it mirrors the source)',
      kind: 'bars',
      unit: 'count',
      width: 4,
      source: {
        type: 'sql',
        sql: `SELECT CASE WHEN order_status IS NULL THEN '(null)' WHEN trim(order_status) = '' THEN '(empty)'
    ELSE order_status END AS order_status, count(*) AS orders
FROM food.orders_current GROUP BY ALL ORDER BY orders DESC, order_status`,
      },
    },
    {
      id: 'failed_by_reason',
      title: 'Failed changes by reason',
      description: 'food.orders_failed rows per validation_reason (the field and the rule)',
      kind: 'bars',
      unit: 'count',
      width: 6,
      source: {
        type: 'sql',
        sql: `SELECT validation_reason AS reason, count(*) AS changes
FROM food.orders_failed GROUP BY ALL ORDER BY changes DESC, reason`,
      },
    },
    place(shared.pipeline_now, 6, {
      description: 'changes/s taken in, records behind (lag), end-to-end latency (ms), DLQ records written',
    }),
    place(shared.events_rate, 4, { title: 'Changes taken in per second' }),
    place(shared.latency, 4),
    place(shared.lag, 4),
    {
      id: 'failed_recent',
      title: 'Newest failed changes',
      description: 'the last 10 rows of food.orders_failed by source commit time, and why they failed',
      kind: 'table',
      unit: 'count',
      width: 12,
      source: {
        type: 'sql',
        sql: `SELECT __commit_ts AS committed_at, order_id, customer_name, restaurant_name, item, amount, order_status,
  validation_reason
FROM food.orders_failed ORDER BY __commit_ts DESC, order_id DESC LIMIT 10`,
      },
    },
  ],
};
