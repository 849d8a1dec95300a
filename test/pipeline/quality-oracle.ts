/**
 * Sales events for the data-quality results (seed 004's `dq.results.v1`), and the truth
 * about them recomputed in plain JavaScript from the bytes in the topic: which rule each
 * record breaks, which are re-sent copies of an earlier event, which are late. Every
 * result record of a batch is checked against that truth over the source offsets it
 * names (records, passed, failed, sample ids), and the sums against the DLQ.
 */
import assert from 'node:assert/strict';
import type { Log, ProduceRecord } from '../../src/log/log.ts';
import { decodeDeadLetter } from '../../src/stream/dead-letter.ts';
import type { QualityResult } from '../../src/stream/quality-results.ts';
import { PIPELINE_HEADER } from '../../src/stream/sinks/quality.ts';
import { PLAN_HEADER } from '../../src/stream/sinks/topic.ts';

export const SOURCE = 'sales';
export const PARTITIONS = 3;
const T0 = Date.UTC(2026, 4, 4, 9, 0, 0);
/** Event time between consecutive events. */
const STEP_MS = 10_000;
const TIERS = ['free', 'pro', 'enterprise'];
const REGIONS = ['emea', 'amer', 'apac'];

/** The pipeline: contract, `batch` metadata, dedup, 5-minute revenue window, quality results. */
export function salesDefinition(o: {
  name: string;
  quality: { topic: string; samples: number; sampleId?: string };
  maxRecords?: number;
  /** The source topic (default `sales`); its DLQ is `<name>.dlq`. */
  source?: string;
}): string {
  return `
name: ${o.name}
source: { topic: ${o.source ?? SOURCE}, partitions: ${PARTITIONS} }
contract:
  name: sales_event.v1
  fields:
    - { name: event_id, type: string }
    - { name: event_time, type: timestamp }
    - { name: account_id, type: string }
    - { name: plan_tier, type: string, enum: [free, pro, enterprise] }
    - { name: region, type: string, enum: [emea, amer, apac] }
    - { name: amount, type: number, min: 0, decimals: 2 }
event_time: { expr: event_time, watermark: 30 minutes }
transforms:
  - name: enriched
    sql: SELECT i.*, b.batch_id, b.batch_time AS pipeline_time FROM input AS i, batch AS b
  - name: unique
    from: enriched
    dedup: { key: event_id, horizon: 1h }
  - name: revenue_5m
    from: unique
    window: { type: tumble, size: 5 minutes }
    group_by: [plan_tier, region]
    aggregates: { revenue: sum(amount), events: count(*) }
sinks:
  - { name: bronze, type: delta_append, from: enriched, table: bronze }
  - { name: gold, type: delta_append, from: revenue_5m, table: gold }
dlq: { topic: ${o.name}.dlq }
quality: { topic: ${o.quality.topic}, samples: ${o.quality.samples}${o.quality.sampleId ? `, sample_id: ${o.quality.sampleId}` : ''} }
runtime: { trigger: 10ms, max_records_per_batch: ${o.maxRecords ?? 150} }
`;
}

/** The contract's rules in the order the decoder reports them (json, then field by field). */
export const DECLARED: ReadonlyArray<readonly [string, string]> = [
  ['', 'json'],
  ['event_id', 'required'],
  ['event_id', 'type'],
  ['event_time', 'required'],
  ['event_time', 'type'],
  ['event_time', 'timestamp'],
  ['account_id', 'required'],
  ['account_id', 'type'],
  ['plan_tier', 'required'],
  ['plan_tier', 'type'],
  ['plan_tier', 'enum'],
  ['region', 'required'],
  ['region', 'type'],
  ['region', 'enum'],
  ['amount', 'required'],
  ['amount', 'type'],
  ['amount', 'min'],
  ['amount', 'decimals'],
];

/** Generates sales events: valid ones, re-sent copies, late ones, and records each breaking one rule. */
export class SalesInput {
  private i = 0;
  private s: number;
  /** Recent valid events, per partition, for copies. */
  private readonly recent: Array<Array<{ value: string }>> = [[], [], []];
  private readonly topic: string;

  constructor(seed: number, topic = SOURCE) {
    this.s = seed;
    this.topic = topic;
  }

  private rnd(): number {
    this.s = (this.s * 1103515245 + 12345) % 2 ** 31;
    return this.s / 2 ** 31;
  }

  /** `n` records; late ones only with `late` (never in the first batch: it has no watermark). */
  next(n: number, late: boolean): ProduceRecord[] {
    const out: ProduceRecord[] = [];
    for (let k = 0; k < n; k++) {
      const i = this.i++;
      const partition = i % PARTITIONS;
      const time = new Date(T0 + i * STEP_MS).toISOString();
      const ev: Record<string, unknown> = {
        event_id: `evt-${i}`,
        event_time: time,
        account_id: `acct-${i % 17}`,
        plan_tier: TIERS[i % 3],
        region: REGIONS[(i >> 2) % 3],
        amount: Math.round(this.rnd() * 50_000) / 100,
      };
      const r = this.rnd();
      let value: string;
      if (r < 0.01) value = JSON.stringify(ev).slice(0, 30);
      else if (r < 0.02) value = JSON.stringify({ ...ev, amount: String(ev.amount) });
      else if (r < 0.03) value = JSON.stringify({ ...ev, plan_tier: 'gold' });
      else if (r < 0.04) value = JSON.stringify({ ...ev, amount: -5 });
      else if (r < 0.05) value = JSON.stringify({ ...ev, account_id: undefined });
      else if (r < 0.055) value = JSON.stringify({ ...ev, event_id: null });
      else if (r < 0.065) value = JSON.stringify({ ...ev, event_time: 'yesterday' });
      else if (r < 0.075) value = JSON.stringify(ev).replace(/"amount":[0-9.]+/, '"amount":1.234');
      else if (r < 0.115 && this.recent[partition].length > 0) {
        // A copy of a recent event, re-sent to its partition (keyed), seconds to minutes later.
        const rec = this.recent[partition];
        value = rec[Math.floor(this.rnd() * rec.length)].value;
      } else if (late && r < 0.13) {
        value = JSON.stringify({ ...ev, event_time: new Date(T0 + i * STEP_MS - 86_400_000).toISOString() });
      } else {
        value = JSON.stringify(ev);
        this.recent[partition].push({ value });
        if (this.recent[partition].length > 5) this.recent[partition].shift();
      }
      out.push({ topic: this.topic, partition, value: Buffer.from(value) });
    }
    return out;
  }
}

/** What the truth knows about one record of the source topic. */
export interface Judged {
  partition: number;
  offset: number;
  /** The first rule it breaks (none: valid). */
  reject?: { field: string; rule: string };
  /** Its sample id: event_id when the record is read into a row (past the byte-level check), else partition/offset. */
  id: string;
  duplicate: boolean;
  late: boolean;
}

const FIELD_TYPES: Record<string, string> = {
  event_id: 'string',
  event_time: 'string',
  account_id: 'string',
  plan_tier: 'string',
  region: 'string',
  amount: 'number',
};
const TS = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

/** The contract's verdict on one record's bytes, written again in plain code. */
function verdict(text: string): { reject?: { field: string; rule: string }; row?: Record<string, unknown> } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { reject: { field: '', rule: 'json' } };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { reject: { field: '', rule: 'json' } };
  const o = v as Record<string, unknown>;
  // The byte-level check: JSON types, decimals on the literal; such a record is not read into a row.
  for (const [f, t] of Object.entries(FIELD_TYPES)) {
    if (o[f] !== undefined && o[f] !== null && typeof o[f] !== t)
      return { reject: { field: f, rule: 'type' } };
  }
  const lit = /"amount":(-?[0-9.]+)/.exec(text)?.[1];
  if (lit?.includes('.') && lit.split('.')[1].length > 2)
    return { reject: { field: 'amount', rule: 'decimals' } };
  const rule = (field: string, r: string) => ({ reject: { field, rule: r }, row: o });
  for (const f of Object.keys(FIELD_TYPES)) {
    if (o[f] === undefined || o[f] === null) return rule(f, 'required');
    if (f === 'event_time' && (!TS.test(String(o[f])) || Number.isNaN(Date.parse(String(o[f])))))
      return rule(f, 'timestamp');
    if (f === 'plan_tier' && !TIERS.includes(String(o[f]))) return rule(f, 'enum');
    if (f === 'region' && !REGIONS.includes(String(o[f]))) return rule(f, 'enum');
    if (f === 'amount' && Number(o[f]) < 0) return rule(f, 'min');
  }
  return { row: o };
}

/**
 * Judges every record, given in produce order with its position: its first broken rule,
 * whether it repeats an event id seen before (the first copy, by position, is kept),
 * whether it is late (a day behind every earlier event: behind any watermark once a batch
 * has passed; the input keeps the rest within minutes).
 */
export function judge(
  records: ReadonlyArray<{ partition: number; offset: number; value: Uint8Array }>,
): Judged[] {
  const seen = new Set<string>();
  let newest = Number.NEGATIVE_INFINITY;
  return records.map((r) => {
    const v = verdict(Buffer.from(r.value).toString('utf8'));
    const at = `${r.partition}/${r.offset}`;
    const id = v.row?.event_id;
    const j: Judged = {
      partition: r.partition,
      offset: r.offset,
      id: typeof id === 'string' ? id : at,
      duplicate: false,
      late: false,
    };
    if (v.reject) {
      j.reject = v.reject;
      return j;
    }
    const eid = String(v.row!.event_id);
    if (seen.has(eid)) {
      j.duplicate = true;
      return j;
    }
    seen.add(eid);
    const t = Date.parse(String(v.row!.event_time));
    j.late = t < newest - 12 * 3_600_000;
    newest = Math.max(newest, t);
    return j;
  });
}

/** The records of a topic with their headers, every partition. */
export async function readWithHeaders(log: Log, topic: string) {
  const { partitions } = await log.describeTopic(topic);
  const out: Array<{ partition: number; offset: number; value: Buffer; plan: number; pipeline: string }> = [];
  for (let p = 0; p < partitions; p++) {
    const { earliest, latest } = await log.offsets(topic, p);
    let at = earliest;
    while (at < latest) {
      const res = await log.fetch(topic, p, at, { maxRecords: 10_000 });
      if (res.records.length === 0) break;
      for (const r of res.records) {
        out.push({
          partition: p,
          offset: r.offset,
          value: Buffer.from(r.value ?? []),
          plan: Number(Buffer.from(r.headers[PLAN_HEADER] ?? []).toString()),
          pipeline: Buffer.from(r.headers[PIPELINE_HEADER] ?? []).toString(),
        });
      }
      at = res.nextOffset;
    }
  }
  return out;
}

const inRange = (j: Judged, r: QualityResult) =>
  r.offsets.some((x) => x.partition === j.partition && j.offset >= x.from && j.offset <= x.to);

/**
 * Every batch's results against the truth over the offsets they name: the results of a
 * batch are exactly the declared rules, each failed rule, `unique` and `on_time`, once
 * each; records, passed, failed and the first `samples` sample ids as the truth has them.
 * The batches cover the topic once (their offset ranges tile it).
 */
export function assertResults(
  results: readonly QualityResult[],
  truth: readonly Judged[],
  samples: number,
  /** The pipeline has the dedup and the window (false: the contract only). */
  steps = true,
): void {
  const batches = new Map<number, QualityResult[]>();
  for (const r of results) batches.set(r.batch_id, [...(batches.get(r.batch_id) ?? []), r]);
  const ids = [...batches.keys()].sort((a, b) => a - b);
  assert.deepEqual(
    ids,
    Array.from({ length: ids.length }, (_, i) => i + 1),
    'batches 1, 2, ... each reported',
  );
  const covered = new Map<string, number>();
  for (const id of ids) {
    const rs = batches.get(id)!;
    const keys = rs.map((r) => `${r.check}/${r.step}/${r.field}/${r.rule}`);
    assert.equal(new Set(keys).size, keys.length, `batch ${id}: each rule once (${keys.join(', ')})`);
    const first = rs[0];
    for (const r of rs) {
      assert.deepEqual(r.offsets, first.offsets, `batch ${id}: one range for all its results`);
      assert.equal(r.batch_time, first.batch_time, `batch ${id}: one batch time`);
    }
    const inBatch = truth.filter((j) => inRange(j, first));
    for (const j of inBatch)
      covered.set(`${j.partition}/${j.offset}`, (covered.get(`${j.partition}/${j.offset}`) ?? 0) + 1);
    const failing = new Map<string, Judged[]>();
    for (const j of inBatch) {
      if (!j.reject) continue;
      const k = `contract/sales_event.v1/${j.reject.field}/${j.reject.rule}`;
      failing.set(k, [...(failing.get(k) ?? []), j]);
    }
    const valid = inBatch.filter((j) => !j.reject);
    const unique = valid.filter((j) => !j.duplicate);
    const want = new Map<string, { records: number; passed: number; failed: Judged[] }>();
    for (const [f, rule] of DECLARED) {
      want.set(`contract/sales_event.v1/${f}/${rule}`, {
        records: inBatch.length,
        passed: valid.length,
        failed: [],
      });
    }
    for (const [k, js] of failing) want.set(k, { records: inBatch.length, passed: valid.length, failed: js });
    if (steps) {
      want.set('dedup/unique/event_id/unique', {
        records: valid.length,
        passed: unique.length,
        failed: valid.filter((j) => j.duplicate),
      });
      want.set('window/revenue_5m/event_time/on_time', {
        records: unique.length,
        passed: unique.filter((j) => !j.late).length,
        failed: unique.filter((j) => j.late),
      });
    }
    assert.deepEqual(new Set(keys), new Set(want.keys()), `batch ${id}: the rules reported`);
    for (const r of rs) {
      const w = want.get(`${r.check}/${r.step}/${r.field}/${r.rule}`)!;
      const sorted = [...w.failed].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
      assert.deepEqual(
        { records: r.records, passed: r.passed, failed: r.failed, sample_ids: r.sample_ids },
        {
          records: w.records,
          passed: w.passed,
          failed: w.failed.length,
          sample_ids: sorted.slice(0, samples).map((j) => j.id),
        },
        `batch ${id}, ${r.check} ${r.field} ${r.rule}`,
      );
    }
  }
  assert.equal(covered.size, truth.length, 'every record of the topic in a batch');
  assert.ok(
    [...covered.values()].every((n) => n === 1),
    'every record in one batch',
  );
}

/** Per rule (check/step/field/rule): the sums of records, passed and failed over all batches. */
export function totals(
  results: readonly QualityResult[],
): Map<string, { records: number; passed: number; failed: number }> {
  const out = new Map<string, { records: number; passed: number; failed: number }>();
  for (const r of results) {
    const k = `${r.check}/${r.step}/${r.field}/${r.rule}`;
    const t = out.get(k) ?? { records: 0, passed: 0, failed: 0 };
    t.records += r.records;
    t.passed += r.passed;
    t.failed += r.failed;
    out.set(k, t);
  }
  return out;
}

/** The sums of `failed` agree with the DLQ: per contract rule with its records, late records with `on_time`. */
export function assertAgreesWithDlq(
  results: readonly QualityResult[],
  dlq: ReadonlyArray<{ value: Uint8Array }>,
): void {
  const letters = dlq.map((r) => decodeDeadLetter(r.value));
  const byRule = new Map<string, number>();
  for (const d of letters) {
    if (d.rule === 'late') continue;
    const k = `${d.field}/${d.rule}`;
    byRule.set(k, (byRule.get(k) ?? 0) + 1);
  }
  const failed = new Map<string, number>();
  let contract = 0;
  let late = 0;
  for (const r of results) {
    if (r.check === 'contract') {
      contract += r.failed;
      if (r.failed > 0)
        failed.set(`${r.field}/${r.rule}`, (failed.get(`${r.field}/${r.rule}`) ?? 0) + r.failed);
    } else if (r.check === 'window') late += r.failed;
  }
  assert.equal(contract, letters.filter((d) => d.rule !== 'late').length, 'contract failures = DLQ records');
  assert.deepEqual(failed, byRule, 'per rule');
  assert.equal(late, letters.filter((d) => d.rule === 'late').length, 'on_time failures = late DLQ records');
}
