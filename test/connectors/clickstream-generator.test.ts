import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ClickRecord,
  ClickstreamGenerator,
  type ClickstreamGeneratorOptions,
  EVENT_TYPE_SHARES,
  PAGES,
  SOURCE_SHARES,
} from '../../src/connectors/generators/clickstream.ts';
import { ManualClock } from '../../src/core/clock.ts';

const T0 = Date.UTC(2026, 10, 30, 4, 35, 28, 123);
const FIELDS = ['event_id', 'user_id', 'event_type', 'page', 'timestamp', 'source'];
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Emitted {
  r: ClickRecord;
  /** The clock when the record was emitted. */
  now: number;
}

/** `n` records, the clock moving 1 ms per record (1,000 events/s of event time). */
function take(n: number, opts: Partial<ClickstreamGeneratorOptions> = {}): Emitted[] {
  const clock = new ManualClock(T0);
  const g = new ClickstreamGenerator({ seed: 1, ...opts, clock });
  const out: Emitted[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ r: g.next(), now: clock.now() });
    clock.advance(1);
  }
  return out;
}

/** Milliseconds of an ISO-8601 UTC timestamp with milliseconds and `Z`, or undefined if it is none. */
function isoMs(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number);
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  // Date.UTC rolls 30 February over into March: a real date survives the round trip.
  const back = new Date(t);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h) return undefined;
  if (back.getUTCMinutes() !== mi || back.getUTCSeconds() !== s) return undefined;
  return t;
}

/** Why an event breaks the seed's schema, or undefined if it is valid. */
function violation(value: string): string | undefined {
  let e: unknown;
  try {
    e = JSON.parse(value);
  } catch {
    return 'json';
  }
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return 'json';
  const o = e as Record<string, unknown>;
  const keys = Object.keys(o);
  if (FIELDS.some((f) => !(f in o))) return 'missing';
  if (keys.length !== FIELDS.length) return 'extra';
  if (typeof o.event_id !== 'string' || !Number.isSafeInteger(o.user_id) || (o.user_id as number) < 1)
    return 'type';
  if (typeof o.event_type !== 'string' || typeof o.page !== 'string' || typeof o.source !== 'string')
    return 'type';
  if (typeof o.timestamp !== 'string') return 'type';
  if (!UUID4.test(o.event_id)) return 'type';
  if (!(o.event_type in EVENT_TYPE_SHARES) || !(o.source in SOURCE_SHARES)) return 'enum';
  if (!(PAGES as readonly string[]).includes(o.page)) return 'enum';
  if (isoMs(o.timestamp) === undefined) return 'timestamp';
  return undefined;
}

describe('clickstream generator', () => {
  test('is deterministic for a seed and differs across seeds and start positions', () => {
    const a = take(5000, { seed: 9 });
    const b = take(5000, { seed: 9 });
    const c = take(5000, { seed: 10 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    // Continuing a topic: other event ids, and the user base already grown.
    const ids = (xs: Emitted[]) =>
      new Set(xs.filter((x) => x.r.kind === 'valid').map((x) => JSON.parse(x.r.value).event_id));
    const first = ids(a);
    const later = take(5000, { seed: 9, startEvent: 50_000 });
    for (const id of ids(later)) assert.ok(!first.has(id), 'a continued run repeats no event id');
    const g = new ClickstreamGenerator({ seed: 9, clock: new ManualClock(T0), startEvent: 50_000 });
    assert.equal(g.userCount, 150);
  });

  test('valid, late and duplicate records are the seed schema exactly, keyed by user_id, at their event time', () => {
    for (const { r } of take(200_000)) {
      if (r.kind === 'malformed') {
        assert.equal(r.eventTime, undefined);
        continue;
      }
      assert.equal(violation(r.value), undefined, r.value);
      const e = JSON.parse(r.value);
      assert.deepEqual(Object.keys(e), FIELDS);
      assert.equal(r.key, String(e.user_id));
      assert.equal(isoMs(e.timestamp), r.eventTime);
      assert.equal(e.timestamp, new Date(r.eventTime!).toISOString());
    }
  });

  test('record kinds, event types, sources and pages come in the documented shares', () => {
    const recs = take(200_000);
    const n = recs.length;
    const count = (kind: string) => recs.filter((x) => x.r.kind === kind).length;
    const near = (name: string, got: number, want: number, tol: number) =>
      assert.ok(Math.abs(got - want) <= tol, `${name}: ${got} (want ${want} ± ${tol})`);
    near('duplicates', count('duplicate') / n, 0.005, 0.001);
    near('late', count('late') / n, 0.005, 0.001);
    near('malformed', count('malformed') / n, 0.002, 0.0005);
    const ooo = recs.filter((x) => x.r.kind === 'valid' && x.r.eventTime! < x.now).length;
    near('out of order', ooo / n, 0.02, 0.002);

    const events = recs.filter((x) => x.r.kind === 'valid').map((x) => JSON.parse(x.r.value));
    const byType = new Map<string, number>();
    for (const e of events) byType.set(e.event_type, (byType.get(e.event_type) ?? 0) + 1);
    for (const [type, share] of Object.entries(EVENT_TYPE_SHARES)) {
      near(`event type ${type}`, (byType.get(type) ?? 0) / events.length, share, 0.01);
    }
    const c = (t: string) => byType.get(t) ?? 0;
    assert.ok(c('click') > c('login') && c('login') > c('purchase') && c('purchase') > c('logout'));

    const logins = events.filter((e) => e.event_type === 'login');
    near(
      'web logins',
      logins.filter((e) => e.source === 'web').length / logins.length,
      SOURCE_SHARES.web,
      0.01,
    );
    near(
      'web events',
      events.filter((e) => e.source === 'web').length / events.length,
      SOURCE_SHARES.web,
      0.03,
    );

    const purchases = events.filter((e) => e.event_type === 'purchase');
    const onCommercePages = purchases.filter((e) =>
      ['/cart', '/checkout', '/products'].includes(e.page),
    ).length;
    assert.ok(
      onCommercePages / purchases.length >= 0.9,
      `purchases on cart/checkout/products: ${onCommercePages}`,
    );
    for (const page of PAGES)
      assert.ok(
        events.some((e) => e.page === page),
        `page ${page} occurs`,
      );
  });

  test('the user base grows from 100 past 110, with 80 % of events from the established users', () => {
    const recs = take(200_000, { newUserEvery: 1000 });
    const users = recs.filter((x) => x.r.kind !== 'malformed').map((x) => Number(x.r.key));
    assert.ok(Math.max(...users.slice(0, 900)) <= 101, 'one new user in the first 1,000 events');
    assert.ok(Math.max(...users.slice(0, 10_500)) > 110, 'past 110 users after 10,000 events');
    assert.ok(users.every((u) => u >= 1 && u <= 300));
    assert.equal(new Set(users.filter((u) => u <= 100)).size, 100, 'every established user is active');
    const established = users.filter((u) => u <= 100).length / users.length;
    assert.ok(Math.abs(established - 0.8) < 0.01, `events from established users: ${established}`);
    // New users: most of the 200 who joined show up, the newest ones most often.
    assert.ok(new Set(users.filter((u) => u > 100)).size > 150);
  });

  test('sessions: a logout is followed by a login, and a session keeps its source', () => {
    const recs = take(100_000, { malformedRate: 0, duplicateRate: 0 });
    const last = new Map<number, { type: string; source: string }>();
    let sessions = 0;
    for (const { r } of recs) {
      const e = JSON.parse(r.value);
      const prev = last.get(e.user_id);
      if (prev === undefined || prev.type === 'logout') assert.equal(e.event_type, 'login');
      if (e.event_type === 'login') sessions++;
      else assert.equal(e.source, prev!.source, 'a session keeps its source');
      last.set(e.user_id, { type: e.event_type, source: e.source });
    }
    assert.ok(sessions > 10_000);
  });

  test('late events are 3 to 10 minutes behind the clock, out-of-order ones at most 60 s', () => {
    const recs = take(200_000, { lateRate: 0.02, outOfOrderRate: 0.05 });
    const late = recs.filter((x) => x.r.kind === 'late');
    assert.ok(late.length > 3000);
    for (const x of late) {
      const behind = x.now - x.r.eventTime!;
      assert.ok(behind >= 180_000 && behind <= 600_000, `late by ${behind} ms`);
    }
    const behind = late.map((x) => x.now - x.r.eventTime!);
    assert.ok(Math.min(...behind) < 200_000 && Math.max(...behind) > 580_000, 'the whole range occurs');
    for (const x of recs.filter((x) => x.r.kind === 'valid')) {
      const b = x.now - x.r.eventTime!;
      assert.ok(b >= 0 && b <= 60_000, `valid event ${b} ms behind`);
    }
  });

  test('every malformed record fails JSON.parse or breaks a rule of the schema, in every way', () => {
    const clock = new ManualClock(T0);
    const g = new ClickstreamGenerator({ seed: 5, clock, malformedRate: 0.05 });
    const byViolation = new Map<string, number>();
    const kinds = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const r = g.next();
      if (r.kind !== 'malformed') continue;
      kinds.add(g.lastMalformedKind!);
      const why = violation(r.value);
      assert.ok(why !== undefined, `malformed (${g.lastMalformedKind}) but valid: ${r.value}`);
      byViolation.set(why, (byViolation.get(why) ?? 0) + 1);
    }
    assert.equal(kinds.size, 11);
    for (const why of ['json', 'missing', 'type', 'enum', 'timestamp']) {
      assert.ok((byViolation.get(why) ?? 0) > 100, `malformed by ${why}: ${byViolation.get(why)}`);
    }
  });

  test('a duplicate re-sends an earlier valid event byte for byte, within 60 s of its event time', () => {
    const recs = take(100_000, { duplicateRate: 0.02 });
    const seen = new Set<string>();
    let dups = 0;
    for (const { r, now } of recs) {
      if (r.kind === 'valid') seen.add(r.value);
      if (r.kind !== 'duplicate') continue;
      dups++;
      assert.ok(seen.has(r.value), 'the same bytes as an earlier valid event');
      assert.ok(now - r.eventTime! <= 60_000, 'a duplicate is not also late');
    }
    assert.ok(dups > 1500 && dups < 2500, `duplicates: ${dups}`);
    // At a slow rate (5 events/s) the recent events span minutes: still not late.
    const clock = new ManualClock(T0);
    const g = new ClickstreamGenerator({ seed: 2, clock, duplicateRate: 0.05 });
    for (let i = 0; i < 20_000; i++) {
      const r = g.next();
      if (r.kind === 'duplicate') assert.ok(clock.now() - r.eventTime! <= 60_000);
      clock.advance(200);
    }
  });

  test('refuses rates outside [0, 1] and a user base of no one', () => {
    const clock = new ManualClock(T0);
    assert.throws(
      () => new ClickstreamGenerator({ clock, lateRate: 1.5 }),
      /lateRate must be between 0 and 1/,
    );
    assert.throws(
      () => new ClickstreamGenerator({ clock, duplicateRate: 0.6, outOfOrderRate: 0.6 }),
      /add up to 1.207, more than 1/,
    );
    assert.throws(
      () => new ClickstreamGenerator({ clock, initialUsers: 0 }),
      /initialUsers must be an integer/,
    );
  });
});
