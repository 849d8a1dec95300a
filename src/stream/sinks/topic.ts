/**
 * A topic sink: each row as one record on an output topic (the embedded log or Kafka) —
 * a JSON object, or another format's value (`encoder`: Avro), keyed by a column if asked (Kafka's murmur2 partitioning), exactly once
 * without a transactional producer.
 *
 * Its batches are planned (stateful.ts): a batch's rows are a function of its plan, so a
 * replayed batch produces the same records for the same partitions. Every record carries
 * the plan's number in a header (`tributary-plan`); after a batch's records are
 * acknowledged the sink stores its progress (the plan's offsets) in a small file of the
 * pipeline's state. A crash between the two replays the plan: each output partition
 * whose last record already carries that plan's number (or a later one) gets nothing
 * again, the others get their records — so every row lands once, in order.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { crashPoint } from '../../core/crash-points.ts';
import { isTributaryError } from '../../core/errors.ts';
import { quoteIdent } from '../../core/sql.ts';
import type { Log, ProduceRecord } from '../../log/log.ts';
import { partitionForKey } from '../../log/partitioner.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import {
  advancedProgress,
  type BatchView,
  type ExtraTxn,
  type Progress,
  pastProgress,
  type Sink,
  type SinkResult,
} from '../types.ts';

export const PLAN_HEADER = 'tributary-plan';

export interface TopicSinkOptions {
  name: string;
  log: Log;
  topic: string;
  /** Partitions to create the topic with if it does not exist. */
  partitions: number;
  /** A column whose text is the record key (partitions by it); absent: rows spread by source partition or position. */
  key?: string;
  /** SQL producing the rows from a relation (`from`). */
  select: (from: string) => string;
  /** The relation read instead of the batch's valid records past the sink's progress (a window's rows). */
  input?: (batch: BatchView) => string;
  /** Where the sink keeps its progress (the pipeline's state store). */
  store: ObjectStore;
  /** How a row becomes a record value (default: the row as one JSON object). */
  encoder?: RowValueEncoder;
}

/** Writes a row as a record value in a format of its own (Avro: connectors/avro/encoder.ts). */
export interface RowValueEncoder {
  /** The select-list over the row `row` whose values `encode` is given, in order. */
  select(row: string): string[];
  /** Ready to encode (a schema registered); called before each batch's first record. */
  open(): Promise<unknown>;
  encode(values: readonly unknown[]): Uint8Array;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class TopicSink implements Sink {
  readonly name: string;
  readonly usesBatchConnection = true;
  readonly planned = true;
  private readonly opts: TopicSinkOptions;
  private outPartitions = 0;
  /** Per output partition: the plan number of its last record (-1: none of ours). */
  private lastPlan: number[] = [];

  constructor(opts: TopicSinkOptions) {
    this.opts = opts;
    this.name = opts.name;
  }

  private get progressPath(): string {
    return `sinks/${this.name}.json`;
  }

  async open(_conn: DuckDBConnection, partitions: number): Promise<Progress> {
    const { log, topic } = this.opts;
    this.outPartitions = (await log.ensureTopic(topic, { partitions: this.opts.partitions })).partitions;
    this.lastPlan = [];
    for (let q = 0; q < this.outPartitions; q++) {
      const { earliest, latest } = await log.offsets(topic, q);
      let plan = -1;
      if (latest > earliest) {
        const tail = await log.fetch(topic, q, latest - 1, { maxRecords: 1 });
        const h = tail.records[0]?.headers[PLAN_HEADER];
        if (h) plan = Number(decoder.decode(h));
      }
      this.lastPlan.push(plan);
    }
    const progress: Progress = new Map();
    try {
      const saved = JSON.parse(decoder.decode(await this.opts.store.get(this.progressPath))) as {
        ends: number[];
      };
      saved.ends.forEach((o, p) => {
        if (o >= 0 && p < partitions) progress.set(p, o);
      });
    } catch (err) {
      if (!isTributaryError(err, 'STORAGE_NOT_FOUND')) throw err;
    }
    return progress;
  }

  async write(batch: BatchView, progress: Progress, _extraTxn: ExtraTxn): Promise<SinkResult> {
    const advanced = advancedProgress(progress, batch.lastOffsets);
    if (advanced.length === 0) return { rows: 0, durableThrough: batch.seq };
    if (batch.plan === undefined) throw new Error(`sink ${this.name} needs planned batches`);
    const from = this.opts.input
      ? `(SELECT * FROM ${this.opts.input(batch)})`
      : `(SELECT * FROM ${batch.validTable} WHERE ${pastProgress(progress, batch.lastOffsets)})`;
    const rowsSql = this.opts.select(from);
    const key = this.opts.key ? `__r.${quoteIdent(this.opts.key)}::VARCHAR` : 'NULL::VARCHAR';
    const enc = this.opts.encoder;
    if (enc) await enc.open();
    const values = enc ? enc.select('__r').join(', ') : 'to_json(__r)::VARCHAR AS v';
    const reader = await batch.conn.runAndReadAll(
      `SELECT ${values}, ${key} AS k, row_number() OVER () - 1 AS i FROM (${rowsSql}) AS __r`,
    );
    const planId = batch.plan.id;
    const header = { [PLAN_HEADER]: encoder.encode(String(planId)) };
    const records: ProduceRecord[] = [];
    const produced = new Set<number>();
    for (const row of reader.getRows()) {
      const k = row[row.length - 2];
      const i = row[row.length - 1];
      const keyBytes = k === null ? null : encoder.encode(String(k));
      const q = keyBytes ? partitionForKey(keyBytes, this.outPartitions) : Number(i) % this.outPartitions;
      if (this.lastPlan[q] >= planId) continue;
      produced.add(q);
      records.push({
        topic: this.opts.topic,
        partition: q,
        key: keyBytes,
        value: enc ? enc.encode(row) : encoder.encode(String(row[0])),
        headers: header,
      });
    }
    if (records.length > 0) await this.opts.log.produce(records);
    crashPoint('sink.topic.produced');
    for (const q of produced) this.lastPlan[q] = planId;
    const ends = batch.plan.ends.map((_, p) =>
      Math.max(progress.get(p) ?? -1, batch.lastOffsets.get(p) ?? -1),
    );
    await this.opts.store.put(
      this.progressPath,
      encoder.encode(`${JSON.stringify({ plan: planId, ends })}\n`),
    );
    return { rows: records.length, durableThrough: batch.seq };
  }
}
