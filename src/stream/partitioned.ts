/**
 * Window and dedup state kept per source partition (a definition's `state: per_partition`),
 * so that it can move between workers with the partition (docs/scale-out.md).
 *
 * Each source partition has a StateKeeper of its own (stateful.ts, with `partition`): its
 * own operators (so its own watermark and dedup horizon, advanced by that partition's
 * records only, as Kafka Streams' stream time is per task), its own numbered plans and saved
 * states under `partitions/<p>/` of the state store. A batch runs each of its partitions
 * through that partition's keeper; the rows each step emits are gathered into the step's
 * usual relation for the sinks. What a partition's windows emit is therefore a function of
 * that partition's records and plans alone: it does not depend on which worker held the
 * partition, on which other partitions shared its batches, or on where a rebalance cut them.
 * A worker that is given a partition loads that partition's state at the plan its sinks'
 * progress stands at and replays the plans after it; one that loses a partition forgets it.
 *
 * This is exact only when every group a window aggregates lives in one partition (its
 * `group_by` holds the field the topic is keyed by, `source.key`: checked by the plan), and
 * a dedup finds only the copies that reached the same partition (a producer's retries
 * carry the record's key, so they do).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { TributaryError } from '../core/errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import {
  type BatchPlan,
  type StatefulResult,
  type StatefulSteps,
  StateKeeper,
  stageTable,
  type WindowStage,
} from './stateful.ts';
import type { Progress, StepCheck } from './types.ts';

/** A batch replaying plans of some partitions: each partition's plan (the others read nothing). */
type PartitionsReplay = BatchPlan & { parts: ReadonlyMap<number, BatchPlan> };

export class PartitionedStateKeeper implements StatefulSteps {
  private readonly store: ObjectStore;
  private readonly pipeline: string;
  private readonly stages: (partition: number) => WindowStage[];
  private readonly checks?: { samples: number };
  private readonly keepers = new Map<number, StateKeeper>();
  /** The steps, in order (from a partition's stages): their kind, name and whether late rows go to a table. */
  private readonly steps: Array<{ kind: 'window' | 'dedup'; name: string; lateTable: boolean }>;
  private partitions = 0;

  constructor(opts: {
    store: ObjectStore;
    pipeline: string;
    /** A partition's own stateful steps (operators named apart by the partition: `instance`). */
    stages: (partition: number) => WindowStage[];
    checks?: { samples: number };
  }) {
    this.store = opts.store;
    this.pipeline = opts.pipeline;
    this.stages = opts.stages;
    if (opts.checks) this.checks = opts.checks;
    this.steps = opts.stages(0).map((w) => ({
      kind: w.kind === 'dedup' ? 'dedup' : 'window',
      name: w.operator.name,
      lateTable: w.kind !== 'dedup' && w.late === 'table',
    }));
  }

  get names(): string[] {
    return this.steps.map((s) => s.name);
  }

  /** Loads the state of each partition this worker works on (all, or `owned`) and forgets the others'. */
  async open(
    conn: DuckDBConnection,
    partitions: number,
    sinkProgress: readonly Progress[],
    owned?: ReadonlySet<number>,
  ): Promise<void> {
    this.partitions = partitions;
    const want = owned ?? new Set(Array.from({ length: partitions }, (_, p) => p));
    for (const [p, keeper] of this.keepers) {
      if (want.has(p)) continue;
      await keeper.close(conn);
      this.keepers.delete(p);
    }
    for (const p of [...want].sort((a, b) => a - b)) {
      let keeper = this.keepers.get(p);
      if (!keeper) {
        keeper = new StateKeeper({
          store: this.store,
          pipeline: this.pipeline,
          windows: this.stages(p),
          partition: p,
          ...(this.checks && { checks: this.checks }),
        });
        this.keepers.set(p, keeper);
      }
      await keeper.open(conn, partitions, sinkProgress);
    }
  }

  /**
   * While any partition has plans to replay, a batch replays the next plan of each such
   * partition and reads nothing of the others; then batches are formed freely.
   */
  nextReplay(): BatchPlan | undefined {
    const parts = new Map<number, BatchPlan>();
    for (const [p, keeper] of this.keepers) {
      if (keeper.pendingReplays > 0) parts.set(p, keeper.nextReplay()!);
    }
    if (parts.size === 0) return undefined;
    const ends = Array.from({ length: this.partitions }, (_, p) => parts.get(p)?.ends[0] ?? -1);
    const replay: PartitionsReplay = { id: 0, ends, parts };
    return replay;
  }

  async process(
    conn: DuckDBConnection,
    valid: string,
    lastOffsets: ReadonlyMap<number, number>,
    replay: BatchPlan | undefined,
    startedAt: number,
  ): Promise<StatefulResult> {
    const parts = (replay as PartitionsReplay | undefined)?.parts;
    for (const p of parts?.keys() ?? []) {
      if (!lastOffsets.has(p)) {
        throw new TributaryError(
          'STORAGE_IO',
          `pipeline '${this.pipeline}': batch plan ${parts!.get(p)!.id} of source partition ${p} was to be replayed, but the read gave none of its records; retrying`,
          { pipeline: this.pipeline, partition: p },
        );
      }
    }
    const ran: StatefulResult[] = [];
    for (const p of [...lastOffsets.keys()].sort((a, b) => a - b)) {
      const keeper = this.keepers.get(p);
      if (!keeper) {
        throw new Error(`pipeline ${this.pipeline}: a batch holds partition ${p}, whose state is not loaded`);
      }
      ran.push(
        await keeper.process(conn, valid, new Map([[p, lastOffsets.get(p)!]]), parts?.get(p), startedAt),
      );
    }
    if (ran.length === 0) throw new Error(`pipeline ${this.pipeline}: a batch with no partition`);
    const outputs = new Map<string, string>();
    for (const step of this.steps) {
      outputs.set(step.name, await this.gather(conn, this.viewOf(step), ran, step.name));
      if (step.lateTable) {
        const late = `${step.name}:late`;
        outputs.set(late, await this.gather(conn, this.lateViewOf(step.name), ran, late));
      }
    }
    const ends = Array.from({ length: this.partitions }, (_, p) => lastOffsets.get(p) ?? -1);
    return {
      outputs,
      late: ran.flatMap((r) => r.late),
      dropped: sum(ran, (r) => r.dropped),
      routed: sum(ran, (r) => r.routed),
      duplicates: sum(ran, (r) => r.duplicates),
      plan: { id: 0, ends, time: startedAt },
      checks: this.mergeChecks(ran),
    };
  }

  /**
   * A view over the partitions' tables of a step's rows, for the sinks (any connection of
   * the instance reads it): the partitions' own tables stay until their next batch.
   */
  private async gather(
    conn: DuckDBConnection,
    view: string,
    ran: readonly StatefulResult[],
    key: string,
  ): Promise<string> {
    const parts = ran.map((r) => `SELECT * FROM ${r.outputs.get(key)}`);
    await conn.run(`CREATE OR REPLACE VIEW ${view} AS ${parts.join(' UNION ALL BY NAME ')}`);
    return view;
  }

  /** The relation of a step's rows: the name SQL of the definition and the sinks know it by. */
  private viewOf(step: { kind: 'window' | 'dedup'; name: string }): string {
    return stageTable(step.kind, this.pipeline, step.name);
  }

  /** The relation of a window's late rows (policy `table`). */
  private lateViewOf(name: string): string {
    return `__window_late_${this.pipeline.replace(/[^A-Za-z0-9_]/g, '_')}_${name}`;
  }

  /** Each step's checks summed over the partitions; the first failing rows by partition and offset. */
  private mergeChecks(ran: readonly StatefulResult[]): StepCheck[] {
    const byStep = new Map<string, StepCheck>();
    for (const c of ran.flatMap((r) => r.checks)) {
      const had = byStep.get(c.step);
      if (!had) {
        byStep.set(c.step, { ...c, samples: [...c.samples] });
        continue;
      }
      had.records += c.records;
      had.failed += c.failed;
      had.samples.push(...c.samples);
    }
    const n = this.checks?.samples ?? 0;
    for (const c of byStep.values()) {
      c.samples.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
      c.samples.splice(n);
    }
    return [...byStep.values()];
  }

  async prune(sinkProgress: readonly Progress[]): Promise<void> {
    for (const keeper of this.keepers.values()) await keeper.prune(sinkProgress);
  }

  async close(conn: DuckDBConnection): Promise<void> {
    for (const keeper of this.keepers.values()) await keeper.close(conn);
    this.keepers.clear();
    for (const step of this.steps) {
      await conn.run(`DROP VIEW IF EXISTS ${this.viewOf(step)}`);
      if (step.lateTable) await conn.run(`DROP VIEW IF EXISTS ${this.lateViewOf(step.name)}`);
    }
  }
}

const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);
