/**
 * The clickstream system's page (seed 002; pipelines/clickstream.yaml and the models of
 * projects/clickstream): the seed's Grafana panels, refreshed live.
 *
 *  - Its top row, the batch layer: DAU, conversion rate, total purchases and total events
 *    of the newest day in the gold tables (daily_active_users, conversion_rate_daily,
 *    events_per_source_daily), and its bottom row, the top pages by purchases
 *    (purchases_per_page_daily).
 *  - Its middle row, the speed layer: the event stream per minute by event type and the
 *    logins per minute by source. The pipeline keeps those counts in PostgreSQL
 *    (realtime.*), which this server does not read; the page counts them from the bronze
 *    table the same pipeline lands, as realtime.* does: 1-minute windows of event time,
 *    each event_id once. Unlike realtime.*, events later than the 2-minute watermark are
 *    counted in their minute.
 *  - The pipeline's live numbers and its dead-letter topic (user-events.dlq).
 */
import type { DashboardDef } from './definition.ts';
import { pipelinePanels, place } from './pipeline-panels.ts';
import { recentSource } from './recent-sql.ts';

const shared = pipelinePanels({
  topic: 'user-events',
  dlqTopic: 'user-events.dlq',
  committedIn: 'its commit in bronze and PostgreSQL',
});

/** Bronze events per minute of event time, the last hour, each event_id once. */
const perMinute = (column: string, value: string, where?: string) =>
  recentSource({
    table: 'bronze_user_events',
    column: 'timestamp',
    span: '60 MINUTE',
    select: `epoch(date_trunc('minute', e."timestamp"))::BIGINT AS t, e.${column}, count(DISTINCT e.event_id) AS ${value}`,
    where,
    orderBy: `t, ${column}`,
  });

export const CLICKSTREAM_DASHBOARD: DashboardDef = {
  name: 'clickstream',
  title: 'Clickstream',
  description:
    'User events (seed 002): bronze table bronze_user_events, gold tables of the batch layer (projects/clickstream), topic user-events',
  pipeline: 'clickstream',
  dlqTopic: 'user-events.dlq',
  tables: [
    'bronze_user_events',
    'daily_active_users',
    'conversion_rate_daily',
    'events_per_source_daily',
    'purchases_per_page_daily',
  ],
  panels: [
    {
      id: 'batch_day',
      title: 'The newest day (batch layer)',
      description:
        'gold tables of the newest event_date: daily active users, conversion rate (users who purchased / DAU), purchases, events',
      kind: 'stat',
      unit: 'count',
      columnUnits: { conversion_rate: 'percent' },
      width: 6,
      source: {
        type: 'sql',
        sql: `SELECT d.event_date AS day, d.dau_count AS daily_active_users, c.conversion_rate, c.total_purchases, s.total_events
FROM daily_active_users AS d
JOIN conversion_rate_daily AS c ON c.event_date = d.event_date
JOIN (SELECT event_date, sum(event_count)::BIGINT AS total_events FROM events_per_source_daily GROUP BY event_date) AS s
  ON s.event_date = d.event_date
ORDER BY d.event_date DESC LIMIT 1`,
      },
    },
    place(shared.dlq_total, 2),
    place(shared.pipeline_now, 4),
    {
      id: 'event_stream',
      title: 'Event stream per minute',
      description:
        'bronze_user_events per minute of event time by event_type, each event_id once, the last hour (realtime.events_per_minute)',
      kind: 'timeseries',
      unit: 'count',
      width: 6,
      seriesBy: 'event_type',
      source: perMinute('event_type', 'events'),
    },
    {
      id: 'logins_per_source',
      title: 'Logins per source',
      description:
        'login events per minute of event time by source, each event_id once, the last hour (realtime.logins_per_source)',
      kind: 'timeseries',
      unit: 'count',
      width: 6,
      seriesBy: 'source',
      source: perMinute('source', 'logins', `e.event_type = 'login'`),
    },
    {
      id: 'top_pages',
      title: 'Top pages by purchases',
      description: 'purchases_per_page_daily of the newest event_date, the ten pages with the most',
      kind: 'bars',
      unit: 'count',
      width: 4,
      source: {
        type: 'sql',
        sql: `SELECT page, purchase_count FROM purchases_per_page_daily
WHERE event_date = (SELECT max(event_date) FROM purchases_per_page_daily)
ORDER BY purchase_count DESC, page LIMIT 10`,
      },
    },
    place(shared.events_rate, 4),
    place(shared.latency, 4),
    place(shared.lag, 4),
    place(shared.dlq_by_reason, 8),
    place(shared.dlq_recent, 12),
  ],
};
