/**
 * The clickstream generator of seed 002: user events as JSON, keyed by `user_id`, in the
 * seed's schema `{event_id, user_id, event_type, page, timestamp, source}` (see
 * docs/clickstream.md, "Generator").
 *
 * Users. The base starts with `initialUsers` (100, ids 1..100, "established") and a new
 * user joins every `newUserEvery` events (default 1,000; the first with the first event),
 * so it passes 110 users after 10,000 events (at the seed's 5 events/s, half an hour).
 * `activeShare` (80 %) of events come from an established user, uniformly; the rest from
 * the users who joined since, most often the newest (new) and less often older ones
 * (returning): the offset from the newest is `joined * u²` for a uniform u.
 *
 * Sessions, not independent draws: each user is logged out or in. A logged-out user's
 * next event is a login, which picks the session's source (web 60 %, mobile 40 %); a
 * logged-in user's next event is a click, a purchase, a logout (then logged out), or a
 * new login (the session timed out silently: many users close the tab instead of logging
 * out). The transition probabilities are derived from EVENT_TYPE_SHARES so the long-run
 * mix equals them: per session one login, on average C/L clicks, P/L purchases and O/L
 * logouts, which needs L ≥ O. All events of a session share its source. Pages are drawn
 * per event type (PAGE_SHARES): purchases on /checkout, /cart, /products (95 %), logins
 * on /home and /account.
 *
 * Imperfections, each a configurable share of emitted records (one uniform draw picks
 * the kind of each record):
 * - duplicate (0.5 %): one of the last 1,024 in-order valid events re-sent byte for
 *   byte; if that one's event time is more than 60 s behind the clock (slow rates), the
 *   newest is re-sent instead, so a duplicate is not also late (unless the clock jumped);
 * - late (0.5 %): event time 3 to 10 minutes behind the clock, so its 1-minute window
 *   has closed for a watermark 2 minutes behind the latest event time seen (once events
 *   at the clock's time have been seen: the very first records may not be late yet);
 * - out of order (2 %, kind `valid`): event time 1 ms to 60 s behind the clock, within
 *   a 2-minute watermark;
 * - malformed (0.2 %): an event that breaks the contract (broken JSON, a missing field,
 *   a wrong type, an unknown event_type or source, a timestamp that is no timestamp) or
 *   that a lenient reader would let through (content after the object, a raw newline in
 *   a string, a number for text, a duplicate key whose second value is wrong, NaN, a
 *   trailing comma): clickstream-malformed.ts. Every one fails JSON.parse or breaks a
 *   rule of the schema.
 * Late and malformed events still advance their user's session (the user did act; the
 * record arrived late or mangled).
 *
 * Each record carries its `kind` and, except malformed ones, its event time in ms.
 * Events are written as bytes from precomputed pieces into a scratch buffer (no objects,
 * no JSON.stringify; the timestamp's text up to the second is reused) and read out as one
 * flat string: the generator must outpace the pipeline by a wide margin
 * (bench/clickstream-generator.ts).
 */
import type { Clock } from '../../core/clock.ts';
import { TributaryError } from '../../core/errors.ts';
import { CLICK_MALFORMED_KINDS, type ClickMalformedKind, malformEvent } from './clickstream-malformed.ts';
import { Rng } from './rng.ts';

export const EVENT_TYPES = ['login', 'click', 'purchase', 'logout'] as const;
export type ClickEventType = (typeof EVENT_TYPES)[number];

/** The long-run share of each event type among valid events: clicks > logins > purchases > logouts. */
export const EVENT_TYPE_SHARES: Readonly<Record<ClickEventType, number>> = {
  login: 0.15,
  click: 0.7,
  purchase: 0.08,
  logout: 0.07,
};

export const PAGES = [
  '/home',
  '/products',
  '/search',
  '/cart',
  '/checkout',
  '/account',
  '/deals',
  '/help',
] as const;
export type Page = (typeof PAGES)[number];

/** The page of an event, by event type. */
export const PAGE_SHARES: Readonly<Record<ClickEventType, Readonly<Partial<Record<Page, number>>>>> = {
  login: { '/home': 0.55, '/account': 0.3, '/cart': 0.1, '/checkout': 0.05 },
  click: {
    '/products': 0.3,
    '/home': 0.2,
    '/search': 0.18,
    '/cart': 0.1,
    '/deals': 0.08,
    '/account': 0.06,
    '/checkout': 0.05,
    '/help': 0.03,
  },
  purchase: { '/checkout': 0.55, '/cart': 0.25, '/products': 0.15, '/deals': 0.05 },
  logout: { '/account': 0.45, '/home': 0.35, '/products': 0.1, '/help': 0.1 },
};

export const SOURCES = ['web', 'mobile'] as const;
export const SOURCE_SHARES: Readonly<Record<(typeof SOURCES)[number], number>> = { web: 0.6, mobile: 0.4 };

/** Late events are this far behind the clock (ms, inclusive range). */
export const LATE_BEHIND_MS = [180_000, 600_000] as const;
/** Out-of-order events are at most this far behind the clock (ms). */
export const OUT_OF_ORDER_MAX_MS = 60_000;

export interface ClickstreamGeneratorOptions {
  seed?: number;
  /** Event time source (epoch ms). */
  clock: Clock;
  /** Events already in the topic (default 0): the user base starts grown by them, and
   * they are mixed into the seed so a second run on a topic does not repeat event ids. */
  startEvent?: number;
  /** Established users at the start (default 100). */
  initialUsers?: number;
  /** A new user joins every this many events (default 1,000). */
  newUserEvery?: number;
  /** Share of events from established users (default 0.8). */
  activeShare?: number;
  /** Shares of emitted records (defaults 0.005, 0.005, 0.002, 0.02). */
  duplicateRate?: number;
  lateRate?: number;
  malformedRate?: number;
  outOfOrderRate?: number;
}

export type ClickRecordKind = 'valid' | 'duplicate' | 'late' | 'malformed';

export interface ClickRecord {
  /** The user_id as text. */
  key: string;
  value: string;
  kind: ClickRecordKind;
  /** The event's time (ms since the epoch); undefined for malformed records. */
  eventTime: number | undefined;
}

const LOGIN = 0;
const CLICK = 1;
const PURCHASE = 2;
const LOGOUT = 3;

/** Cumulative page distribution of each event type: [thresholds, page indexes]. */
const PAGE_CUMULATIVE = EVENT_TYPES.map((t) => {
  const entries = Object.entries(PAGE_SHARES[t]) as Array<[Page, number]>;
  let sum = 0;
  const thresholds = entries.map(([, p]) => {
    sum += p;
    return sum;
  });
  thresholds[thresholds.length - 1] = 1;
  return { thresholds, pages: entries.map(([page]) => PAGES.indexOf(page)) };
});

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const HEAD = bytes('{"event_id":"');
const USER = bytes('","user_id":');
/** `,"event_type":"<type>","page":"<page>","timestamp":"` by [type][page]. */
const MIDDLE = EVENT_TYPES.map((t) =>
  PAGES.map((p) => bytes(`,"event_type":"${t}","page":"${p}","timestamp":"`)),
);
/** `Z","source":"<source>"}` by source. */
const TAIL = SOURCES.map((s) => bytes(`Z","source":"${s}"}`));
/** The two hex digits of each byte value, as character codes. */
const HEX = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const h = i.toString(16).padStart(2, '0');
  HEX[2 * i] = h.charCodeAt(0);
  HEX[2 * i + 1] = h.charCodeAt(1);
}

const RECENT = 1024;

export class ClickstreamGenerator {
  private readonly rng: Rng;
  private readonly clock: Clock;
  private readonly initialUsers: number;
  private readonly newUserEvery: number;
  private readonly activeShare: number;
  /** Cumulative thresholds of the record kinds on one uniform draw. */
  private readonly tDuplicate: number;
  private readonly tMalformed: number;
  private readonly tLate: number;
  private readonly tOutOfOrder: number;
  /** Logged-in transitions, cumulative: click, purchase, logout, (rest) new login. */
  private readonly tClick: number;
  private readonly tPurchase: number;
  private readonly tLogout: number;
  private readonly tWeb: number;
  private events: number;
  private users: number;
  /** Per user id: 0 logged out, 1 logged in on web, 2 logged in on mobile. */
  private session: Uint8Array;
  private readonly userText: string[] = [];
  private readonly recent: ClickRecord[] = [];
  private recentPos = 0;
  /** The event is written here, then read out as one flat string (see `event`). */
  private readonly scratch = Buffer.alloc(256);
  private secondMs = Number.NaN;
  /** `YYYY-MM-DDTHH:MM:SS.` of `secondMs`. */
  private readonly secondText = new Uint8Array(20);
  /** The kind of the last malformed record (for tests and the DLQ's explanations). */
  lastMalformedKind: ClickMalformedKind | undefined;

  constructor(opts: ClickstreamGeneratorOptions) {
    const start = opts.startEvent ?? 0;
    this.rng = new Rng(((opts.seed ?? 1) ^ Math.imul(start, 0x9e3779b1)) | 0);
    this.clock = opts.clock;
    this.initialUsers = opts.initialUsers ?? 100;
    this.newUserEvery = opts.newUserEvery ?? 1000;
    this.activeShare = opts.activeShare ?? 0.8;
    this.events = start;
    this.users = this.initialUsers + (start > 0 ? Math.ceil(start / this.newUserEvery) : 0);
    this.session = new Uint8Array(Math.max(256, this.users * 2));
    const d = opts.duplicateRate ?? 0.005;
    const m = opts.malformedRate ?? 0.002;
    const l = opts.lateRate ?? 0.005;
    const o = opts.outOfOrderRate ?? 0.02;
    const shares = {
      duplicateRate: d,
      malformedRate: m,
      lateRate: l,
      outOfOrderRate: o,
      activeShare: this.activeShare,
    };
    for (const [option, x] of Object.entries(shares)) {
      if (!(x >= 0 && x <= 1)) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `clickstream generator: ${option} must be between 0 and 1, got ${x}`,
          {
            option,
          },
        );
      }
    }
    if (d + m + l + o > 1) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `clickstream generator: duplicate, malformed, late and out-of-order rates add up to ${Number((d + m + l + o).toFixed(6))}, more than 1`,
        shares,
      );
    }
    for (const [option, x] of Object.entries({
      initialUsers: this.initialUsers,
      newUserEvery: this.newUserEvery,
    })) {
      if (!Number.isSafeInteger(x) || x < 1) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `clickstream generator: ${option} must be an integer of at least 1, got ${x}`,
          {
            option,
          },
        );
      }
    }
    this.tDuplicate = d;
    this.tMalformed = d + m;
    this.tLate = d + m + l;
    this.tOutOfOrder = d + m + l + o;
    const s = EVENT_TYPE_SHARES;
    const rest = 1 - s.logout;
    this.tClick = s.click / rest;
    this.tPurchase = (s.click + s.purchase) / rest;
    this.tLogout = (s.click + s.purchase + s.logout) / rest;
    this.tWeb = SOURCE_SHARES.web;
  }

  /** Users in the base so far (ids 1..userCount). */
  get userCount(): number {
    return this.users;
  }

  /** The next record to emit. */
  next(): ClickRecord {
    const n = this.events++;
    if (n % this.newUserEvery === 0) this.join();
    const u = this.rng.float();
    if (u >= this.tOutOfOrder) return this.remember(this.event(this.clock.now(), 'valid'));
    if (u < this.tDuplicate) {
      // Nothing to re-send yet: a valid event instead.
      return this.recent.length > 0 ? this.duplicate() : this.remember(this.event(this.clock.now(), 'valid'));
    }
    if (u < this.tMalformed) return this.malformed();
    if (u < this.tLate) {
      const behind = LATE_BEHIND_MS[0] + this.rng.int(LATE_BEHIND_MS[1] - LATE_BEHIND_MS[0] + 1);
      return this.event(this.clock.now() - behind, 'late');
    }
    return this.event(this.clock.now() - 1 - this.rng.int(OUT_OF_ORDER_MAX_MS), 'valid');
  }

  private join(): void {
    this.users++;
    if (this.users >= this.session.length) {
      const grown = new Uint8Array(this.session.length * 2);
      grown.set(this.session);
      this.session = grown;
    }
  }

  private pickUser(): number {
    const u = this.rng.float();
    const joined = this.users - this.initialUsers;
    if (joined === 0) return 1 + Math.floor(u * this.initialUsers);
    if (u < this.activeShare) return 1 + Math.floor((u / this.activeShare) * this.initialUsers);
    const v = (u - this.activeShare) / (1 - this.activeShare);
    return this.users - Math.floor(joined * v * v);
  }

  private text(id: number): string {
    if (id >= 65_536) return String(id);
    let t = this.userText[id];
    if (t === undefined) {
      t = String(id);
      this.userText[id] = t;
    }
    return t;
  }

  /** A schema-valid event of a picked user at `time`, advancing the user's session. */
  private event(time: number, kind: 'valid' | 'late'): ClickRecord {
    const rng = this.rng;
    const id = this.pickUser();
    let state = this.session[id];
    let type: number;
    if (state === 0) type = LOGIN;
    else {
      const u = rng.float();
      type = u < this.tClick ? CLICK : u < this.tPurchase ? PURCHASE : u < this.tLogout ? LOGOUT : LOGIN;
    }
    if (type === LOGIN) state = rng.float() < this.tWeb ? 1 : 2;
    this.session[id] = type === LOGOUT ? 0 : state;
    const cum = PAGE_CUMULATIVE[type];
    const p = rng.float();
    let i = 0;
    while (p >= cum.thresholds[i]) i++;
    const key = this.text(id);
    // Written as bytes and read out as one flat string: a string built by concatenation
    // is a tree of pieces that the produce loop's join walks again, which made the
    // generate-and-encode path a third slower.
    const b = this.scratch;
    b.set(HEAD, 0);
    let at = this.uuid(HEAD.length);
    b.set(USER, at);
    at += USER.length;
    for (let k = 0; k < key.length; k++) b[at++] = key.charCodeAt(k);
    const middle = MIDDLE[type][cum.pages[i]];
    b.set(middle, at);
    at += middle.length;
    at = this.timestamp(time, at);
    const tail = TAIL[state - 1];
    b.set(tail, at);
    at += tail.length;
    return { key, value: b.toString('latin1', 0, at), kind, eventTime: time };
  }

  /** A version-4 UUID (RFC 9562 §5.4) into the scratch buffer at `at`; the same text as rng.ts's `uuid4`. */
  private uuid(at: number): number {
    const rng = this.rng;
    const a = rng.u32();
    const b = (rng.u32() & 0xffff0fff) | 0x4000;
    const c = (rng.u32() & 0x3fffffff) | 0x80000000;
    const d = rng.u32();
    at = this.hex16(at, a >>> 16);
    at = this.hex16(at, a);
    this.scratch[at++] = 45;
    at = this.hex16(at, b >>> 16);
    this.scratch[at++] = 45;
    at = this.hex16(at, b);
    this.scratch[at++] = 45;
    at = this.hex16(at, c >>> 16);
    this.scratch[at++] = 45;
    at = this.hex16(at, c);
    at = this.hex16(at, d >>> 16);
    return this.hex16(at, d);
  }

  private hex16(at: number, x: number): number {
    const s = this.scratch;
    const hi = ((x >>> 8) & 0xff) << 1;
    const lo = (x & 0xff) << 1;
    s[at] = HEX[hi];
    s[at + 1] = HEX[hi + 1];
    s[at + 2] = HEX[lo];
    s[at + 3] = HEX[lo + 1];
    return at + 4;
  }

  /** ISO-8601 UTC with milliseconds (without the `Z`); the text up to the second is reused within a second. */
  private timestamp(ms: number, at: number): number {
    const millis = ((ms % 1000) + 1000) % 1000;
    const sec = ms - millis;
    if (sec !== this.secondMs) {
      this.secondMs = sec;
      const text = new Date(sec).toISOString();
      for (let k = 0; k < 20; k++) this.secondText[k] = text.charCodeAt(k);
    }
    const s = this.scratch;
    s.set(this.secondText, at);
    s[at + 20] = 48 + Math.floor(millis / 100);
    s[at + 21] = 48 + (Math.floor(millis / 10) % 10);
    s[at + 22] = 48 + (millis % 10);
    return at + 23;
  }

  private remember(r: ClickRecord): ClickRecord {
    if (this.recent.length < RECENT) this.recent.push(r);
    else {
      this.recent[this.recentPos] = r;
      this.recentPos = (this.recentPos + 1) & (RECENT - 1);
    }
    return r;
  }

  private duplicate(): ClickRecord {
    let r = this.recent[this.rng.int(this.recent.length)];
    if (r.eventTime! < this.clock.now() - OUT_OF_ORDER_MAX_MS) {
      r = this.recent[(this.recentPos + this.recent.length - 1) % this.recent.length];
    }
    return { key: r.key, value: r.value, kind: 'duplicate', eventTime: r.eventTime };
  }

  /** An event that breaks the schema in one way (the user's session advances as for a valid one). */
  private malformed(): ClickRecord {
    const good = this.event(this.clock.now(), 'valid');
    const kind = this.rng.pick(CLICK_MALFORMED_KINDS);
    this.lastMalformedKind = kind;
    return {
      key: good.key,
      value: malformEvent(this.rng, good.value, good.eventTime!, kind),
      kind: 'malformed',
      eventTime: undefined,
    };
  }
}
