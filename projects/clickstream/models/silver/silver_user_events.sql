/*---
description: >
  Bronze cleaned, validated and deduplicated: one row per event_id (the first record of
  it by source_partition, source_offset), event_date as a DATE (the UTC day of timestamp).
  A re-sent event carries the same timestamp, so its copies are in the same day.
materialized: incremental
partition_by: event_date
expectations:
  - not_null: [event_id, user_id, event_type, page, timestamp, source, event_date]
  - unique: [event_id]
  - accepted_values: { column: event_type, values: [login, click, purchase, logout] }
  - accepted_values: { column: source, values: [web, mobile] }
  - range: { column: user_id, min: 1 }
  - freshness: { column: timestamp, max_age: 2 days }
    severity: warn
---*/
SELECT
  event_id,
  user_id,
  event_type,
  page,
  "timestamp",
  source,
  source_partition,
  source_offset,
  ingest_time,
  CAST(event_date AS DATE) AS event_date
FROM source('bronze_user_events')
WHERE event_id IS NOT NULL
  AND user_id >= 1
  AND event_type IN ('login', 'click', 'purchase', 'logout')
  AND page IS NOT NULL
  AND source IN ('web', 'mobile')
  AND "timestamp" IS NOT NULL
  -- event_date is the UTC day of the event time (the speed layer partitions so)
  AND CAST(event_date AS DATE) = CAST("timestamp" AS DATE)
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY source_partition, source_offset) = 1
