/**
 * Seed 004's sales domain: the names the seed fixes (topics, subject) and the values the
 * `sales_event` contract allows. The Avro schemas keep these fields as strings (see
 * pipelines/saas/README.md for why): the lists here are the pipeline contract's rules, and
 * what the generator draws from.
 */

/** The seed's topics: events (3 partitions, keyed by account_id), their DLQ, the optional aggregate, quality results. */
export const SALES_TOPIC = 'sales.events.v1';
export const SALES_PARTITIONS = 3;
export const SALES_DLQ_TOPIC = 'sales.events.dlq.v1';
export const REVENUE_TOPIC = 'sales.agg.revenue_5m.v1';
export const DQ_RESULTS_TOPIC = 'dq.results.v1';

/** Confluent's TopicNameStrategy: the value schema of `topic` is registered under `<topic>-value`. */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

export const PLAN_TIERS = ['free', 'starter', 'pro', 'enterprise'] as const;
export type PlanTier = (typeof PLAN_TIERS)[number];

export const REGIONS = ['na', 'emea', 'apac', 'latam'] as const;
export type Region = (typeof REGIONS)[number];

export const EVENT_TYPES = [
  'trial_started',
  'subscription_created',
  'renewal',
  'upgrade',
  'downgrade',
  'refund',
  'churn',
] as const;
export type SalesEventType = (typeof EVENT_TYPES)[number];

export const CURRENCIES = ['USD', 'EUR', 'GBP', 'AUD'] as const;
export type Currency = (typeof CURRENCIES)[number];

export const BILLING_PERIODS = ['monthly', 'annual'] as const;
export type BillingPeriod = (typeof BILLING_PERIODS)[number];

/**
 * How an event's `amount` (never negative) counts in revenue: charges count positive, a
 * refund's amount negative; trial_started, downgrade and churn move no money (amount 0).
 * Net revenue of a set of events = Σ charges − Σ refunds.
 */
export const REVENUE_SIGN: Readonly<Record<SalesEventType, 1 | -1 | 0>> = {
  trial_started: 0,
  subscription_created: 1,
  renewal: 1,
  upgrade: 1,
  downgrade: 0,
  refund: -1,
  churn: 0,
};

/** `amount` is an Avro decimal(12,2): at most 9,999,999,999.99, in cents. */
export const AMOUNT_PRECISION = 12;
export const AMOUNT_SCALE = 2;
export const MAX_AMOUNT_CENTS = 10n ** BigInt(AMOUNT_PRECISION) - 1n;

/** Gold's windows: 5-minute tumbling windows of event time, aligned to the epoch. */
export const REVENUE_WINDOW_MS = 5 * 60 * 1000;

/** Cents as decimal text: -1250n → '-12.50'. */
export function centsText(cents: bigint): string {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}
