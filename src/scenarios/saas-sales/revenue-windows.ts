/**
 * Gold of the sales system, recomputed in plain JavaScript: 5-minute tumbling windows of
 * event time ([k·5 min, (k+1)·5 min) from the epoch, UTC; an event exactly at a window's
 * end belongs to the next) of the on-time, deduplicated events, per plan tier, region and
 * currency (amounts of different currencies are never added). Money is bigint cents.
 *
 * Per window and group:
 * - `revenue`: net revenue, Σ amount of charges (subscription_created, renewal, upgrade)
 *   − Σ amount of refunds;
 * - `gross_revenue`: Σ amount of charges; `refunds`: Σ amount of refunds;
 * - `events`: events of any type (trial_started, downgrade and churn included);
 * - `accounts`: distinct account_id among them.
 * Money columns are decimal text with two digits after the point ('-12.50').
 */
import { centsText, REVENUE_SIGN, REVENUE_WINDOW_MS, type SalesEventType } from './domain.ts';
import type { OracleEvent } from './oracle.ts';

export interface RevenueWindow {
  /** ISO-8601 UTC with milliseconds. */
  window_start: string;
  window_end: string;
  plan_tier: string;
  region: string;
  currency: string;
  revenue: string;
  gross_revenue: string;
  refunds: string;
  events: number;
  accounts: number;
}

interface Sums {
  start: number;
  planTier: string;
  region: string;
  currency: string;
  gross: bigint;
  refunds: bigint;
  events: number;
  accounts: Set<string>;
}

/** The windows of `events` (on-time and deduplicated), ordered by start, tier, region, currency. */
export function revenueWindows(events: readonly OracleEvent[], sizeMs = REVENUE_WINDOW_MS): RevenueWindow[] {
  const groups = new Map<string, Sums>();
  for (const e of events) {
    const start = Math.floor(e.eventTime / sizeMs) * sizeMs;
    const key = JSON.stringify([start, e.planTier, e.region, e.currency]);
    let s = groups.get(key);
    if (!s) {
      s = {
        start,
        planTier: e.planTier,
        region: e.region,
        currency: e.currency,
        gross: 0n,
        refunds: 0n,
        events: 0,
        accounts: new Set(),
      };
      groups.set(key, s);
    }
    const sign = REVENUE_SIGN[e.eventType as SalesEventType];
    if (sign === 1) s.gross += e.amountCents;
    else if (sign === -1) s.refunds += e.amountCents;
    s.events++;
    s.accounts.add(e.accountId);
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...groups.values()]
    .sort(
      (a, b) =>
        a.start - b.start ||
        cmp(a.planTier, b.planTier) ||
        cmp(a.region, b.region) ||
        cmp(a.currency, b.currency),
    )
    .map((s) => ({
      window_start: new Date(s.start).toISOString(),
      window_end: new Date(s.start + sizeMs).toISOString(),
      plan_tier: s.planTier,
      region: s.region,
      currency: s.currency,
      revenue: centsText(s.gross - s.refunds),
      gross_revenue: centsText(s.gross),
      refunds: centsText(s.refunds),
      events: s.events,
      accounts: s.accounts.size,
    }));
}

/** The windows an `emit: final` pipeline has written once its watermark is `watermark`: those ending at or before it. */
export function closedWindows(windows: readonly RevenueWindow[], watermark: number | null): RevenueWindow[] {
  if (watermark === null) return [];
  return windows.filter((w) => Date.parse(w.window_end) <= watermark);
}
