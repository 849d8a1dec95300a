/*---
description: Daily active users — distinct users with at least one event that day (UTC)
materialized: incremental
partition_by: event_date
export: { postgres: gold.daily_active_users, key: [event_date] }
expectations:
  - not_null: [event_date, dau_count, updated_at]
  - unique: [event_date]
  - range: { column: dau_count, min: 1 }
---*/
SELECT
  event_date,
  count(DISTINCT user_id) AS dau_count,
  run_started_at() AS updated_at
FROM ref('silver_user_events')
GROUP BY event_date
