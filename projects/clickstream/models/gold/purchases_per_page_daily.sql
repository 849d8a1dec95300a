/*---
description: Purchases per page and day (pages with at least one purchase)
materialized: incremental
partition_by: event_date
export: { postgres: gold.purchases_per_page_daily, key: [event_date, page] }
expectations:
  - not_null: [event_date, page, purchase_count, updated_at]
  - unique: [event_date, page]
  - range: { column: purchase_count, min: 1 }
---*/
SELECT
  event_date,
  page,
  count(*) AS purchase_count,
  run_started_at() AS updated_at
FROM ref('silver_user_events')
WHERE event_type = 'purchase'
GROUP BY event_date, page
