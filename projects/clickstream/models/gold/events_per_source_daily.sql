/*---
description: Events per source (web, mobile) and day
materialized: incremental
partition_by: event_date
export: { postgres: gold.events_per_source_daily, key: [event_date, source] }
expectations:
  - not_null: [event_date, source, event_count, updated_at]
  - unique: [event_date, source]
  - accepted_values: { column: source, values: [web, mobile] }
  - range: { column: event_count, min: 1 }
---*/
SELECT
  event_date,
  source,
  count(*) AS event_count,
  run_started_at() AS updated_at
FROM ref('silver_user_events')
GROUP BY event_date, source
