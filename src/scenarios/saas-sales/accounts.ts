/**
 * The generator's customer accounts and what happens to them next. Each account has a
 * billing region and currency, and a subscription that moves through a small lifecycle:
 *
 *   prospect ── trial_started ──▶ trialing ── subscription_created ──▶ active
 *   prospect ── subscription_created ──▶ active
 *   active ── renewal | upgrade | downgrade | refund ──▶ active
 *   trialing, active ── churn ──▶ churned
 *   churned ── trial_started ──▶ trialing, or ── subscription_created ──▶ active
 *   (a churned account comes back with a new subscription id)
 *
 * Amounts follow list prices per seat and month (free 0, starter 15.00, pro 49.00,
 * enterprise 99.00; annual billing is 10 months' price): a subscription_created or
 * renewal charges the price of the plan, an upgrade half the difference between the new
 * price and the old (prorated over half a period on average), a refund part or all of
 * the last charge not yet refunded; trial_started, downgrade and churn move no money
 * (amount 0; a downgrade takes effect at the next renewal). Amounts are integers of
 * cents: exact.
 *
 * The base's accounts start in a mix of states (30 % prospects, 10 % trialing, 55 %
 * active, 5 % churned), so a run that continues a topic looks like a continuation;
 * accounts that join later start as prospects.
 */
import { Rng } from '../../connectors/generators/rng.ts';
import {
  type BillingPeriod,
  type Currency,
  PLAN_TIERS,
  type PlanTier,
  type Region,
  type SalesEventType,
} from './domain.ts';

export type AccountStatus = 'prospect' | 'trialing' | 'active' | 'churned';

export interface Account {
  /** `acct-000042`: the record key. */
  id: string;
  region: Region;
  currency: Currency;
  tier: PlanTier;
  seats: number;
  period: BillingPeriod;
  status: AccountStatus;
  /** The current subscription's id (`sub-000042-3`: the account's third). */
  subscription: string;
  subscriptions: number;
  /** The last charge not yet refunded, in cents (what a refund may return). */
  refundable: number;
}

/** A step of an account's life: the event's fields that depend on the account. */
export interface AccountStep {
  eventType: SalesEventType;
  tier: PlanTier;
  previousTier: PlanTier | null;
  seats: number;
  amountCents: number;
}

/** List price per seat and month, in cents. */
export const PRICE_CENTS: Readonly<Record<PlanTier, number>> = {
  free: 0,
  starter: 1_500,
  pro: 4_900,
  enterprise: 9_900,
};

/** Seats a subscription of each tier starts with (inclusive range). */
export const SEATS: Readonly<Record<PlanTier, readonly [number, number]>> = {
  free: [1, 3],
  starter: [1, 10],
  pro: [3, 50],
  enterprise: [25, 500],
};

/** A period's charge: seats × price, annual billing at 10 months. */
export function priceCents(tier: PlanTier, seats: number, period: BillingPeriod): number {
  return PRICE_CENTS[tier] * seats * (period === 'annual' ? 10 : 1);
}

/** Region shares and the currencies billed in each (shares within the region). */
const REGION_SHARES: ReadonlyArray<[Region, number, ReadonlyArray<[Currency, number]>]> = [
  ['na', 0.4, [['USD', 1]]],
  [
    'emea',
    0.3,
    [
      ['EUR', 0.65],
      ['GBP', 0.35],
    ],
  ],
  [
    'apac',
    0.2,
    [
      ['USD', 0.6],
      ['AUD', 0.4],
    ],
  ],
  ['latam', 0.1, [['USD', 1]]],
];

function weighted<T>(rng: Rng, items: ReadonlyArray<readonly [T, number, ...unknown[]]>): number {
  let u = rng.float();
  for (let i = 0; i < items.length - 1; i++) {
    u -= items[i][1];
    if (u < 0) return i;
  }
  return items.length - 1;
}

function between(rng: Rng, [lo, hi]: readonly [number, number]): number {
  return lo + rng.int(hi - lo + 1);
}

/**
 * Account number `n` (`acct-<n>`, 6 digits) of a run seeded `seed`: its region, currency
 * and starting plan depend on (seed, n) only, so a continued run has the same accounts.
 * `joined`: a new customer (a prospect); otherwise one of the base, in the starting mix.
 */
export function makeAccount(seed: number, n: number, joined: boolean): Account {
  const rng = new Rng((seed ^ Math.imul(n, 0x85ebca6b)) | 0);
  const [region, , currencies] = REGION_SHARES[weighted(rng, REGION_SHARES)];
  const currency = currencies[weighted(rng, currencies)][0];
  const tier = rng.pick(PLAN_TIERS);
  const u = rng.float();
  const status: AccountStatus = joined
    ? 'prospect'
    : u < 0.3
      ? 'prospect'
      : u < 0.4
        ? 'trialing'
        : u < 0.95
          ? 'active'
          : 'churned';
  const id = String(n).padStart(6, '0');
  return {
    id: `acct-${id}`,
    region,
    currency,
    tier,
    seats: status === 'churned' ? 0 : between(rng, SEATS[tier]),
    period: rng.chance(0.3) ? 'annual' : 'monthly',
    status,
    subscription: `sub-${id}-1`,
    subscriptions: 1,
    refundable: status === 'active' ? priceCents(tier, between(rng, SEATS[tier]), 'monthly') : 0,
  };
}

/** The account's next event; the account moves on (its tier, seats, status). */
export function nextStep(rng: Rng, a: Account): AccountStep {
  switch (a.status) {
    case 'prospect':
      if (rng.chance(0.6)) {
        startSubscription(rng, a, rng.chance(0.5) ? 'pro' : 'starter');
        a.status = 'trialing';
        return step(a, 'trial_started', null, 0);
      }
      startSubscription(rng, a, rng.pick(['free', 'free', 'starter', 'starter', 'pro', 'pro', 'enterprise']));
      return charge(a, 'subscription_created');
    case 'trialing':
      if (rng.chance(0.7)) return charge(a, 'subscription_created');
      return churn(a);
    case 'churned':
      // Back as a customer: a new trial or straight to a new subscription.
      startSubscription(rng, a, rng.chance(0.5) ? 'pro' : 'starter');
      if (rng.chance(0.5)) {
        a.status = 'trialing';
        return step(a, 'trial_started', null, 0);
      }
      return charge(a, 'subscription_created');
    default:
      return active(rng, a);
  }
}

function active(rng: Rng, a: Account): AccountStep {
  const u = rng.float();
  const tierIndex = PLAN_TIERS.indexOf(a.tier);
  if (u < 0.18) {
    // Upgrade: the next tier (seats at least its minimum), or more seats at the top tier.
    const before = priceCents(a.tier, a.seats, a.period);
    const previous = a.tier;
    if (tierIndex < PLAN_TIERS.length - 1 && rng.chance(0.6)) {
      a.tier = PLAN_TIERS[tierIndex + 1];
      a.seats = Math.max(a.seats, SEATS[a.tier][0]);
    } else {
      a.seats += 1 + rng.int(Math.max(1, Math.ceil(a.seats / 4)));
      if (a.tier === 'free') a.tier = 'starter';
    }
    const amount = Math.max(1, Math.round((priceCents(a.tier, a.seats, a.period) - before) / 2));
    a.refundable = amount;
    return step(a, 'upgrade', previous, amount);
  }
  if (u < 0.28) {
    const previous = a.tier;
    if (tierIndex > 0 && (a.seats <= SEATS[a.tier][0] || rng.chance(0.5))) {
      a.tier = PLAN_TIERS[tierIndex - 1];
      a.seats = Math.min(a.seats, SEATS[a.tier][1]);
    } else if (a.seats > 1) {
      a.seats -= 1 + rng.int(Math.ceil(a.seats / 4));
      a.seats = Math.max(1, a.seats);
    } else return charge(a, 'renewal');
    return step(a, 'downgrade', previous, 0);
  }
  if (u < 0.37) {
    // Nothing left to refund (a free plan, or refunded already): the plan renews instead.
    if (a.refundable === 0) return charge(a, 'renewal');
    const amount = rng.chance(0.4) ? a.refundable : 1 + rng.int(a.refundable);
    a.refundable -= amount;
    return step(a, 'refund', null, amount);
  }
  if (u < 0.45) return churn(a);
  return charge(a, 'renewal');
}

function startSubscription(rng: Rng, a: Account, tier: PlanTier): void {
  a.subscriptions++;
  a.subscription = `sub-${a.id.slice(5)}-${a.subscriptions}`;
  a.tier = tier;
  a.seats = between(rng, SEATS[tier]);
  a.period = rng.chance(0.3) ? 'annual' : 'monthly';
}

function charge(a: Account, eventType: 'subscription_created' | 'renewal'): AccountStep {
  a.status = 'active';
  const amount = priceCents(a.tier, a.seats, a.period);
  a.refundable = amount;
  return step(a, eventType, null, amount);
}

function churn(a: Account): AccountStep {
  a.status = 'churned';
  a.seats = 0;
  a.refundable = 0;
  return step(a, 'churn', null, 0);
}

function step(a: Account, eventType: SalesEventType, previousTier: PlanTier | null, amountCents: number) {
  return { eventType, tier: a.tier, previousTier, seats: a.seats, amountCents };
}
