/**
 * The data-quality results topic: each batch, one JSON record per rule it was checked
 * against (quality-results.ts), exactly once without a transactional producer.
 *
 * A pipeline with quality results plans its batches (stateful.ts), and the results are a
 * function of the plan: a replayed batch gives the same records. A pipeline's records go
 * to one partition of the topic (the one its name hashes to, Kafka's partitioner), keyed
 * by its name, with headers `tributary-plan` (the plan's number) and `tributary-pipeline`
 * — several pipelines may share the topic. After a batch's records are acknowledged the
 * sink stores its progress (the plan's number and offsets, and where its partition ended)
 * in the pipeline's state. A crash in between replays the plan: on open, the records of
 * this pipeline after the stored end are read back, and a replayed plan produces only
 * those of its records that are not there (by check, step, field and rule) — so each
 * batch's records land once, whether the crash came before, during or after the produce.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { crashPoint } from '../../core/crash-points.ts';
import { isTributaryError } from '../../core/errors.ts';
import { quoteIdent } from '../../core/sql.ts';
import type { Log, ProduceRecord } from '../../log/log.ts';
import { partitionForKey } from '../../log/partitioner.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { openConnection } from '../../table/index.ts';
import { qualityResults, resultGroups, resultKey } from '../quality-results.ts';
import {
  advancedProgress,
  type BatchView,
  type ExtraTxn,
  type Progress,
  type RuleRef,
  type Sink,
  type SinkResult,
} from '../types.ts';
import { PLAN_HEADER } from './topic.ts';

export const PIPELINE_HEADER = 'tributary-pipeline';

export interface QualitySinkOptions {
  /** The sink's name (metrics). */
  name: string;
  pipeline: string;
  log: Log;
  topic: string;
  /** Partitions to create the topic with if it does not exist. */
  partitions: number;
  /** The source's name, recorded with each result. */
  source: string;
  /** The contract's name (the step of its rules' results); undefined: no contract. */
  contract?: string;
  /** The decoder's rules, reported every batch. */
  rules: readonly RuleRef[];
  /** Sample ids per result, at most. */
  samples: number;
  /** A column of the input whose value identifies a record in the samples. */
  sampleId?: string;
  /** The pipeline's state store: the sink's progress. */
  store: ObjectStore;
}

interface Stored {
  topic: string;
  partition: number;
  /** The last plan whose records are all in the topic (0: none). */
  plan: number;
  /** Its ends: per source partition, the last offset. */
  ends: number[];
  /** The topic partition's end after them: later records of this pipeline are unconfirmed. */
  next: number;
}

const PROGRESS = 'quality.json';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class QualitySink implements Sink {
  readonly name: string;
  readonly usesBatchConnection = false;
  readonly planned = true;
  private readonly opts: QualitySinkOptions;
  private stored!: Stored;
  /** Per plan after the stored one: the keys of its records found in the topic (a crash left them unconfirmed). */
  private found = new Map<number, Set<string>>();
  private conn?: DuckDBConnection;

  constructor(opts: QualitySinkOptions) {
    this.opts = opts;
    this.name = opts.name;
  }

  async open(_conn: DuckDBConnection, partitions: number): Promise<Progress> {
    const { log, topic, pipeline } = this.opts;
    const info = await log.ensureTopic(topic, { partitions: this.opts.partitions });
    let stored = await this.readStored();
    if (!stored || stored.topic !== topic || stored.partition >= info.partitions) {
      // Before anything of ours is produced, where the partition ends: records after it
      // are read back on each open.
      const partition = partitionForKey(encoder.encode(pipeline), info.partitions);
      stored = { topic, partition, plan: 0, ends: [], next: (await log.offsets(topic, partition)).latest };
      await this.writeStored(stored);
    }
    this.stored = stored;
    this.found = await this.unconfirmed(stored);
    const progress: Progress = new Map();
    stored.ends.forEach((o, p) => {
      if (o >= 0 && p < partitions) progress.set(p, o);
    });
    return progress;
  }

  private async readStored(): Promise<Stored | undefined> {
    try {
      return JSON.parse(decoder.decode(await this.opts.store.get(PROGRESS))) as Stored;
    } catch (err) {
      if (isTributaryError(err, 'STORAGE_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  private writeStored(s: Stored): Promise<void> {
    return this.opts.store.put(PROGRESS, encoder.encode(`${JSON.stringify(s)}\n`));
  }

  /** This pipeline's records after the stored end, by plan (later than the stored plan). */
  private async unconfirmed(s: Stored): Promise<Map<number, Set<string>>> {
    const { log, topic, pipeline } = this.opts;
    const found = new Map<number, Set<string>>();
    const { earliest, latest } = await log.offsets(topic, s.partition);
    let at = s.next > latest || s.next < earliest ? earliest : s.next;
    while (at < latest) {
      const res = await log.fetch(topic, s.partition, at, { maxRecords: 5000 });
      if (res.records.length === 0) break;
      for (const r of res.records) {
        const who = r.headers[PIPELINE_HEADER];
        const plan = r.headers[PLAN_HEADER];
        if (!who || !plan || decoder.decode(who) !== pipeline || !r.value) continue;
        const id = Number(decoder.decode(plan));
        if (id <= s.plan) continue;
        const keys = found.get(id) ?? new Set<string>();
        keys.add(resultKey(JSON.parse(decoder.decode(r.value))));
        found.set(id, keys);
      }
      at = res.nextOffset;
    }
    return found;
  }

  async write(batch: BatchView, progress: Progress, _extraTxn: ExtraTxn): Promise<SinkResult> {
    const advanced = advancedProgress(progress, batch.lastOffsets);
    if (advanced.length === 0) return { rows: 0, durableThrough: batch.seq };
    const plan = batch.plan;
    const quality = batch.quality;
    if (plan === undefined || quality === undefined)
      throw new Error(`sink ${this.name} needs planned batches and their checks`);
    const { log, topic, pipeline } = this.opts;
    const rejected = (await quality.rejected).filter((r) => r.offset > (progress.get(r.partition) ?? -1));
    const groups = resultGroups({
      contract: this.opts.contract,
      rules: this.opts.rules,
      rejected,
      records: quality.recordsPast(progress),
      steps: quality.steps,
      samples: this.opts.samples,
    });
    const ids = await this.sampleIds(
      quality.rawTable,
      groups.flatMap((g) => g.samples),
    );
    const results = qualityResults(groups, ids, {
      pipeline,
      batch_id: plan.id,
      batch_time: plan.time === undefined ? null : new Date(plan.time).toISOString(),
      source: batch.topic,
      offsets: advanced.map((a) => ({
        partition: a.partition,
        from: (progress.get(a.partition) ?? -1) + 1,
        to: a.offset,
      })),
    });
    const there = this.found.get(plan.id);
    const headers = {
      [PLAN_HEADER]: encoder.encode(String(plan.id)),
      [PIPELINE_HEADER]: encoder.encode(pipeline),
    };
    const key = encoder.encode(pipeline);
    const records: ProduceRecord[] = results
      .filter((r) => !there?.has(resultKey(r)))
      .map((r) => ({
        topic,
        partition: this.stored.partition,
        key,
        value: encoder.encode(JSON.stringify(r)),
        headers,
      }));
    let next = this.stored.next;
    if (records.length > 0) {
      const acks = await log.produce(records);
      next = Math.max(next, ...acks.map((a) => a.offset + 1));
    }
    crashPoint('quality.produced');
    const ends = Array.from({ length: Math.max(plan.ends.length, this.stored.ends.length) }, (_, p) =>
      Math.max(progress.get(p) ?? -1, batch.lastOffsets.get(p) ?? -1),
    );
    const stored: Stored = { ...this.stored, plan: plan.id, ends, next };
    await this.writeStored(stored);
    this.stored = stored;
    for (const id of this.found.keys()) if (id <= plan.id) this.found.delete(id);
    return { rows: records.length, durableThrough: batch.seq };
  }

  /** The sample column's text for the records at these positions that were decoded into `raw`. */
  private async sampleIds(
    raw: string,
    at: ReadonlyArray<{ partition: number; offset: number }>,
  ): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    const column = this.opts.sampleId;
    if (column === undefined || at.length === 0) return ids;
    this.conn ??= await openConnection();
    const values = at.map((s) => `(${s.partition}, ${s.offset})`).join(', ');
    const rows = await this.conn.runAndReadAll(
      `SELECT r._p, r._o, CAST(r.${quoteIdent(column)} AS VARCHAR) FROM ${raw} AS r SEMI JOIN (VALUES ${values}) AS v(p, o) ON r._p = v.p AND r._o = v.o WHERE r.${quoteIdent(column)} IS NOT NULL`,
    );
    for (const [p, o, id] of rows.getRows()) ids.set(`${p}/${o}`, String(id));
    return ids;
  }

  async close(): Promise<void> {
    this.conn?.closeSync();
    this.conn = undefined;
  }
}
