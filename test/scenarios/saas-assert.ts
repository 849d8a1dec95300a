/**
 * The sales pipeline's outputs compared with the truth of saas-truth.ts: its four tables
 * (rows in the normal form of test/interop/helpers.ts, as our reader or delta-rs gives
 * them), the dead-letter topic, `dq.results.v1` batch by batch, and the Avro revenue
 * topic (decoded by the caller: Confluent's Python deserializer, or avsc).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import avro from 'avsc';
import { tablesDir } from '../../src/pipeline/compile.ts';
import { centsText, REVENUE_SIGN, type SalesEventType } from '../../src/scenarios/saas-sales/domain.ts';
import type { OracleEvent } from '../../src/scenarios/saas-sales/oracle.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { decodeDeadLetter, originalBytes } from '../../src/stream/dead-letter.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { deltaRsRead, isoMicros, normRows } from '../interop/helpers.ts';
import { expectedRule, pos, type SalesTruth, type TopicRecord, windowKey } from './saas-truth.ts';

type Row = Record<string, unknown>;
const iso = (ms: number) => isoMicros(new Date(ms));

/** A table's rows in the normal form: read by our reader, or by delta-rs. */
export async function tableRows(dataDir: string, name: string, reader: 'ours' | 'delta-rs'): Promise<Row[]> {
  if (reader === 'delta-rs') return (await deltaRsRead(join(tablesDir(dataDir), name))).rows;
  const table = await DeltaTable.open(new LocalStore(join(tablesDir(dataDir), name)));
  const snapshot = await table.snapshot();
  return normRows(await readRows(table, snapshot), snapshot.schema);
}

/**
 * `actual` holds each key once and exactly the rows of `expected`: on a difference, says
 * how many are missing, extra or different, with the first of each.
 */
export function assertRows(actual: Row[], expected: Row[], key: (r: Row) => string, what: string): void {
  const got = new Map<string, Row>();
  for (const r of actual) {
    const k = key(r);
    assert.ok(!got.has(k), `${what}: row ${k} is there once`);
    got.set(k, r);
  }
  const want = new Map(expected.map((r) => [key(r), r]));
  assert.equal(want.size, expected.length, `${what}: the expected rows have distinct keys`);
  const missing = [...want.keys()].filter((k) => !got.has(k));
  const extra = [...got.keys()].filter((k) => !want.has(k));
  assert.ok(
    missing.length === 0 && extra.length === 0,
    `${what}: ${missing.length} rows missing (first: ${missing.slice(0, 3).join(', ')}), ${extra.length} rows not expected (first: ${extra.slice(0, 3).join(', ')}); ${got.size} rows, ${want.size} expected`,
  );
  for (const [k, w] of want) assert.deepEqual(got.get(k), w, `${what}: row ${k}`);
}

function eventColumns(e: OracleEvent): Row {
  return {
    event_id: e.eventId,
    event_time: iso(e.eventTime),
    ingest_time: iso(e.ingestTime),
    schema_version: String(e.schemaVersion),
    account_id: e.accountId,
    subscription_id: e.subscriptionId,
    plan_tier: e.planTier,
    previous_plan_tier: e.previousPlanTier,
    region: e.region,
    event_type: e.eventType,
    billing_period: e.billingPeriod,
    amount: centsText(e.amountCents),
    currency: e.currency,
    seats: String(e.seats),
    discount_code: e.discountCode,
  };
}

function signed(e: OracleEvent): Row {
  const sign = REVENUE_SIGN[e.eventType as SalesEventType];
  return {
    charge_amount: centsText(sign === 1 ? e.amountCents : 0n),
    refund_amount: centsText(sign === -1 ? e.amountCents : 0n),
    net_amount: centsText(BigInt(sign) * e.amountCents),
  };
}

const eventDate = (e: OracleEvent) => new Date(e.eventTime).toISOString().slice(0, 10);

/** Bronze: every valid record once, as it came, with its position, broker time and batch. */
export function assertBronze(rows: Row[], t: SalesTruth, what = 'sales_bronze'): void {
  const expected = t.valid.map((e) => {
    const b = t.batches[t.batchIndex.get(pos(e))!];
    return {
      ...eventColumns(e),
      source_partition: e.partition,
      source_offset: String(e.offset),
      broker_time: iso(t.byPos.get(pos(e))!.timestamp),
      pipeline_time: isoMicros(b.time),
      batch_id: String(b.id),
      event_date: eventDate(e),
    };
  });
  assertRows(rows, expected, (r) => `${r.source_partition}/${r.source_offset}`, what);
}

/** Silver: each event_id once (its first copy), standardised. */
export function assertSilver(rows: Row[], t: SalesTruth, what = 'sales_silver'): void {
  const expected = t.events.map((e) => ({
    ...eventColumns(e),
    ...signed(e),
    source_partition: e.partition,
    source_offset: String(e.offset),
    event_date: eventDate(e),
  }));
  assertRows(rows, expected, (r) => String(r.event_id), what);
}

/** The late table: exactly the events the window found late, with the watermark before their batch. */
export function assertLate(rows: Row[], t: SalesTruth, what = 'sales_late_events'): void {
  const expected = t.late.map((e) => {
    const i = t.batchIndex.get(pos(e))!;
    const wm = i > 0 ? t.watermarks[i - 1] : null;
    assert.ok(wm !== null, `late event ${pos(e)} has a watermark before its batch`);
    return {
      _o: String(e.offset),
      _p: e.partition,
      _t: String(t.byPos.get(pos(e))!.timestamp),
      ...eventColumns(e),
      ...signed(e),
      late_window: 'revenue_5m',
      late_watermark: iso(wm),
    };
  });
  assertRows(rows, expected, (r) => `${r._p}/${r._o}`, what);
}

/** Gold: every closed window once with its final value. */
export function assertGold(rows: Row[], t: SalesTruth, what = 'sales_revenue_5m'): void {
  const expected = t.closed.map(({ batch: _, ...w }) => ({
    ...w,
    window_start: isoMicros(w.window_start),
    window_end: isoMicros(w.window_end),
    events: String(w.events),
    accounts: String(w.accounts),
    window_date: w.window_start.slice(0, 10),
  }));
  assertRows(rows, expected, (r) => windowKey(r as never), what);
}

/**
 * The dead-letter topic: every invalid record once, in its source partition in source
 * order, its bytes unchanged, the rule the oracle's judgement calls for.
 */
export function assertDlq(
  dlq: readonly TopicRecord[],
  t: SalesTruth,
): Map<string, { field: string; rule: string }> {
  const got = new Map<string, { field: string; rule: string }>();
  const last = new Map<number, number>();
  for (const r of dlq) {
    const d = decodeDeadLetter(r.value!);
    const at = `${d.source_partition}/${d.source_offset}`;
    assert.ok(!got.has(at), `DLQ: record ${at} is there once`);
    assert.equal(r.partition, d.source_partition, `DLQ: ${at} in the DLQ partition of its source partition`);
    assert.ok(d.source_offset > (last.get(r.partition) ?? -1), `DLQ: ${at} after the one before it`);
    last.set(r.partition, d.source_offset);
    assert.equal(r.key?.toString(), `${t.topic}/${at}`, `DLQ: ${at}'s key`);
    const raw = t.byPos.get(at);
    assert.ok(raw, `DLQ: ${at} is a record of the topic`);
    const bytes = originalBytes(d);
    assert.ok(
      bytes !== null && raw.value !== null && Buffer.from(bytes).equals(raw.value),
      `DLQ: ${at}'s bytes unchanged`,
    );
    assert.equal(d.source_timestamp, raw.timestamp, `DLQ: ${at}'s source timestamp`);
    assert.equal(d.source_topic, t.topic);
    assert.equal(d.contract, 'sales_event.v2');
    got.set(at, { field: d.field, rule: d.rule });
  }
  const want = new Map(t.invalid.map((x) => [pos(x), expectedRule(x)]));
  const missing = [...want.keys()].filter((k) => !got.has(k));
  const extra = [...got.keys()].filter((k) => !want.has(k));
  assert.deepEqual([missing, extra], [[], []], 'DLQ: exactly the invalid records (missing, not invalid)');
  for (const [at, w] of want) assert.deepEqual(got.get(at), w, `DLQ: ${at}'s field and rule`);
  return got;
}

/**
 * `dq.results.v1` batch by batch: every batch reports the same contract rules (the Avro
 * decoder's and the contract's, failed or not), with the batch's records, its accepted
 * ones and, per rule, the records of the batch the DLQ names it for; the dedup its
 * dropped copies, the window its late events; the first failing ones as samples. Then
 * the totals, which the brief states: per rule = DLQ records naming it, `unique` = the
 * copies dropped, `on_time` = the late table.
 */
export function assertQuality(
  t: SalesTruth,
  dlqRules: ReadonlyMap<string, { field: string; rule: string }>,
): void {
  const batches = t.batches.map(() => ({
    records: 0,
    valid: 0,
    /** Per contract rule (`field|rule`): the sample ids of the batch's records rejected for it, in order. */
    contract: new Map<string, string[]>(),
    dropped: [] as OracleEvent[],
    windowRows: 0,
    late: [] as OracleEvent[],
  }));
  const at = (p: { partition: number; offset: number }) => batches[t.batchIndex.get(pos(p))!];
  for (const r of t.input) at(r).records++;
  const types = new Map([...t.schemas].map(([id, text]) => [id, avro.Type.forSchema(JSON.parse(text))]));
  for (const x of t.invalid) {
    const { field, rule } = dlqRules.get(pos(x))!;
    const k = `${field}|${rule}`;
    const b = at(x);
    // A sample is the record's event_id when it was decoded (it broke a rule), else its position.
    let id = pos(x);
    if (x.reason === 'rule') {
      const v = t.byPos.get(pos(x))!.value!;
      id = (types.get(v.readUInt32BE(1))!.fromBuffer(v.subarray(5)) as { event_id: string }).event_id;
    }
    b.contract.set(k, [...(b.contract.get(k) ?? []), id]);
  }
  for (const e of t.valid) at(e).valid++;
  for (const e of t.dropped) at(e).dropped.push(e);
  for (const e of [...t.events, ...t.stale]) at(e).windowRows++;
  for (const e of t.late) at(e).late.push(e);
  const byPosition = (x: OracleEvent, y: OracleEvent) => x.partition - y.partition || x.offset - y.offset;

  const contractRules = new Set<string>();
  const byBatch = new Map<number, typeof t.results>();
  for (const q of t.results) byBatch.set(q.batch_id, [...(byBatch.get(q.batch_id) ?? []), q]);
  t.batches.forEach((b, i) => {
    const want = batches[i];
    const rs = byBatch.get(b.id)!;
    const contract = rs.filter((q) => q.check === 'contract');
    const rules = contract.map((q) => `${q.field}|${q.rule}`);
    if (i === 0) for (const r of rules) contractRules.add(r);
    assert.deepEqual(new Set(rules), contractRules, `batch ${b.id}: the same contract rules as every batch`);
    for (const k of want.contract.keys()) assert.ok(rules.includes(k), `batch ${b.id} reports ${k}`);
    for (const q of contract) {
      const failing = want.contract.get(`${q.field}|${q.rule}`) ?? [];
      assert.deepEqual(
        { records: q.records, passed: q.passed, failed: q.failed, step: q.step, samples: q.sample_ids },
        {
          records: want.records,
          passed: want.valid,
          failed: failing.length,
          step: 'sales_event.v2',
          samples: failing.slice(0, 5),
        },
        `batch ${b.id}: contract result ${q.field} ${q.rule}`,
      );
    }
    const one = (check: string) => {
      const found = rs.filter((q) => q.check === check);
      assert.equal(found.length, 1, `batch ${b.id}: one ${check} result`);
      return found[0];
    };
    const u = one('dedup');
    assert.deepEqual(
      [u.step, u.field, u.rule, u.records, u.failed, u.passed, u.sample_ids],
      [
        'deduped',
        'event_id',
        'unique',
        want.valid,
        want.dropped.length,
        want.valid - want.dropped.length,
        [...want.dropped]
          .sort(byPosition)
          .slice(0, 5)
          .map((e) => e.eventId),
      ],
      `batch ${b.id}: the dedup's result`,
    );
    const w = one('window');
    assert.deepEqual(
      [w.step, w.field, w.rule, w.records, w.failed, w.passed, w.sample_ids],
      [
        'revenue_5m',
        'event_time',
        'on_time',
        want.windowRows,
        want.late.length,
        want.windowRows - want.late.length,
        [...want.late]
          .sort(byPosition)
          .slice(0, 5)
          .map((e) => e.eventId),
      ],
      `batch ${b.id}: the window's result`,
    );
    assert.equal(
      rs.length,
      contract.length + 2,
      `batch ${b.id}: its contract rules, the dedup and the window`,
    );
  });

  for (const k of [
    '|avro_magic',
    '|avro_schema_id',
    '|avro_resolve',
    '|avro_body',
    'event_id|pattern',
    'seats|min',
    'amount|min',
    'region|enum',
    'plan_tier|enum',
    'event_type|enum',
    'currency|enum',
  ]) {
    assert.ok(contractRules.has(k), `every batch reports ${k}, failed or not`);
  }

  // The totals.
  const sum = (pred: (q: (typeof t.results)[number]) => boolean) =>
    t.results.filter(pred).reduce((s, q) => s + q.failed, 0);
  const dlqCount = new Map<string, number>();
  for (const r of dlqRules.values())
    dlqCount.set(`${r.field}|${r.rule}`, (dlqCount.get(`${r.field}|${r.rule}`) ?? 0) + 1);
  for (const k of contractRules) {
    assert.equal(
      sum((q) => q.check === 'contract' && `${q.field}|${q.rule}` === k),
      dlqCount.get(k) ?? 0,
      `failed ${k} over all batches = DLQ records naming it`,
    );
  }
  assert.equal(
    sum((q) => q.check === 'dedup'),
    t.dropped.length,
    'unique failures = copies dropped',
  );
  assert.equal(
    sum((q) => q.check === 'window'),
    t.late.length,
    'on_time failures = late events',
  );
}

/** A revenue record decoded by an independent reader, in plain values (decimals as text, times ISO 8601 µs). */
export interface DecodedRevenue {
  partition: number;
  offset: number;
  key: string;
  plan: string;
  value: Row;
}

/**
 * The revenue topic: the gold rows, each once, keyed by tier/region/currency, each
 * produced by the batch whose watermark closed its window (header `tributary-plan`).
 */
export function assertRevenueTopic(records: readonly DecodedRevenue[], t: SalesTruth): void {
  const actual = records.map((r) => ({ ...r.value, __key: r.key, __plan: r.plan }));
  const expected = t.closed.map(({ batch, ...w }) => ({
    window_start: isoMicros(w.window_start),
    window_end: isoMicros(w.window_end),
    plan_tier: w.plan_tier,
    region: w.region,
    currency: w.currency,
    revenue: w.revenue,
    gross_revenue: w.gross_revenue,
    refunds: w.refunds,
    events: w.events,
    accounts: w.accounts,
    record_key: `${w.plan_tier}/${w.region}/${w.currency}`,
    __key: `${w.plan_tier}/${w.region}/${w.currency}`,
    __plan: String(batch),
  }));
  assertRows(actual, expected, (r) => windowKey(r as never), 'sales.agg.revenue_5m.v1');
}
