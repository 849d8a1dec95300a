/**
 * What the sales pipeline (pipelines/saas.yaml) must have produced from its input, for
 * the saas-* scenario tests: the input read back from the log, judged by the oracle of
 * src/scenarios/saas-sales (avsc by the writer schema, bigint cents: independent of the
 * runtime's decoder, SQL and window operator), cut into the batches the pipeline ran.
 *
 * Which events are late depends on where batches were cut (oracle.ts, step 3). The cuts
 * are read from `dq.results.v1`: each batch's results name the offsets it covered, and
 * before they are used they are checked to be one record per batch and rule, batches
 * numbered 1, 2, ... tiling every partition from offset 0 to its end with no gap or
 * overlap. Given the cuts, everything else is exact: late set, watermarks, the windows
 * closed and in which batch, each batch's data-quality counts.
 *
 * `stale`: copies of an event re-sent after the pipeline's dedup transform has forgotten
 * its key (more than its 5-minute horizon of event time later, as a producer retrying
 * after an outage would). The transform lets them through (documented: as Spark's
 * dropDuplicatesWithinWatermark), so the window sees them and finds them late; silver's
 * sink dedup (over its table, no horizon on correctness) drops them.
 */
import assert from 'node:assert/strict';
import type { SchemaRegistryClient } from '../../src/connectors/avro/registry-client.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import type { Log } from '../../src/log/log.ts';
import { DQ_RESULTS_TOPIC, SALES_TOPIC } from '../../src/scenarios/saas-sales/domain.ts';
import {
  type BatchEnd,
  classify,
  dedup,
  type InvalidRecord,
  lateBound,
  lateByBatches,
  type OracleEvent,
} from '../../src/scenarios/saas-sales/oracle.ts';
import {
  closedWindows,
  type RevenueWindow,
  revenueWindows,
} from '../../src/scenarios/saas-sales/revenue-windows.ts';
import type { QualityResult } from '../../src/stream/quality-results.ts';

/** The definition's watermark delay (event_time.watermark: 2 minutes). */
export const WATERMARK_MS = 120_000;
/** The dedup transform's horizon (deduped: 5 minutes). */
export const DEDUP_HORIZON_MS = 300_000;

export interface TopicRecord {
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export const pos = (r: { partition: number; offset: number }) => `${r.partition}/${r.offset}`;

/** Every record of `topic`, by partition then offset, with its headers as text. */
export async function readAll(log: Log, topic: string): Promise<TopicRecord[]> {
  const { partitions } = await log.describeTopic(topic);
  const out: TopicRecord[] = [];
  for (let p = 0; p < partitions; p++) {
    const { earliest, latest } = await log.offsets(topic, p);
    let offset = earliest;
    while (offset < latest) {
      const res = await log.fetch(topic, p, offset, { maxRecords: 10_000 });
      // A fetch may step over offsets without records (Kafka's transaction markers).
      if (res.nextOffset <= offset) break;
      for (const r of res.records) {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.headers)) headers[k] = Buffer.from(v).toString('utf8');
        out.push({
          partition: p,
          offset: r.offset,
          timestamp: r.timestamp,
          key: r.key === null ? null : Buffer.from(r.key),
          value: r.value === null ? null : Buffer.from(r.value),
          headers,
        });
      }
      offset = res.nextOffset;
    }
  }
  return out;
}

/** A batch as its data-quality results describe it. */
export interface Batch {
  id: number;
  /** The batch's time (ISO 8601), as its results and the `batch` relation give it. */
  time: string;
  /** Per partition it read: the offsets it covered, inclusive. */
  ranges: Map<number, { from: number; to: number }>;
}

/**
 * The pipeline's batches from its `dq.results.v1` records, after checking them: each
 * (batch, check, step, field, rule) once, the `tributary-plan` header naming the batch,
 * one time and one set of offsets per batch, ids 1..n, the offsets of every partition
 * covered once each from 0 to `ends` − 1.
 */
export function batchesOf(
  dq: readonly TopicRecord[],
  ends: readonly number[],
  pipeline = 'saas',
): { batches: Batch[]; results: QualityResult[] } {
  const results: QualityResult[] = [];
  const seen = new Set<string>();
  for (const r of dq) {
    const q = JSON.parse(r.value!.toString('utf8')) as QualityResult;
    if (q.pipeline !== pipeline) continue;
    const id = `${q.batch_id}|${q.check}|${q.step}|${q.field}|${q.rule}`;
    assert.ok(!seen.has(id), `dq.results.v1 holds the result ${id} once`);
    seen.add(id);
    assert.equal(r.headers['tributary-plan'], String(q.batch_id), `result ${id}: its plan header`);
    results.push(q);
  }
  const byId = new Map<number, Batch>();
  for (const q of results) {
    const ranges = new Map(q.offsets.map((o) => [o.partition, { from: o.from, to: o.to }]));
    const b = byId.get(q.batch_id);
    if (b === undefined) byId.set(q.batch_id, { id: q.batch_id, time: q.batch_time!, ranges });
    else {
      assert.equal(q.batch_time, b.time, `batch ${q.batch_id}: one time in all its results`);
      assert.deepEqual(ranges, b.ranges, `batch ${q.batch_id}: one set of offsets in all its results`);
    }
  }
  const batches = [...byId.values()].sort((a, b) => a.id - b.id);
  assert.deepEqual(
    batches.map((b) => b.id),
    batches.map((_, i) => i + 1),
    'batches are numbered 1, 2, ... with none missing',
  );
  for (let p = 0; p < ends.length; p++) {
    let next = 0;
    for (const b of batches) {
      const r = b.ranges.get(p);
      if (r === undefined) continue;
      assert.equal(r.from, next, `batch ${b.id}, partition ${p}: starts where the batch before it ended`);
      assert.ok(r.to >= r.from, `batch ${b.id}, partition ${p}: a non-empty range`);
      next = r.to + 1;
    }
    assert.equal(next, ends[p], `partition ${p}: the batches cover it to its end`);
  }
  return { batches, results };
}

export interface SalesTruth {
  /** The input topic. */
  topic: string;
  input: TopicRecord[];
  byPos: Map<string, TopicRecord>;
  schemas: Map<number, string>;
  invalid: InvalidRecord[];
  /** Every valid record (copies included): bronze. */
  valid: OracleEvent[];
  /** The first copy of each event_id: silver. */
  events: OracleEvent[];
  /** Later copies the dedup transform drops (within its horizon). */
  dropped: OracleEvent[];
  /** Later copies past its horizon (the test's `stale`): late for the window, dropped by silver's sink. */
  stale: OracleEvent[];
  batches: Batch[];
  results: QualityResult[];
  /** Per record position: the index of its batch in `batches`. */
  batchIndex: Map<string, number>;
  late: OracleEvent[];
  /** The watermark after each batch (ms; null before any on-time event). */
  watermarks: Array<number | null>;
  /** Gold: the windows closed after the last batch, with the batch that closed each. */
  closed: Array<RevenueWindow & { batch: number }>;
  /** Windows with on-time events not yet closed (still open in the pipeline's state). */
  open: RevenueWindow[];
}

/** The truth of the pipeline's run over the input in `log`, given its results (cuts) and the copies past the horizon. */
export async function salesTruth(
  log: Log,
  registry: SchemaRegistryClient,
  stalePositions: ReadonlySet<string> = new Set(),
  topics: { input?: string; dq?: string } = {},
): Promise<SalesTruth> {
  const topic = topics.input ?? SALES_TOPIC;
  const input = await readAll(log, topic);
  const byPos = new Map(input.map((r) => [pos(r), r]));
  const schemas = new Map<number, string>();
  const ids = new Set<number>();
  for (const r of input) {
    const v = r.value;
    if (v && v.length >= 5 && v[0] === 0) ids.add(v.readUInt32BE(1));
  }
  for (const id of ids) {
    try {
      schemas.set(id, await registry.schemaById(id));
    } catch (err) {
      if (!isTributaryError(err, 'SCHEMA_NOT_FOUND')) throw err;
    }
  }
  const { invalid, valid } = classify(input, schemas);
  const { events, duplicates } = dedup(valid);
  const stale = duplicates.filter((d) => stalePositions.has(pos(d.event))).map((d) => d.event);
  assert.equal(stale.length, stalePositions.size, 'every stale copy is a valid copy of an earlier event');
  const dropped = duplicates.filter((d) => !stalePositions.has(pos(d.event))).map((d) => d.event);

  const { partitions } = await log.describeTopic(topic);
  const ends = await Promise.all(
    Array.from({ length: partitions }, async (_, p) => (await log.offsets(topic, p)).latest),
  );
  const { batches, results } = batchesOf(await readAll(log, topics.dq ?? DQ_RESULTS_TOPIC), ends);
  const batchIndex = new Map<string, number>();
  batches.forEach((b, i) => {
    for (const [p, r] of b.ranges) for (let o = r.from; o <= r.to; o++) batchIndex.set(`${p}/${o}`, i);
  });
  const cuts: BatchEnd[] = batches.map((b) =>
    Object.fromEntries([...b.ranges].map(([p, r]) => [p, r.to + 1])),
  );
  // The window reads the dedup transform's output: first copies and the stale ones.
  const windowInput = [...events, ...stale];
  const cut = lateByBatches(windowInput, cuts, WATERMARK_MS);
  assert.equal(cut.pending.length, 0, 'the batches cover every event');
  const lateSet = new Set(cut.late.map(pos));
  for (const s of stale) assert.ok(lateSet.has(pos(s)), `stale copy ${pos(s)} is late for the window`);
  assert.deepEqual(
    lateBound(windowInput, lateSet, WATERMARK_MS).impossible.map(pos),
    [],
    'no event is late that no batching could make late',
  );
  const windows = revenueWindows(cut.onTime);
  const watermark = cut.watermarks.at(-1) ?? null;
  const closed = closedWindows(windows, watermark).map((w) => {
    const end = Date.parse(w.window_end);
    const i = cut.watermarks.findIndex((m) => m !== null && m >= end);
    return { ...w, batch: batches[i].id };
  });
  const open = windows.filter((w) => !closed.some((c) => sameWindow(c, w)));
  return {
    topic,
    input,
    byPos,
    schemas,
    invalid,
    valid,
    events,
    dropped,
    stale,
    batches,
    results,
    batchIndex,
    late: cut.late,
    watermarks: cut.watermarks,
    closed,
    open,
  };
}

export const windowKey = (w: Pick<RevenueWindow, 'window_start' | 'plan_tier' | 'region' | 'currency'>) =>
  `${w.window_start}|${w.plan_tier}|${w.region}|${w.currency}`;

function sameWindow(a: RevenueWindow, b: RevenueWindow): boolean {
  return windowKey(a) === windowKey(b);
}

/** The dead-letter rule and field the pipeline must name for an invalid record the oracle judged. */
export function expectedRule(x: InvalidRecord): { field: string; rule: string } {
  switch (x.reason) {
    case 'too-short':
    case 'magic-byte':
      return { field: '', rule: 'avro_magic' };
    case 'unknown-schema-id':
      return { field: '', rule: 'avro_schema_id' };
    case 'decode':
      return { field: '', rule: 'avro_body' };
    default:
      return { field: x.field!, rule: x.rule! };
  }
}
