/**
 * The truth the orders tests compare against, computed from the log's records by plain
 * JavaScript — an implementation independent of the pipeline's DuckDB SQL:
 * - which records are valid (the order contract, checked with JSON.parse);
 * - which valid records are first occurrences of their event_id (the rest are duplicates);
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
import { decodeDeadLetter, originalBytes } from '../../src/quality/dlq.ts';
import { openConnection, scan } from '../../src/table/index.ts';
import type { DeltaTable } from '../../src/table/table.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STATUSES = Object.keys(STATUS_RANK);

interface OrderEvent {
  event_id: string;
  event_type: string;
  event_timestamp: number;
  order_id: string;
  current_status: string;
}

const str = (x: unknown): x is string => typeof x === 'string';
const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** The order contract in plain JS; the event if valid. */
export function validOrderEvent(text: string): OrderEvent | undefined {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text);
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
  return ok ? (v as unknown as OrderEvent) : undefined;
}

export interface LogRecordRef {
  partition: number;
  offset: number;
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
        out.push({ partition: p, offset: r.offset, value: Buffer.from(r.value ?? []) });
      if (res.records.length === 0) break;
      offset = res.nextOffset;
    }
  }
  return out;
}

export interface Expected {
  /** event_id → "partition/offset" of its first occurrence. */
  events: Map<string, string>;
  /** "partition/offset" of every invalid record → its bytes. */
  rejects: Map<string, Buffer>;
  /** order_id → [status, last event_id]. */
  current: Map<string, [string, string]>;
  duplicates: number;
}

export function expectedFrom(records: LogRecordRef[]): Expected {
  const events = new Map<string, string>();
  const rejects = new Map<string, Buffer>();
  const latest = new Map<string, OrderEvent>();
  let duplicates = 0;
  const sorted = [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  for (const r of sorted) {
    const key = `${r.partition}/${r.offset}`;
    const e = validOrderEvent(r.value.toString('utf8'));
    if (!e) {
      rejects.set(key, r.value);
      continue;
    }
    if (events.has(e.event_id)) {
      duplicates++;
      continue;
    }
    events.set(e.event_id, key);
    const cur = latest.get(e.order_id);
    if (!cur || newer(e, cur)) latest.set(e.order_id, e);
  }
  const current = new Map<string, [string, string]>();
  for (const [id, e] of latest) current.set(id, [e.current_status, e.event_id]);
  return { events, rejects, current, duplicates };
}

function newer(a: OrderEvent, b: OrderEvent): boolean {
  if (a.event_timestamp !== b.event_timestamp) return a.event_timestamp > b.event_timestamp;
  const ra = STATUS_RANK[a.event_type.slice('ORDER_'.length) as keyof typeof STATUS_RANK];
  const rb = STATUS_RANK[b.event_type.slice('ORDER_'.length) as keyof typeof STATUS_RANK];
  if (ra !== rb) return ra > rb;
  return a.event_id > b.event_id;
}

async function tableRows(table: DeltaTable, columns: string): Promise<Record<string, unknown>[]> {
  const snap = await table.snapshot();
  const files = await scan(table, snap);
  if (files.length === 0) return [];
  const conn = await openConnection();
  try {
    const list = files.map((f) => `'${f.localPath.replaceAll("'", "''")}'`).join(', ');
    return (
      await conn.runAndReadAll(`SELECT ${columns} FROM read_parquet([${list}])`)
    ).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    conn.closeSync();
  }
}

/** Asserts the tables and the DLQ hold exactly what `expected` says. */
export async function assertOutputs(
  expected: Expected,
  tables: { events: DeltaTable; current: DeltaTable },
  log: Log,
  dlqTopic: string,
): Promise<void> {
  const events = await tableRows(tables.events, 'event_id, source_partition, source_offset');
  const seen = new Map<string, string>();
  for (const r of events) {
    const id = String(r.event_id);
    assert.ok(!seen.has(id), `event ${id} is in orders_events more than once`);
    seen.set(id, `${r.source_partition}/${r.source_offset}`);
  }
  assert.equal(seen.size, expected.events.size, 'orders_events holds every valid event once');
  for (const [id, at] of expected.events) assert.equal(seen.get(id), at, `event ${id} from ${at}`);

  const current = await tableRows(tables.current, 'order_id, status, last_event_id');
  const got = new Map<string, [string, string]>();
  for (const r of current) {
    const id = String(r.order_id);
    assert.ok(!got.has(id), `order ${id} has more than one row in orders_current`);
    got.set(id, [String(r.status), String(r.last_event_id)]);
  }
  assert.equal(got.size, expected.current.size, 'orders_current has one row per order');
  for (const [id, state] of expected.current) assert.deepEqual(got.get(id), state, `state of ${id}`);

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
