/**
 * Operator state (event-time windows) kept consistent with the sinks' commits.
 *
 * The design is Spark's: versioned state next to a log of batch plans. Each batch that
 * reaches a window gets a plan — per source partition, the last offset it includes —
 * numbered 1, 2, ... Before any sink commits a batch, the windows' state after it is
 * saved under the plan's number, and then the plan itself is written: the plan file is
 * the mark that the batch's state is complete. Sinks commit their rows with their
 * progress as always (the plan's last offsets, in the table's `txn` actions).
 *
 * On start (and after a failed batch), the sinks that read a window say where they are:
 * their progress is some plan's ends (they commit whole batches). The state saved with
 * the oldest such plan is loaded, and the plans after it are replayed exactly — the same
 * offsets per partition, so the windows see the same batches and emit the same rows —
 * before batches are formed freely again. A sink that had already committed a replayed
 * batch skips it (its progress is past it); one that had not writes it. So a crash at any
 * point between the state, the plan and each sink's commit neither loses nor
 * double-counts: the windows' output is a function of the plans, and each sink commits
 * each plan once.
 *
 * Plans and states older than every window sink's progress are deleted as the sinks move
 * on; the state is bounded by the watermark (window/index.ts), the plans by the sinks'
 * lag.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { crashPoint } from '../core/crash-points.ts';
import { isTributaryError, TributaryError } from '../core/errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { DedupOperator } from './dedup-operator.ts';
import { type Progress, pastProgress, type StepCheck } from './types.ts';
import type { WindowOperator } from './window/index.ts';

/**
 * A stateful step: a window, or a dedup. `input` gives its input's SQL from the batch's
 * valid rows not yet absorbed (`fresh`) and the outputs of the steps before it (a window
 * may count a dedup's rows).
 */
export type WindowStage =
  | {
      kind?: 'window';
      operator: WindowOperator;
      /** Names the window's time in its data-quality results (the column, or the event time's SQL). */
      field?: string;
      input: (fresh: string, outputs: ReadonlyMap<string, string>) => string;
      /** What happens to late rows: to the DLQ (reason `late`), counted and dropped, or to a side table. */
      late: 'dlq' | 'drop' | 'table';
      /** With `table`: SQL of the late rows from the window's input, its late table and the watermark (SQL). */
      lateRows?: (input: string, late: string, watermark: string) => string;
    }
  | {
      kind: 'dedup';
      operator: DedupOperator;
      input: (fresh: string, outputs: ReadonlyMap<string, string>) => string;
    };

export interface BatchPlan {
  id: number;
  /** Per partition, the last offset the batch includes (-1: none yet). */
  ends: number[];
  /**
   * The pipeline's time of the batch (ms since the epoch): when its read began. The
   * relation `batch` gives it to SQL; a replay gives the same. Absent in plans written
   * before it was recorded.
   */
  time?: number;
  /**
   * State kept per source partition (partitioned.ts): the token naming the state saved
   * with this plan. Each writer saves under a token of its own and the plan, written only
   * if absent, names the state that counts, so a worker that lost the partition and writes
   * late cannot overwrite the new owner's state.
   */
  state?: string;
}

export interface StatefulResult {
  /** Per window (transform name): a table any connection of the instance can read, with the rows it emitted. */
  outputs: Map<string, string>;
  /** Late rows to send to the DLQ (those of windows whose policy is `dlq`). */
  late: Array<{
    partition: number;
    offset: number;
    window: string;
    eventTime: string | null;
    watermark: string | null;
  }>;
  /** Late rows dropped (policy `drop`). */
  dropped: number;
  /** Late rows written to side tables (policy `table`). */
  routed: number;
  /** Rows dropped as duplicates by dedup steps. */
  duplicates: number;
  /** The batch's plan. */
  plan: BatchPlan;
  /** Per dedup and window, in order: rows read, failed (duplicates, late rows), the first failing (with `checks`). */
  checks: StepCheck[];
}

/** The relation SQL reads the batch's metadata from: one row, `batch_id` and `batch_time`. */
export const BATCH_RELATION = 'batch';

/** The table holding the `batch` relation's row of the current batch (shared). */
export function batchTable(pipeline: string): string {
  return `__batch_${pipeline.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/**
 * The table holding a stateful step's rows of the current batch (shared: any connection
 * of the instance reads it; SQL of the definition may name it through the step's name).
 */
export function stageTable(kind: 'window' | 'dedup', pipeline: string, name: string): string {
  return `__${kind}_out_${pipeline.replace(/[^A-Za-z0-9_]/g, '_')}_${name}`;
}

const pad = (id: number) => String(id).padStart(20, '0');

const sameEnds = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** What the runtime asks of the stateful steps (a StateKeeper, or one per partition: partitioned.ts). */
export interface StatefulSteps {
  readonly names: string[];
  open(
    conn: DuckDBConnection,
    partitions: number,
    sinkProgress: readonly Progress[],
    owned?: ReadonlySet<number>,
  ): Promise<void>;
  nextReplay(): BatchPlan | undefined;
  process(
    conn: DuckDBConnection,
    valid: string,
    lastOffsets: ReadonlyMap<number, number>,
    replay: BatchPlan | undefined,
    startedAt: number,
  ): Promise<StatefulResult>;
  prune(sinkProgress: readonly Progress[]): Promise<void>;
  close(conn: DuckDBConnection): Promise<void>;
}

export class StateKeeper implements StatefulSteps {
  private readonly store: ObjectStore;
  private readonly windows: WindowStage[];
  private readonly pipeline: string;
  /** The source partition whose state this keeper holds alone (partitioned.ts); undefined: all of them. */
  readonly partition?: number;
  /** The partitions the plans' `ends` are of, in order. */
  private partitionList: number[] = [];
  /** Plans on disk after the loaded state, not yet replayed. */
  private replays: BatchPlan[] = [];
  /** The plan the windows' state stands at (0: empty state). */
  private current: BatchPlan = { id: 0, ends: [] };
  private lastPlanId = 0;
  /** Fill the `batch` relation each batch (SQL of the definition reads it). */
  private readonly batchRelation: boolean;
  /** Count each step's input rows and find its first failing rows (the data-quality results). */
  private readonly checks?: { samples: number };

  constructor(opts: {
    store: ObjectStore;
    windows: WindowStage[];
    pipeline: string;
    batchRelation?: boolean;
    checks?: { samples: number };
    /** Keep the state of this source partition only, in a folder of its own (partitioned.ts). */
    partition?: number;
  }) {
    this.store = opts.store;
    this.windows = opts.windows;
    this.pipeline = opts.pipeline;
    this.batchRelation = opts.batchRelation ?? false;
    if (opts.checks) this.checks = opts.checks;
    if (opts.partition !== undefined) this.partition = opts.partition;
  }

  private get planDir(): string {
    return this.partition === undefined ? 'plans' : `partitions/${this.partition}/plans`;
  }

  private planPath(id: number): string {
    return `${this.planDir}/${pad(id)}.json`;
  }

  /** Where a step's state after `plan` is saved. */
  private statePrefix(step: string, plan: BatchPlan): string {
    if (this.partition === undefined) return `windows/${step}/${pad(plan.id)}`;
    return `partitions/${this.partition}/windows/${step}/${pad(plan.id)}-${plan.state ?? 'none'}`;
  }

  /** The table a step's rows of the batch are left in (a partition's own, for partitioned.ts to gather). */
  private outputTable(kind: 'window' | 'dedup', step: string): string {
    return stageTable(
      kind,
      this.pipeline,
      this.partition === undefined ? step : `${step}__p${this.partition}`,
    );
  }

  get names(): string[] {
    return this.windows.map((w) => w.operator.name);
  }

  private async plans(): Promise<BatchPlan[]> {
    const files = (await this.store.list(`${this.planDir}/`)).filter((f) => f.path.endsWith('.json'));
    const plans: BatchPlan[] = [];
    for (const f of files) plans.push(JSON.parse(new TextDecoder().decode(await this.store.get(f.path))));
    return plans.sort((a, b) => a.id - b.id);
  }

  /**
   * Loads the state matching `sinkProgress` (the progress of every sink reading a window)
   * and queues the plans after it for replay. Drops the windows' tables on `conn` first.
   */
  async open(conn: DuckDBConnection, partitions: number, sinkProgress: readonly Progress[]): Promise<void> {
    this.partitionList =
      this.partition === undefined ? Array.from({ length: partitions }, (_, p) => p) : [this.partition];
    const oldest = this.oldest(sinkProgress);
    const plans = await this.plans();
    this.lastPlanId = plans.at(-1)?.id ?? 0;
    let base: BatchPlan = { id: 0, ends: oldest.map(() => -1) };
    if (oldest.some((o) => o >= 0)) {
      const found = plans.find((pl) => sameEnds(pl.ends, oldest));
      if (!found) {
        throw new TributaryError(
          'TABLE_CORRUPT_LOG',
          `pipeline '${this.pipeline}': the window sinks' progress (${oldest.join(', ')}${this.of()}) matches no saved batch plan of the windows' state; the state was removed or belongs to another definition. Give the pipeline a new name to rebuild its windows from the start of the topic`,
          { pipeline: this.pipeline },
        );
      }
      base = found;
    } else if (plans.length > 0 && plans[0].id !== 1) {
      throw new TributaryError(
        'TABLE_CORRUPT_LOG',
        `pipeline '${this.pipeline}': a window sink has committed nothing, but the batch plans before ${plans[0].id} were removed (the other sinks moved past them); a sink added to a windowed pipeline cannot be rebuilt: give the pipeline a new name`,
        { pipeline: this.pipeline },
      );
    }
    for (const w of this.windows) {
      const prefix = this.statePrefix(w.operator.name, base);
      if (w.kind === 'dedup') {
        await w.operator.open(
          conn,
          base.id === 0
            ? undefined
            : { store: this.store, state: await w.operator.readSaved(this.store, prefix) },
        );
      } else if (base.id === 0) {
        await w.operator.open(conn);
      } else {
        const saved = await w.operator.readSaved(this.store, prefix);
        await w.operator.open(conn, { store: this.store, state: saved });
      }
    }
    this.current = base;
    this.replays = plans.filter((pl) => pl.id > base.id);
  }

  /** Per partition of the plans, the oldest progress among `sinkProgress`. */
  private oldest(sinkProgress: readonly Progress[]): number[] {
    return this.partitionList.map((p) => Math.min(...sinkProgress.map((pr) => pr.get(p) ?? -1)));
  }

  /** Names the partition in messages of a keeper of one. */
  private of(): string {
    return this.partition === undefined ? '' : ` in source partition ${this.partition}`;
  }

  /** Plans queued for replay (nothing is read past them before they are replayed). */
  get pendingReplays(): number {
    return this.replays.length;
  }

  /**
   * The plan the next read must follow exactly (a replay), or undefined when batches are
   * formed freely. Each call hands out the next one (a read ahead takes the one after the
   * current batch's); after a failure `open` queues them again from what is stored.
   */
  nextReplay(): BatchPlan | undefined {
    return this.replays.shift();
  }

  /**
   * Runs the windows over a batch, saves their state and then the batch's plan. `valid`
   * is the batch's valid rows; rows the state has already absorbed are skipped (another
   * sink being behind makes a batch start earlier). Returns the outputs and late rows.
   */
  async process(
    conn: DuckDBConnection,
    valid: string,
    lastOffsets: ReadonlyMap<number, number>,
    replay: BatchPlan | undefined,
    /** When the batch's read began (the plan's time, unless it is a replay). */
    startedAt: number,
  ): Promise<StatefulResult> {
    const absorbed: Progress = new Map();
    this.partitionList.forEach((p, i) => {
      const o = this.current.ends[i] ?? -1;
      if (o >= 0) absorbed.set(p, o);
    });
    const ends = this.partitionList.map((p, i) =>
      Math.max(this.current.ends[i] ?? -1, lastOffsets.get(p) ?? -1),
    );
    if (replay && !sameEnds(replay.ends, ends)) {
      throw new TributaryError(
        'STORAGE_IO',
        `pipeline '${this.pipeline}': batch ${replay.id}${this.of()} was to be replayed up to offsets ${replay.ends.join(', ')} but was read up to ${ends.join(', ')}; retrying`,
        { pipeline: this.pipeline },
      );
    }
    const plan: BatchPlan = replay ?? {
      id: this.lastPlanId + 1,
      ends,
      time: startedAt,
      ...(this.partition !== undefined && { state: randomUUID().slice(0, 8) }),
    };
    const fresh = `(SELECT * FROM ${valid} WHERE ${pastProgress(absorbed, lastOffsets)})`;
    const result: StatefulResult = {
      outputs: new Map(),
      late: [],
      dropped: 0,
      routed: 0,
      duplicates: 0,
      plan,
      checks: [],
    };
    if (this.batchRelation) {
      // A plan written before plans recorded their time replays with the read's start.
      const us = Math.trunc((plan.time ?? startedAt) * 1000);
      const table = batchTable(this.pipeline);
      await conn.run(
        `CREATE OR REPLACE TABLE ${table} AS SELECT ${plan.id}::BIGINT AS batch_id, make_timestamptz(${us}::BIGINT) AS batch_time`,
      );
      result.outputs.set(BATCH_RELATION, table);
    }
    for (const w of this.windows) {
      const name = w.operator.name;
      if (w.kind === 'dedup') {
        const input = `(${w.input(fresh, result.outputs)})`;
        const d = await w.operator.process(conn, input);
        result.outputs.set(name, d.output);
        result.duplicates += d.dropped;
        if (this.checks) {
          const dropped = `(SELECT _p, _o FROM ${input} AS __i ANTI JOIN ${d.output} AS __k ON __k._p = __i._p AND __k._o = __i._o)`;
          result.checks.push({
            check: 'dedup',
            step: name,
            field: w.operator.spec.key,
            rule: 'unique',
            records: d.rows,
            failed: d.dropped,
            samples: d.dropped > 0 ? await this.firstRows(conn, dropped) : [],
          });
        }
        await w.operator.save(conn, this.store, this.statePrefix(name, plan));
        crashPoint('dedup.state-saved');
        continue;
      }
      // Late means behind the watermark as it stood before this batch.
      const wm = w.operator.watermarkUs;
      const input = `(${w.input(fresh, result.outputs)})`;
      const r = await w.operator.process(conn, input);
      if (this.checks) {
        const rows = (await conn.runAndReadAll(`SELECT count(*) FROM ${input}`)).getRows()[0][0];
        result.checks.push({
          check: 'window',
          step: name,
          field: w.field ?? w.operator.spec.timeColumn,
          rule: 'on_time',
          records: Number(rows),
          failed: r.lateRows,
          samples: r.lateRows > 0 ? await this.firstRows(conn, r.late) : [],
        });
      }
      const shared = this.outputTable('window', name);
      await conn.run(`CREATE OR REPLACE TABLE ${shared} AS SELECT * FROM ${r.emitted}`);
      result.outputs.set(name, shared);
      if (w.late === 'table') {
        // Every batch, so the side table's sink always has its relation (empty or not).
        const lateTable = this.lateTable(name);
        const wmSql = wm === null ? 'NULL::TIMESTAMPTZ' : `make_timestamptz(${Math.trunc(wm)}::BIGINT)`;
        await conn.run(
          `CREATE OR REPLACE TABLE ${lateTable} AS ${w.lateRows!(w.input(fresh, result.outputs), r.late, wmSql)}`,
        );
        result.outputs.set(`${name}:late`, lateTable);
        result.routed += r.lateRows;
      } else if (r.lateRows > 0) {
        if (w.late === 'drop') {
          result.dropped += r.lateRows;
        } else {
          const time = w.operator.spec.timeColumn.replaceAll('"', '""');
          const rows = (
            await conn.runAndReadAll(`SELECT _p, _o, epoch_us("${time}") FROM ${r.late}`)
          ).getRows();
          for (const [p, o, t] of rows) {
            result.late.push({
              partition: Number(p),
              offset: Number(o),
              window: name,
              eventTime: t === null ? null : new Date(Number(t) / 1000).toISOString(),
              watermark: wm === null ? null : new Date(wm / 1000).toISOString(),
            });
          }
        }
      }
      await w.operator.save(conn, this.store, this.statePrefix(name, plan));
    }
    crashPoint('window.state-saved');
    if (!replay) await this.writePlan(plan);
    crashPoint('plan.written');
    this.current = plan;
    this.lastPlanId = Math.max(this.lastPlanId, plan.id);
    return result;
  }

  /**
   * Writes a new plan: the mark that its state is complete. A partition's plan is written
   * only if absent: another worker that wrote one under this number first (having had the
   * partition) wins, and this batch fails before any sink commits it.
   */
  private async writePlan(plan: BatchPlan): Promise<void> {
    const bytes = new TextEncoder().encode(`${JSON.stringify(plan)}\n`);
    if (this.partition === undefined) {
      await this.store.put(this.planPath(plan.id), bytes);
      return;
    }
    try {
      await this.store.putIfAbsent(this.planPath(plan.id), bytes);
    } catch (err) {
      if (!isTributaryError(err) || err.code !== 'STORAGE_ALREADY_EXISTS') throw err;
      throw new TributaryError(
        'STATE_PLAN_TAKEN',
        `pipeline '${this.pipeline}': batch plan ${plan.id}${this.of()} was written by another worker first (one that had the partition); this batch is dropped, and the partition's state is reloaded and that plan replayed`,
        { pipeline: this.pipeline, partition: this.partition, plan: plan.id },
        err,
      );
    }
  }

  /** The side table of a window's late rows (policy `table`). */
  private lateTable(step: string): string {
    const p = this.partition === undefined ? '' : `__p${this.partition}`;
    return `__window_late_${this.pipeline.replace(/[^A-Za-z0-9_]/g, '_')}_${step}${p}`;
  }

  /** The first rows of `relation` (with `_p`, `_o`) by partition and offset, as many as the checks sample. */
  private async firstRows(
    conn: DuckDBConnection,
    relation: string,
  ): Promise<Array<{ partition: number; offset: number }>> {
    const n = this.checks?.samples ?? 0;
    if (n === 0) return [];
    const rows = await conn.runAndReadAll(
      `SELECT DISTINCT _p, _o FROM ${relation} WHERE _p IS NOT NULL AND _o IS NOT NULL ORDER BY 1, 2 LIMIT ${n}`,
    );
    return rows.getRows().map(([p, o]) => ({ partition: Number(p), offset: Number(o) }));
  }

  /** Deletes plans and states older than the plan `sinkProgress` (the window sinks' oldest) stands at. */
  async prune(sinkProgress: readonly Progress[]): Promise<void> {
    const oldest = this.oldest(sinkProgress);
    if (!oldest.some((o) => o >= 0)) return;
    const plans = await this.plans();
    const keep = plans.find((pl) => sameEnds(pl.ends, oldest));
    if (!keep) return;
    for (const pl of plans) {
      if (pl.id >= keep.id) break;
      for (const w of this.windows) {
        const prefix = this.statePrefix(w.operator.name, pl);
        for (const f of await this.store.list(`${prefix}/`)) await this.store.delete(f.path);
        await this.removeEmptyDir(prefix);
      }
      await this.store.delete(this.planPath(pl.id));
    }
    if (this.partition !== undefined) await this.dropOrphans(keep.id);
    const retained = plans.filter((pl) => pl.id >= keep.id);
    for (const w of this.windows) {
      if (w.kind !== 'dedup') continue;
      const name = w.operator.name;
      await w.operator.collect(
        this.store,
        this.partition === undefined ? `windows/${name}` : `partitions/${this.partition}/windows/${name}`,
        retained.map((pl) => this.statePrefix(name, pl)),
      );
    }
  }

  /**
   * A partition's states saved under tokens no plan names (a batch whose plan another
   * worker wrote first, a worker that wrote after losing the partition) and older than
   * `keepId`: deleted like pruned ones. Dedup key segments beside them are `collect`'s.
   */
  private async dropOrphans(keepId: number): Promise<void> {
    for (const w of this.windows) {
      const dir = `partitions/${this.partition}/windows/${w.operator.name}/`;
      const stale = new Set<string>();
      for (const f of await this.store.list(dir)) {
        const m = /^(\d{20})-[^/]+\//.exec(f.path.slice(dir.length));
        if (!m || Number(m[1]) >= keepId) continue;
        await this.store.delete(f.path);
        stale.add(dir + m[0].slice(0, -1));
      }
      for (const prefix of stale) await this.removeEmptyDir(prefix);
    }
  }

  /**
   * On a local store, removes the directory a pruned state version lived in (one per
   * batch: left behind, they would pile up for as long as the pipeline runs). Before the
   * plan is deleted, so a crash in between leaves a plan that the next prune handles.
   */
  private async removeEmptyDir(prefix: string): Promise<void> {
    const dir = this.store.localPath?.(prefix);
    if (dir === undefined) return;
    try {
      await fs.rmdir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTEMPTY') return;
      throw new TributaryError(
        'STORAGE_IO',
        `pipeline '${this.pipeline}': could not remove the directory of a pruned window state, ${dir} (${code}: ${(err as Error).message})`,
        { pipeline: this.pipeline, path: dir, errno: code },
        err,
      );
    }
  }

  async close(conn: DuckDBConnection): Promise<void> {
    if (this.batchRelation) await conn.run(`DROP TABLE IF EXISTS ${batchTable(this.pipeline)}`);
    for (const w of this.windows) {
      await w.operator.close(conn);
      await conn.run(`DROP TABLE IF EXISTS ${this.outputTable('window', w.operator.name)}`);
      await conn.run(`DROP TABLE IF EXISTS ${this.lateTable(w.operator.name)}`);
    }
  }
}
