/**
 * The truth the orders tests compare against, computed from the log's records by plain
 * JavaScript — an implementation independent of the pipeline's DuckDB SQL:
 * - which records are valid (the order contract, checked with JSON.parse);
 * - which valid records are first occurrences of their event_id (the rest are duplicates);
 * - every column of both tables: amounts as exact DECIMAL(12,2) text taken from the
 *   number's own JSON text (not through a double), items field by field, the event hour
 *   in UTC, where each row came from in the log and its ingest time (the record's
 *   timestamp);
 * - each order's latest state: newest event time, then lifecycle rank, then event_id.
 * And readers of what the pipeline produced: the two tables and the DLQ topic.
 */
import assert from 'node:assert/strict';
import {
  CATEGORIES,
  CURRENCIES,
  EVENT_TYPES,
  PAYMENT_METHODS,
  STATUS_RANK,
} from '../../src/connectors/generators/orders.ts';
import type { Log } from '../../src/log/log.ts';
import { childLocation } from '../../src/pipeline/locations.ts';
import { decodeDeadLetter, originalBytes } from '../../src/stream/dead-letter.ts';
import { openConnection, snapshotQuery } from '../../src/table/index.ts';
import type { DeltaTable } from '../../src/table/table.ts';
import { deltaRsColumns } from '../interop/helpers.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STATUSES = Object.keys(STATUS_RANK);

interface Item {
  sku: string;
  quantity: number;
  unit_price: number;
  category: string;
}

interface OrderEvent {
  event_id: string;
  event_type: string;
  event_timestamp: number;
  order_id: string;
  user_id: string;
  total_amount: number;
  currency: string;
  payment_method: string;
  items: Item[];
  current_status: string;
}

const str = (x: unknown): x is string => typeof x === 'string';
const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** The order contract in plain JS; the event if valid. */
export function validOrderEvent(text: string): OrderEvent | undefined {
  return validParsed(text)?.event;
}

/** The JSON text of each number, by the object holding it and its key (JSON.parse source access). */
type Sources = WeakMap<object, Record<string, string>>;

function validParsed(text: string): { event: OrderEvent; sources: Sources } | undefined {
  let v: Record<string, unknown>;
  const sources: Sources = new WeakMap();
  try {
    v = JSON.parse(text, function (this: object, key: string, value: unknown, ctx?: { source?: string }) {
      if (typeof value === 'number' && ctx?.source !== undefined) {
        const m = sources.get(this) ?? {};
        m[key] = ctx.source;
        sources.set(this, m);
      }
      return value;
    });
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  // Money: at least 0, at most 9,999,999,999.99, whole cents (the contract's rules).
  const money = (x: unknown): x is number =>
    num(x) && x >= 0 && x <= 9_999_999_999.99 && Math.abs(x * 100 - Math.round(x * 100)) < 1e-6;
  const items = v.items;
  const ok =
    str(v.event_id) &&
    UUID.test(v.event_id) &&
    str(v.event_type) &&
    EVENT_TYPES.includes(v.event_type) &&
    Number.isInteger(v.event_timestamp) &&
    (v.event_timestamp as number) >= 946_684_800 &&
    (v.event_timestamp as number) <= 4_102_444_800 &&
    str(v.order_id) &&
    /^ord-[0-9]{8}-[0-9]+$/.test(v.order_id) &&
    str(v.user_id) &&
    money(v.total_amount) &&
    str(v.currency) &&
    (CURRENCIES as readonly string[]).includes(v.currency) &&
    str(v.payment_method) &&
    (PAYMENT_METHODS as readonly string[]).includes(v.payment_method) &&
    Array.isArray(items) &&
    items.length >= 1 &&
    items.every(
      (it) =>
        typeof it === 'object' &&
        it !== null &&
        str(it.sku) &&
        Number.isInteger(it.quantity) &&
        it.quantity >= 1 &&
        money(it.unit_price) &&
        str(it.category) &&
        (CATEGORIES as readonly string[]).includes(it.category),
    ) &&
    str(v.current_status) &&
    STATUSES.includes(v.current_status);
  return ok ? { event: v as unknown as OrderEvent, sources } : undefined;
}

/**
 * A JSON number's text as DECIMAL(12,2) text ("12.30"), exactly: digits and exponent
 * are shifted as text, never rounded through a double.
 */
export function decimal2(text: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  assert.ok(m, `'${text}' is a JSON number`);
  const digits = BigInt(m[2] + (m[3] ?? ''));
  // value = digits × 10^-scale; cents = value × 100.
  const shift = 2 - ((m[3]?.length ?? 0) - Number(m[4] ?? 0));
  let cents: bigint;
  if (shift >= 0) cents = digits * 10n ** BigInt(shift);
  else {
    const div = 10n ** BigInt(-shift);
    assert.equal(digits % div, 0n, `the amount ${text} is whole cents`);
    cents = digits / div;
  }
  const sign = m[1] === '-' && cents !== 0n ? '-' : '';
  return `${sign}${cents / 100n}.${String(cents % 100n).padStart(2, '0')}`;
}

/** An integer JSON number's text as BIGINT text. */
function integerText(text: string): string {
  assert.match(text, /^-?\d+$/, `'${text}' is an integer without exponent or fraction`);
  return BigInt(text).toString();
}

export interface LogRecordRef {
  partition: number;
  offset: number;
  timestamp: number;
  value: Buffer;
}

export async function readTopic(log: Log, topic: string): Promise<LogRecordRef[]> {
  const { partitions } = await log.describeTopic(topic);
  const out: LogRecordRef[] = [];
  for (let p = 0; p < partitions; p++) {
    const { latest } = await log.offsets(topic, p);
    let offset = (await log.offsets(topic, p)).earliest;
    while (offset < latest) {
      const res = await log.fetch(topic, p, offset, { maxRecords: 10_000 });
      for (const r of res.records)
        out.push({
          partition: p,
          offset: r.offset,
          timestamp: r.timestamp,
          value: Buffer.from(r.value ?? []),
        });
      // A fetch may step over offsets without records (Kafka's transaction markers).
      if (res.nextOffset <= offset) break;
      offset = res.nextOffset;
    }
  }
  return out;
}

/** Where a record is in the log and when it was appended. */
interface Position {
  partition: number;
  offset: number;
  timestamp: number;
}

/** The columns both tables take from an event, in canonical text (see `EVENT_COLUMNS`). */
interface EventValues {
  event_type: string;
  event_timestamp: number;
  order_id: string;
  user_id: string;
  total_amount: string;
  currency: string;
  payment_method: string;
  items: Array<{ sku: string; quantity: string; unit_price: string; category: string }>;
}

export interface EventRow extends EventValues {
  event_id: string;
  current_status: string;
  event_hour: string;
  /** The first occurrence of the event_id in the log. */
  at: Position;
}

export interface CurrentRow extends EventValues {
  order_id: string;
  status: string;
  status_rank: number;
  last_event_type: string;
  last_event_id: string;
  /**
   * Every occurrence of the winning event in the log (duplicates are byte-for-byte
   * copies): the row may come from any of them, depending on which batch held which.
   */
  at: Position[];
}

export interface Expected {
  /** event_id → its row in orders_events. */
  events: Map<string, EventRow>;
  /** "partition/offset" of every invalid record → its bytes. */
  rejects: Map<string, Buffer>;
  /** order_id → its row in orders_current. */
  current: Map<string, CurrentRow>;
  duplicates: number;
}

const rankOf = (eventType: string) =>
  STATUS_RANK[eventType.slice('ORDER_'.length) as keyof typeof STATUS_RANK];

function eventValues(e: OrderEvent, sources: Sources): EventValues {
  const src = (o: object, key: string) => {
    const s = sources.get(o)?.[key];
    assert.ok(s !== undefined, `the JSON text of ${key} is known`);
    return s;
  };
  return {
    event_type: e.event_type,
    event_timestamp: e.event_timestamp,
    order_id: e.order_id,
    user_id: e.user_id,
    total_amount: decimal2(src(e, 'total_amount')),
    currency: e.currency,
    payment_method: e.payment_method,
    items: e.items.map((it) => ({
      sku: it.sku,
      quantity: integerText(src(it, 'quantity')),
      unit_price: decimal2(src(it, 'unit_price')),
      category: it.category,
    })),
  };
}

/** `yyyy-MM-dd-HH` of epoch seconds, in UTC. */
function hourOf(seconds: number): string {
  const iso = new Date(seconds * 1000).toISOString();
  return `${iso.slice(0, 10)}-${iso.slice(11, 13)}`;
}

export function expectedFrom(records: LogRecordRef[]): Expected {
  const events = new Map<string, EventRow>();
  const rejects = new Map<string, Buffer>();
  const latest = new Map<string, OrderEvent>();
  const values = new Map<string, EventValues>();
  const occurrences = new Map<string, Position[]>();
  let duplicates = 0;
  const sorted = [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  for (const r of sorted) {
    const key = `${r.partition}/${r.offset}`;
    const parsed = validParsed(r.value.toString('utf8'));
    if (!parsed) {
      rejects.set(key, r.value);
      continue;
    }
    const e = parsed.event;
    const at = { partition: r.partition, offset: r.offset, timestamp: r.timestamp };
    if (events.has(e.event_id)) {
      duplicates++;
      occurrences.get(e.event_id)!.push(at);
      continue;
    }
    occurrences.set(e.event_id, [at]);
    const v = eventValues(e, parsed.sources);
    values.set(e.event_id, v);
    events.set(e.event_id, {
      ...v,
      event_id: e.event_id,
      current_status: e.current_status,
      event_hour: hourOf(e.event_timestamp),
      at,
    });
    const cur = latest.get(e.order_id);
    if (!cur || newer(e, cur)) latest.set(e.order_id, e);
  }
  const current = new Map<string, CurrentRow>();
  for (const [id, e] of latest) {
    current.set(id, {
      ...values.get(e.event_id)!,
      order_id: id,
      status: e.current_status,
      status_rank: rankOf(e.event_type),
      last_event_type: e.event_type,
      last_event_id: e.event_id,
      at: occurrences.get(e.event_id)!,
    });
  }
  return { events, rejects, current, duplicates };
}

function newer(a: OrderEvent, b: OrderEvent): boolean {
  if (a.event_timestamp !== b.event_timestamp) return a.event_timestamp > b.event_timestamp;
  const ra = rankOf(a.event_type);
  const rb = rankOf(b.event_type);
  if (ra !== rb) return ra > rb;
  return a.event_id > b.event_id;
}

/**
 * The columns the two tables share (besides the event type, `last_event_type` in
 * orders_current), as canonical text: decimals as DECIMAL(12,2) text,
 * timestamps as epoch numbers, items as JSON of text fields (NULLs stay null).
 */
const EVENT_COLUMNS = [
  'epoch_us(event_timestamp) AS event_timestamp_us',
  'order_id',
  'user_id',
  'total_amount::VARCHAR AS total_amount',
  'currency',
  'payment_method',
  `to_json(list_transform(items, x -> {'sku': x.sku, 'quantity': x.quantity::VARCHAR, 'unit_price': x.unit_price::VARCHAR, 'category': x.category}))::VARCHAR AS items_json`,
  'source_partition',
  'source_offset',
].join(', ');

async function tableRows(table: DeltaTable, columns: string): Promise<Record<string, unknown>[]> {
  const snap = await table.snapshot();
  const conn = await openConnection();
  try {
    const rel = await snapshotQuery(table, snap, conn);
    return (await conn.runAndReadAll(`SELECT ${columns} FROM (${rel})`)).getRowObjectsJson() as Record<
      string,
      unknown
    >[];
  } finally {
    conn.closeSync();
  }
}

/** The row's event columns in the form `EventValues` holds them. */
function gotValues(r: Record<string, unknown>): EventValues {
  const us = Number(r.event_timestamp_us);
  return {
    event_type: r.event_type as string,
    event_timestamp: us / 1_000_000,
    order_id: r.order_id as string,
    user_id: r.user_id as string,
    total_amount: r.total_amount as string,
    currency: r.currency as string,
    payment_method: r.payment_method as string,
    items: r.items_json === null ? (null as never) : JSON.parse(r.items_json as string),
  };
}

function pick(v: EventValues): EventValues {
  const { event_type, event_timestamp, order_id, user_id, total_amount, currency, payment_method, items } = v;
  return { event_type, event_timestamp, order_id, user_id, total_amount, currency, payment_method, items };
}

/** The ingest time (ms, from a TIMESTAMP rounded to µs) is the record's log timestamp. */
function assertIngest(got: unknown, at: Position, what: string): void {
  assert.ok(got !== null && got !== undefined, `${what} has an ingest time`);
  assert.ok(
    Math.abs(Number(got) - at.timestamp) <= 1,
    `${what}: ingest time ${got} is the log timestamp ${at.timestamp} of ${at.partition}/${at.offset}`,
  );
}

/**
 * Asserts the tables and the DLQ hold exactly what `expected` says, column by column:
 * every valid event once, every rejected record in the DLQ once with its bytes.
 */
export async function assertOutputs(
  expected: Expected,
  tables: { events: DeltaTable; current: DeltaTable },
  log: Log,
  dlqTopic: string,
): Promise<void> {
  const events = await tableRows(
    tables.events,
    `event_id, event_type, current_status, event_hour, epoch_ms(ingest_time) AS ingest_ms, ${EVENT_COLUMNS}`,
  );
  const seen = new Set<string>();
  for (const r of events) {
    const id = String(r.event_id);
    assert.ok(!seen.has(id), `event ${id} is in orders_events more than once`);
    seen.add(id);
    const want = expected.events.get(id);
    assert.ok(want, `event ${id} in orders_events is a valid event of the log`);
    const what = `event ${id} (from ${want.at.partition}/${want.at.offset})`;
    assert.deepEqual(
      [r.source_partition, Number(r.source_offset)],
      [want.at.partition, want.at.offset],
      `${what} comes from its first occurrence`,
    );
    assert.deepEqual(gotValues(r), pick(want), `${what}: columns`);
    assert.equal(r.current_status, want.current_status, `${what}: current_status`);
    assert.equal(r.event_hour, want.event_hour, `${what}: event_hour`);
    assertIngest(r.ingest_ms, want.at, what);
  }
  assert.equal(seen.size, expected.events.size, 'orders_events holds every valid event once');

  const current = await tableRows(
    tables.current,
    `status, status_rank, last_event_type AS event_type, last_event_id, epoch_ms(updated_at) AS updated_ms, ${EVENT_COLUMNS}`,
  );
  const got = new Set<string>();
  for (const r of current) {
    const id = String(r.order_id);
    assert.ok(!got.has(id), `order ${id} has more than one row in orders_current`);
    got.add(id);
    const want = expected.current.get(id);
    assert.ok(want, `order ${id} in orders_current has valid events in the log`);
    assert.deepEqual(
      [r.status, r.last_event_id, r.event_type, r.status_rank],
      [want.status, want.last_event_id, want.last_event_type, want.status_rank],
      `state of ${id}`,
    );
    assert.deepEqual(gotValues(r), pick(want), `order ${id}: columns of its latest event`);
    const at = want.at.find(
      (a) => a.partition === r.source_partition && a.offset === Number(r.source_offset),
    );
    assert.ok(
      at,
      `order ${id}: source ${r.source_partition}/${r.source_offset} is an occurrence of ${want.last_event_id} (${want.at.map((a) => `${a.partition}/${a.offset}`).join(', ')})`,
    );
    assertIngest(r.updated_ms, at, `order ${id} (updated_at)`);
  }
  assert.equal(got.size, expected.current.size, 'orders_current has one row per order');

  const dlq = await readTopic(log, dlqTopic);
  const rejected = new Map<string, Buffer>();
  for (const r of dlq) {
    const d = decodeDeadLetter(r.value);
    const key = `${d.source_partition}/${d.source_offset}`;
    assert.ok(!rejected.has(key), `record ${key} is in the DLQ more than once`);
    assert.ok(d.reason.length > 0, `DLQ record ${key} has a reason`);
    rejected.set(key, Buffer.from(originalBytes(d) ?? []));
  }
  assert.equal(rejected.size, expected.rejects.size, 'every invalid record is in the DLQ once');
  for (const [key, bytes] of expected.rejects) {
    assert.ok(rejected.has(key), `invalid record ${key} is in the DLQ`);
    assert.ok(rejected.get(key)!.equals(bytes), `DLQ keeps the bytes of ${key}`);
  }
}

/**
 * delta-rs reads both tables (checkpoints and `_last_checkpoint` included) at the version
 * Tributary reads (`root`: a directory or an s3:// URL), with the rows `expected` says (identity and state columns).
 */
export async function assertDeltaRsReads(
  root: string,
  expected: Expected,
  tables: { events: DeltaTable; current: DeltaTable },
): Promise<void> {
  const ev = await deltaRsColumns(childLocation(root, 'orders_events'), [
    'event_id',
    'source_partition',
    'source_offset',
  ]);
  assert.equal(
    ev.version,
    (await tables.events.snapshot()).version,
    'delta-rs reads orders_events at its latest version',
  );
  const got = new Map<string, string>();
  const ids = ev.columns.event_id;
  for (let i = 0; i < ids.length; i++) {
    got.set(String(ids[i]), `${ev.columns.source_partition[i]}/${ev.columns.source_offset[i]}`);
  }
  assert.equal(ev.columns.event_id.length, expected.events.size, 'delta-rs reads every event once');
  for (const [id, row] of expected.events) {
    assert.equal(got.get(id), `${row.at.partition}/${row.at.offset}`, `delta-rs reads event ${id}`);
  }
  const cur = await deltaRsColumns(childLocation(root, 'orders_current'), ['order_id', 'last_event_id']);
  assert.equal(
    cur.version,
    (await tables.current.snapshot()).version,
    'delta-rs reads orders_current at its latest version',
  );
  assert.equal(cur.columns.order_id.length, expected.current.size, 'delta-rs reads one row per order');
  const state = new Map(
    cur.columns.order_id.map((id, i) => [String(id), String(cur.columns.last_event_id[i])]),
  );
  for (const [id, row] of expected.current) {
    assert.equal(state.get(id), row.last_event_id, `delta-rs reads the state of ${id}`);
  }
}
