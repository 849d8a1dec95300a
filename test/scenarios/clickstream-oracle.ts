/**
 * The truth the clickstream speed-layer tests compare against, computed from the raw
 * records of `user-events` by plain JavaScript — independent of the pipeline's DuckDB SQL
 * and of its window operator:
 * - which records are valid (the event contract of pipelines/clickstream.yaml, checked
 *   with JSON.parse and hand-written rules, the timestamp's calendar included);
 * - which valid records are late: the tests produce each record with its log timestamp
 *   set to the generator's clock, so how far its event time is behind the clock is read
 *   off the record itself (see `clickTruth` for why that decides lateness);
 * - the 1-minute tumbling windows (UTC minutes) of the first copy of every on-time
 *   event: counts per (minute, event_type), logins per (minute, source), purchases per
 *   minute.
 * And checks of what the pipeline produced: the realtime.* tables and the progress table
 * in PostgreSQL (read with `pg`), the bronze Delta table (our reader, and delta-rs when
 * Python is there), the dead-letter topic.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import type { ClickRecordKind } from '../../src/connectors/generators/clickstream.ts';
import { decodeDeadLetter, originalBytes } from '../../src/stream/dead-letter.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import type { DeltaTable } from '../../src/table/table.ts';
import { deltaRsColumns } from '../interop/helpers.ts';
import type { LogRecordRef } from './orders-oracle.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PAGE = /^\/[A-Za-z0-9/_.-]*$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z$/;
const EVENT_TYPES = ['login', 'click', 'purchase', 'logout'];
const SOURCES = ['web', 'mobile'];
const MINUTE = 60_000;
/** The generator's bounds (clickstream.ts): on time at most 60 s behind its clock, late 3 to 10 minutes. */
const ON_TIME_MAX_BEHIND = 60_000;
const LATE_MIN_BEHIND = 180_000;

export interface ClickEvent {
  event_id: string;
  user_id: number;
  event_type: string;
  page: string;
  timestamp: string;
  source: string;
  /** The event time, ms since the epoch. */
  t: number;
}

/** A timestamp of the contract's form as ms since the epoch, or undefined when it is no real instant. */
function instant(text: string): number | undefined {
  const m = TIMESTAMP.exec(text);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const back = new Date(t);
  // Date.UTC rolls 30 February over into March and 25:61 into the next day: refuse those.
  const same =
    back.getUTCFullYear() === y &&
    back.getUTCMonth() === mo - 1 &&
    back.getUTCDate() === d &&
    back.getUTCHours() === h &&
    back.getUTCMinutes() === mi &&
    back.getUTCSeconds() === s;
  return same ? t : undefined;
}

/** The event contract (user_events.v1) in plain JavaScript; the event if the record meets it. */
export function validClickEvent(text: string): ClickEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const e = v as Record<string, unknown>;
  const t = typeof e.timestamp === 'string' ? instant(e.timestamp) : undefined;
  const ok =
    typeof e.event_id === 'string' &&
    UUID.test(e.event_id) &&
    Number.isSafeInteger(e.user_id) &&
    (e.user_id as number) >= 1 &&
    typeof e.event_type === 'string' &&
    EVENT_TYPES.includes(e.event_type) &&
    typeof e.page === 'string' &&
    PAGE.test(e.page) &&
    t !== undefined &&
    typeof e.source === 'string' &&
    SOURCES.includes(e.source);
  return ok ? ({ ...e, t } as unknown as ClickEvent) : undefined;
}

export interface ValidRecord {
  record: LogRecordRef;
  event: ClickEvent;
}

export interface ClickTruth {
  /** Every valid record (duplicates and late ones included: bronze holds them all), by `partition/offset`. */
  valid: Map<string, ValidRecord>;
  /** Invalid records' bytes, by `partition/offset`. */
  malformed: Map<string, Buffer>;
  /** Valid records too late for the windows, by `partition/offset`. */
  late: Set<string>;
  /** Valid, on-time records whose event_id an earlier on-time record had. */
  duplicates: number;
  /** `window_start ms|event_type` → count. */
  events: Map<string, number>;
  /** `window_start ms|source` → logins. */
  logins: Map<string, number>;
  /** `window_start ms` → purchases. */
  purchases: Map<string, number>;
}

const key = (r: { partition: number; offset: number }) => `${r.partition}/${r.offset}`;
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

/**
 * The truth of a topic's records, each produced with its log timestamp = the generator's
 * clock. An event is late when its time is 3 minutes or more behind that clock, on time
 * when at most 60 s behind; nothing falls between (asserted). That decides lateness for
 * the pipeline under any batching of at most a few hundred records per partition (the
 * watermark trails the newest event time seen in earlier batches by 2 minutes, and those
 * hold events within a minute of the clock), provided no late record is in the first
 * batch (the tests produce none among the first records). `kinds` (the generator's own
 * labels, by `partition/offset`) are checked against this: same verdicts.
 */
export function clickTruth(records: LogRecordRef[], kinds?: Map<string, ClickRecordKind>): ClickTruth {
  const truth: ClickTruth = {
    valid: new Map(),
    malformed: new Map(),
    late: new Set(),
    duplicates: 0,
    events: new Map(),
    logins: new Map(),
    purchases: new Map(),
  };
  const ordered = [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const seen = new Set<string>();
  for (const r of ordered) {
    const k = key(r);
    const event = validClickEvent(r.value.toString('utf8'));
    const kind = kinds?.get(k);
    if (kinds) assert.ok(kind !== undefined, `record ${k} was produced by the test`);
    if (event === undefined) {
      if (kinds) assert.equal(kind, 'malformed', `record ${k} breaks the contract: ${r.value}`);
      truth.malformed.set(k, r.value);
      continue;
    }
    if (kinds) assert.notEqual(kind, 'malformed', `malformed record ${k} meets the contract: ${r.value}`);
    truth.valid.set(k, { record: r, event });
    const behind = r.timestamp - event.t;
    const late = behind >= LATE_MIN_BEHIND;
    assert.ok(
      late || (behind >= 0 && behind <= ON_TIME_MAX_BEHIND),
      `record ${k} is ${behind} ms behind the clock: neither on time nor late under every batching`,
    );
    if (kinds) assert.equal(late, kind === 'late', `record ${k} (${kind}, ${behind} ms behind) late`);
    if (late) {
      truth.late.add(k);
      continue;
    }
    // First copy by (partition, offset); every copy carries the same event, so any copy counts the same.
    if (seen.has(event.event_id)) {
      truth.duplicates++;
      continue;
    }
    seen.add(event.event_id);
    const ws = Math.floor(event.t / MINUTE) * MINUTE;
    bump(truth.events, `${ws}|${event.event_type}`);
    if (event.event_type === 'login') bump(truth.logins, `${ws}|${event.source}`);
    if (event.event_type === 'purchase') bump(truth.purchases, `${ws}`);
  }
  return truth;
}

const sorted = (m: Map<string, number>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Every row of realtime.* equals the truth (same keys, same counts), `updated_at` set. */
export async function assertRealtime(url: string, truth: ClickTruth): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const read = async (sql: string, keyOf: (r: Record<string, unknown>) => string, count: string) => {
      const { rows } = await client.query(sql);
      const out = new Map<string, number>();
      for (const r of rows) {
        const k = keyOf(r);
        assert.ok(!out.has(k), `one row per key (${k})`);
        assert.ok(r.updated_at instanceof Date, `updated_at is set (${k})`);
        out.set(k, Number(r[count]));
      }
      return out;
    };
    const ws = (r: Record<string, unknown>) => (r.window_start as Date).getTime();
    const events = await read(
      'SELECT window_start, event_type, event_count, updated_at FROM realtime.events_per_minute',
      (r) => `${ws(r)}|${r.event_type}`,
      'event_count',
    );
    const logins = await read(
      'SELECT window_start, source, login_count, updated_at FROM realtime.logins_per_source',
      (r) => `${ws(r)}|${r.source}`,
      'login_count',
    );
    const purchases = await read(
      'SELECT window_start, purchase_count, updated_at FROM realtime.purchases_per_minute',
      (r) => `${ws(r)}`,
      'purchase_count',
    );
    assert.deepEqual(sorted(events), sorted(truth.events), 'realtime.events_per_minute equals the truth');
    assert.deepEqual(sorted(logins), sorted(truth.logins), 'realtime.logins_per_source equals the truth');
    assert.deepEqual(
      sorted(purchases),
      sorted(truth.purchases),
      'realtime.purchases_per_minute equals the truth',
    );
  } finally {
    await client.end();
  }
}

/** DuckDB's timestamp text (`2026-03-14 23:55:50.7+00`) as ms since the epoch. */
const duckTimeMs = (v: unknown): number => Date.parse(String(v).replace(' ', 'T').replace(/\+00$/, 'Z'));

/**
 * Bronze holds every valid record exactly once by (source_partition, source_offset),
 * duplicates and late ones included, every column as the record says; delta-rs (when
 * `deltaRsPath` is given) reads the same rows.
 */
export async function assertBronze(
  bronze: DeltaTable,
  truth: ClickTruth,
  deltaRsPath: string | undefined,
): Promise<void> {
  const snapshot = await bronze.snapshot();
  const rows = await readRows(bronze, snapshot);
  const got = new Set<string>();
  for (const row of rows) {
    const k = `${row.source_partition}/${row.source_offset}`;
    assert.ok(!got.has(k), `record ${k} is in bronze once`);
    got.add(k);
    const v = truth.valid.get(k);
    assert.ok(v !== undefined, `bronze row ${k} is a valid record of the topic`);
    const e = v.event;
    assert.deepEqual(
      {
        event_id: row.event_id,
        user_id: Number(row.user_id),
        event_type: row.event_type,
        page: row.page,
        timestamp: duckTimeMs(row.timestamp),
        source: row.source,
        ingest_time: duckTimeMs(row.ingest_time),
        event_date: row.event_date,
      },
      {
        event_id: e.event_id,
        user_id: e.user_id,
        event_type: e.event_type,
        page: e.page,
        timestamp: e.t,
        source: e.source,
        ingest_time: v.record.timestamp,
        event_date: new Date(e.t).toISOString().slice(0, 10),
      },
      `bronze row ${k}`,
    );
  }
  assert.equal(got.size, truth.valid.size, 'every valid record is in bronze');
  if (deltaRsPath === undefined) return;
  const rs = await deltaRsColumns(deltaRsPath, ['source_partition', 'source_offset', 'event_id']);
  assert.equal(rs.version, snapshot.version, 'delta-rs reads bronze at its latest version');
  const { source_partition: ps, source_offset: os, event_id: ids } = rs.columns;
  const byRs = new Map<string, unknown>();
  for (let i = 0; i < ps.length; i++) byRs.set(`${ps[i]}/${os[i]}`, ids[i]);
  assert.equal(byRs.size, ps.length, 'delta-rs reads each record once');
  assert.equal(byRs.size, truth.valid.size, 'delta-rs reads every valid record');
  for (const [k, v] of truth.valid) assert.equal(byRs.get(k), v.event.event_id, `delta-rs reads ${k}`);
}

/**
 * The DLQ holds every malformed record once with its original bytes, and every late
 * one once with rule `late` (naming both windows), and nothing else.
 */
export async function assertDlq(dlq: LogRecordRef[], truth: ClickTruth): Promise<void> {
  const got = new Map<string, ReturnType<typeof decodeDeadLetter>>();
  for (const r of dlq) {
    const d = decodeDeadLetter(r.value);
    const k = `${d.source_partition}/${d.source_offset}`;
    assert.ok(!got.has(k), `record ${k} is in the DLQ once`);
    got.set(k, d);
  }
  for (const [k, bytes] of truth.malformed) {
    const d = got.get(k);
    assert.ok(d !== undefined, `malformed record ${k} is in the DLQ`);
    assert.notEqual(d.rule, 'late', `malformed record ${k} is rejected by the contract`);
    assert.ok(Buffer.from(originalBytes(d) ?? []).equals(bytes), `the DLQ keeps the bytes of ${k}`);
  }
  for (const k of truth.late) {
    const d = got.get(k);
    assert.ok(d !== undefined, `late record ${k} is in the DLQ`);
    assert.equal(d.rule, 'late', `record ${k} is in the DLQ as late`);
    assert.deepEqual(
      d.field.split(',').sort(),
      ['by_type', 'by_type_and_source'],
      `${k}: late for both windows`,
    );
    assert.ok(
      Buffer.from(originalBytes(d) ?? []).equals(truth.valid.get(k)!.record.value),
      `the DLQ keeps the bytes of ${k}`,
    );
  }
  assert.equal(got.size, truth.malformed.size + truth.late.size, 'the DLQ holds nothing else');
}
