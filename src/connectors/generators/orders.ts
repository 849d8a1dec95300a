/**
 * The orders generator of seed 001: order lifecycles as JSON events keyed by `order_id`.
 *
 * Lifecycle (seed §3.1) and the branch probabilities we use (defaults; see docs/orders.md):
 *
 *   CREATED ──85%──► PAID ──92%──► SHIPPED ──6%──► RETURNED
 *      └────15%──► CANCELLED (abandoned before payment)
 *                    PAID ──8%──► CANCELLED (cancelled before shipping)
 *                                 SHIPPED ──94%──► (delivered: no further event)
 *
 * so an order yields ~2.9 events on average. Many orders are in flight at once (a pool
 * of `activeOrders`): each step opens a new order when the pool is below that size and
 * otherwise advances a random open one, so the events of one order are spread out and
 * interleaved with others, and an order completes after a few turnovers of the pool
 * (at 50,000 events/s and 10,000 open orders, nearly all within 5 seconds).
 *
 * `event_timestamp` is epoch seconds, as in the seed's schema (an integer). Events of one
 * order often share a second; consumers order them by (event_timestamp, lifecycle rank),
 * which is total because each order passes every status at most once.
 *
 * Imperfections the pipeline must handle, each a configurable share of emitted events:
 * - out of order: an order advances two steps at once and the earlier event is held
 *   back for 1 to `maxDelay` records (default 5,000), so it arrives after the later one,
 *   often in a later micro-batch;
 * - duplicate: one of the last 8,192 valid events is re-sent byte for byte (same event_id);
 * - malformed: an extra record about an open order that breaks the contract (broken
 *   JSON, missing required field, wrong type, unknown enum value) or is not exactly one
 *   JSON object in ways a lenient reader would let through (content after the object, a
 *   raw newline inside a string, a number where text is expected, a duplicate key whose
 *   second value is wrong, a NaN literal, a trailing comma). Malformed records do not
 *   change the order's state.
 *
 * Events are built as JSON strings directly (no objects, no JSON.stringify): the
 * generator must outpace the pipeline by a wide margin.
 */
import type { Clock } from '../../core/clock.ts';
import { Rng, uuid4 } from './rng.ts';

export type OrderStatus = 'CREATED' | 'PAID' | 'SHIPPED' | 'CANCELLED' | 'RETURNED';

/** Lifecycle rank: the tie-break when two events of an order share a timestamp. */
export const STATUS_RANK: Record<OrderStatus, number> = {
  CREATED: 0,
  PAID: 1,
  SHIPPED: 2,
  CANCELLED: 3,
  RETURNED: 4,
};
export const EVENT_TYPES = Object.keys(STATUS_RANK).map((s) => `ORDER_${s}`);
export const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'CAD'] as const;
export const PAYMENT_METHODS = ['CREDIT_CARD', 'DEBIT_CARD', 'PAYPAL', 'APPLE_PAY', 'BANK_TRANSFER'] as const;
export const CATEGORIES = ['Electronics', 'Books', 'Clothing', 'Home', 'Toys', 'Grocery', 'Sports'] as const;

export interface OrdersGeneratorOptions {
  seed?: number;
  /** Event time source (epoch ms; events carry whole seconds). */
  clock: Clock;
  /** First order sequence number (default 1); continue a topic by passing its size. */
  startSequence?: number;
  /** Target number of open orders (default 10,000). */
  activeOrders?: number;
  /** Shares of emitted records (defaults: 0.01, 0.005, 0.002). */
  outOfOrderRate?: number;
  duplicateRate?: number;
  malformedRate?: number;
  /** Out-of-order events are held back up to this many records (default 5,000). */
  maxDelay?: number;
  /** Branch probabilities (defaults as in the header comment). */
  pPaid?: number;
  pShipped?: number;
  pReturned?: number;
}

export type RecordKind = 'valid' | 'duplicate' | 'malformed';

export interface GeneratedRecord {
  key: string;
  value: string;
  kind: RecordKind;
}

interface OpenOrder {
  id: string;
  /** The event's JSON from `,"order_id"` up to the value of `current_status`. */
  prefix: string;
  status: OrderStatus;
}

/**
 * A copy of `s` as one flat string. Built by concatenation, the prefix is a tree of
 * many small pieces; every event embeds it, and the produce batch's join walks that
 * tree again for each event. Flattened once per order (it is ASCII: ids, numbers and
 * fixed names), each event is a few flat pieces: the generator runs twice as fast.
 */
function flat(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

const MALFORMED_KINDS = [
  'broken-json',
  'missing-field',
  'wrong-type',
  'unknown-enum',
  'trailing-content',
  'newline-in-string',
  'number-for-text',
  'duplicate-key',
  'nan',
  'trailing-comma',
] as const;

export class OrdersGenerator {
  private readonly rng: Rng;
  private readonly clock: Clock;
  private readonly open: OpenOrder[] = [];
  /** Held-back events, by the record count at which they are released (ascending). */
  private readonly delayed: Array<{ at: number; record: GeneratedRecord }> = [];
  private emitted = 0;
  private readonly maxDelay: number;
  private readonly recent: GeneratedRecord[] = [];
  private recentPos = 0;
  private seq: number;
  private readonly target: number;
  private readonly pOutOfOrder: number;
  private readonly pDuplicate: number;
  private readonly pMalformed: number;
  private readonly pPaid: number;
  private readonly pShipped: number;
  private readonly pReturned: number;
  private dayMs = -1;
  private dayStr = '';

  constructor(opts: OrdersGeneratorOptions) {
    this.rng = new Rng(opts.seed ?? 1);
    this.clock = opts.clock;
    this.seq = opts.startSequence ?? 1;
    this.target = opts.activeOrders ?? 10_000;
    this.pOutOfOrder = opts.outOfOrderRate ?? 0.01;
    this.maxDelay = opts.maxDelay ?? 5_000;
    this.pDuplicate = opts.duplicateRate ?? 0.005;
    this.pMalformed = opts.malformedRate ?? 0.002;
    this.pPaid = opts.pPaid ?? 0.85;
    this.pShipped = opts.pShipped ?? 0.92;
    this.pReturned = opts.pReturned ?? 0.06;
  }

  /** The next record to emit. */
  next(): GeneratedRecord {
    this.emitted++;
    if (this.delayed.length > 0 && this.delayed[0].at <= this.emitted) return this.delayed.shift()!.record;
    return this.fresh();
  }

  private fresh(): GeneratedRecord {
    const rng = this.rng;
    if (this.recent.length > 0 && rng.chance(this.pDuplicate)) {
      const r = this.recent[rng.int(this.recent.length)];
      return { key: r.key, value: r.value, kind: 'duplicate' };
    }
    if (this.open.length > 0 && rng.chance(this.pMalformed)) return this.malformed();
    for (;;) {
      // A new order only when the pool is below its target: the pool stays at about
      // `activeOrders`, so an order completes within a few pool-turnovers of its creation.
      if (this.open.length < this.target) return this.remember(this.create());
      const i = rng.int(this.open.length);
      const order = this.open[i];
      const first = this.advance(order, i);
      if (first === undefined) continue;
      if (rng.chance(this.pOutOfOrder) && order.status !== 'CANCELLED' && order.status !== 'RETURNED') {
        const second = this.advance(order, this.open.indexOf(order));
        if (second !== undefined) {
          // Emit the later event now and hold the earlier one back.
          const at = this.emitted + 1 + rng.int(this.maxDelay);
          let i = this.delayed.length;
          while (i > 0 && this.delayed[i - 1].at > at) i--;
          this.delayed.splice(i, 0, { at, record: this.remember(first) });
          return this.remember(second);
        }
      }
      return this.remember(first);
    }
  }

  private remember(r: GeneratedRecord): GeneratedRecord {
    if (this.recent.length < 8192) this.recent.push(r);
    else {
      this.recent[this.recentPos] = r;
      this.recentPos = (this.recentPos + 1) & 8191;
    }
    return r;
  }

  private seconds(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  private day(): string {
    const ms = this.clock.now();
    const dayMs = ms - (ms % 86_400_000);
    if (dayMs !== this.dayMs) {
      this.dayMs = dayMs;
      this.dayStr = new Date(dayMs).toISOString().slice(0, 10).replaceAll('-', '');
    }
    return this.dayStr;
  }

  private create(): GeneratedRecord {
    const rng = this.rng;
    // Zero-padded to 10 digits so that string order is creation order (see docs/orders.md).
    const id = `ord-${this.day()}-${String(this.seq++).padStart(10, '0')}`;
    const nItems = 1 + Math.min(rng.int(4), rng.int(4));
    let items = '[';
    let totalCents = 0;
    for (let k = 0; k < nItems; k++) {
      const qty = 1 + Math.min(rng.int(5), rng.int(3));
      const cents = 199 + rng.int(50_000);
      totalCents += qty * cents;
      items += `${k ? ',' : ''}{"sku":"SKU-${100 + rng.int(9900)}","quantity":${qty},"unit_price":${(cents / 100).toFixed(2)},"category":"${rng.pick(CATEGORIES)}"}`;
    }
    items += ']';
    const order: OpenOrder = {
      id,
      prefix: flat(
        `,"order_id":"${id}","user_id":"u-${10000 + rng.int(90000)}","total_amount":${(totalCents / 100).toFixed(2)},"currency":"${rng.pick(CURRENCIES)}","payment_method":"${rng.pick(PAYMENT_METHODS)}","items":${items},"current_status":"`,
      ),
      status: 'CREATED',
    };
    this.open.push(order);
    return this.event(order);
  }

  /** Moves an open order one step; undefined when it completed silently (delivered). */
  private advance(order: OpenOrder, index: number): GeneratedRecord | undefined {
    const rng = this.rng;
    let next: OrderStatus | undefined;
    if (order.status === 'CREATED') next = rng.chance(this.pPaid) ? 'PAID' : 'CANCELLED';
    else if (order.status === 'PAID') next = rng.chance(this.pShipped) ? 'SHIPPED' : 'CANCELLED';
    else if (order.status === 'SHIPPED') next = rng.chance(this.pReturned) ? 'RETURNED' : undefined;
    if (next === undefined || next === 'CANCELLED' || next === 'RETURNED') this.close(index);
    if (next === undefined) return undefined;
    order.status = next;
    return this.event(order);
  }

  private close(index: number): void {
    const last = this.open.pop()!;
    if (index < this.open.length) this.open[index] = last;
  }

  private event(o: OpenOrder): GeneratedRecord {
    const value = `{"event_id":"${uuid4(this.rng)}","event_type":"ORDER_${o.status}","event_timestamp":${this.seconds()}${o.prefix}${o.status}"}`;
    return { key: o.id, value, kind: 'valid' };
  }

  /** A record about an open order that breaks the data contract in one way. */
  private malformed(): GeneratedRecord {
    const rng = this.rng;
    const o = this.open[rng.int(this.open.length)];
    const good = this.event(o).value;
    let value: string;
    switch (rng.pick(MALFORMED_KINDS)) {
      case 'broken-json':
        value = good.slice(0, 1 + rng.int(good.length - 2));
        break;
      case 'missing-field': {
        const field = rng.pick(['event_id', 'event_type', 'event_timestamp', 'order_id'] as const);
        value = good.replace(new RegExp(`"${field}":("[^"]*"|[0-9]+),`), '');
        break;
      }
      case 'wrong-type':
        value = rng.chance(0.5)
          ? good.replace(/"total_amount":[0-9.]+/, '"total_amount":"a lot"')
          : good.replace(/"event_timestamp":[0-9]+/, '"event_timestamp":"yesterday"');
        break;
      case 'trailing-content':
        value = rng.chance(0.5) ? `${good}, "extra": 1` : `${good}{}`;
        break;
      case 'newline-in-string':
        value = good.replace(/"user_id":"u-/, '"user_id":"u\n-');
        break;
      case 'number-for-text':
        value = good.replace(/"user_id":"u-([0-9]+)"/, '"user_id":$1');
        break;
      case 'duplicate-key':
        // A reader keeping the first of the two would see a valid event.
        value = good.replace(/"currency":"([A-Z]+)"/, '"currency":"$1","currency":"DOGE"');
        break;
      case 'nan':
        value = good.replace(/"total_amount":[0-9.]+/, '"total_amount":NaN');
        break;
      case 'trailing-comma':
        value = `${good.slice(0, -1)},}`;
        break;
      default:
        value = rng.chance(0.5)
          ? good.replace(/"event_type":"[A-Z_]+"/, '"event_type":"ORDER_TELEPORTED"')
          : good.replace(/"currency":"[A-Z]+"/, '"currency":"DOGE"');
    }
    return { key: o.id, value, kind: 'malformed' };
  }
}
