/*---
description: >
  Conversion per day: conversion_rate = users with at least one purchase that day /
  active users that day (dau_count, as in daily_active_users), between 0 and 1;
  total_purchases = purchase events that day.
materialized: incremental
partition_by: event_date
export: { postgres: gold.conversion_rate_daily, key: [event_date] }
expectations:
  - not_null: [event_date, conversion_rate, total_purchases, dau_count, updated_at]
  - unique: [event_date]
  - range: { column: conversion_rate, min: 0, max: 1 }
  - sql: total_purchases >= 0
  - relationships: { column: event_date, to: ref('daily_active_users'), field: event_date }
---*/
WITH purchases AS (
  SELECT
    event_date,
    count(*) FILTER (WHERE event_type = 'purchase') AS total_purchases,
    count(DISTINCT user_id) FILTER (WHERE event_type = 'purchase') AS purchasing_users
  FROM ref('silver_user_events')
  GROUP BY event_date
)
SELECT
  d.event_date,
  CAST(p.purchasing_users AS DOUBLE) / d.dau_count AS conversion_rate,
  p.total_purchases,
  d.dau_count,
  run_started_at() AS updated_at
FROM ref('daily_active_users') AS d
JOIN purchases AS p ON p.event_date = d.event_date
