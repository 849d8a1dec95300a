/**
 * Run and task history as Delta tables of the data directory, so they are queried like
 * any table (`tributary query "SELECT * FROM _tributary_job_runs"`) and read by any
 * Delta reader:
 *
 * - `_tributary_job_runs`: one row per run (MERGE by run_id as its state changes);
 * - `_tributary_task_runs`: one row per task of a run (MERGE by run_id, task).
 *
 * Writes of one process go one at a time (a queue per table); writers in several
 * processes meet Delta's optimistic concurrency (MERGE re-plans after a conflict). The
 * tables grow by a small file per change; `tidy` compacts them when they hold many.
 */
import type { Clock } from '../../core/clock.ts';
import { parseAsOfTimestamp } from '../../query/run.ts';
import { DeltaTable, type Filter, merge, optimize, readRows } from '../../table/index.ts';
import { locateTable } from '../../table/locate.ts';
import type { StructType } from '../../table/schema.ts';
import { type Owner, ownerAlive } from './owner.ts';
import type { RunState, TaskState } from './types.ts';

export const RUNS_TABLE = '_tributary_job_runs';
export const TASKS_TABLE = '_tributary_task_runs';

type Col = [name: string, type: 'string' | 'timestamp' | 'integer', nullable?: boolean];
export function schemaOf(cols: Col[]): StructType {
  return {
    type: 'struct',
    fields: cols.map(([name, type, nullable = true]) => ({ name, type, nullable, metadata: {} })),
  };
}

const RUNS_SCHEMA = schemaOf([
  ['run_id', 'string', false],
  ['job', 'string', false],
  ['scheduled_time', 'timestamp'],
  ['date', 'string'],
  ['trigger', 'string'],
  ['state', 'string'],
  ['started_at', 'timestamp'],
  ['ended_at', 'timestamp'],
  ['error', 'string'],
  ['owner_host', 'string'],
  ['owner_pid', 'integer'],
  ['owner_start', 'string'],
  ['expires_at', 'timestamp'],
  ['updated_at', 'timestamp'],
]);

const TASKS_SCHEMA = schemaOf([
  ['run_id', 'string', false],
  ['job', 'string', false],
  ['task', 'string', false],
  ['kind', 'string'],
  ['state', 'string'],
  ['attempts', 'integer'],
  ['started_at', 'timestamp'],
  ['ended_at', 'timestamp'],
  ['error', 'string'],
  ['output', 'string'],
  ['updated_at', 'timestamp'],
]);

export interface RunRow {
  runId: string;
  job: string;
  scheduledTime: number;
  /** The logical date, YYYY-MM-DD. */
  date: string;
  trigger: 'schedule' | 'manual';
  state: RunState;
  startedAt: number;
  endedAt?: number;
  error?: string;
  owner: Owner;
  /** The latest a run can still be going on (its tasks' timeouts and retries); past it, it is stale. */
  expiresAt: number;
}

export interface TaskRow {
  runId: string;
  job: string;
  task: string;
  kind: string;
  state: TaskState;
  attempts: number;
  startedAt?: number;
  endedAt?: number;
  error?: string;
  output?: Record<string, unknown>;
}

const date = (ms: number | undefined) => (ms === undefined ? null : new Date(ms));
const ms = (v: unknown) => (v === null || v === undefined ? undefined : parseAsOfTimestamp(String(v)));
const text = (v: unknown) => (v === null || v === undefined ? undefined : String(v));

function runRecord(r: RunRow, now: number): Record<string, unknown> {
  return {
    run_id: r.runId,
    job: r.job,
    scheduled_time: date(r.scheduledTime),
    date: r.date,
    trigger: r.trigger,
    state: r.state,
    started_at: date(r.startedAt),
    ended_at: date(r.endedAt),
    error: r.error ?? null,
    owner_host: r.owner.host,
    owner_pid: r.owner.pid,
    owner_start: r.owner.start,
    expires_at: date(r.expiresAt),
    updated_at: new Date(now),
  };
}

function runFrom(row: Record<string, unknown>): RunRow {
  return {
    runId: String(row.run_id),
    job: String(row.job),
    scheduledTime: ms(row.scheduled_time) ?? 0,
    date: String(row.date ?? ''),
    trigger: row.trigger === 'schedule' ? 'schedule' : 'manual',
    state: String(row.state) as RunState,
    startedAt: ms(row.started_at) ?? 0,
    ...(row.ended_at != null && { endedAt: ms(row.ended_at) }),
    ...(row.error != null && { error: String(row.error) }),
    owner: {
      host: String(row.owner_host ?? ''),
      pid: Number(row.owner_pid ?? 0),
      start: String(row.owner_start ?? ''),
    },
    expiresAt: ms(row.expires_at) ?? 0,
  };
}

function taskRecord(t: TaskRow, now: number): Record<string, unknown> {
  return {
    run_id: t.runId,
    job: t.job,
    task: t.task,
    kind: t.kind,
    state: t.state,
    attempts: t.attempts,
    started_at: date(t.startedAt),
    ended_at: date(t.endedAt),
    error: t.error ?? null,
    output: t.output === undefined ? null : JSON.stringify(t.output),
    updated_at: new Date(now),
  };
}

function taskFrom(row: Record<string, unknown>): TaskRow {
  let output: Record<string, unknown> | undefined;
  if (row.output != null) {
    try {
      output = JSON.parse(String(row.output));
    } catch {}
  }
  return {
    runId: String(row.run_id),
    job: String(row.job),
    task: String(row.task),
    kind: String(row.kind ?? ''),
    state: String(row.state) as TaskState,
    attempts: Number(row.attempts ?? 0),
    ...(row.started_at != null && { startedAt: ms(row.started_at) }),
    ...(row.ended_at != null && { endedAt: ms(row.ended_at) }),
    ...(row.error != null && { error: text(row.error) }),
    ...(output && { output }),
  };
}

/** Runs `fn` after the previous call on the same queue has settled. */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => {});
    return next;
  }
}

/**
 * A history table takes a small commit per change: a day of time travel and a week of
 * log are plenty, and keep the files that VACUUM and log clean-up leave few.
 */
const SYSTEM_TABLE_PROPERTIES = {
  'delta.deletedFileRetentionDuration': 'interval 1 days',
  'delta.logRetentionDuration': 'interval 7 days',
};

/** Opens (or defines, to be created by its first write) a system table of the data directory. */
export async function openSystemTable(
  dataDir: string,
  name: string,
  schema: StructType,
  clock: Clock,
): Promise<DeltaTable> {
  const { store } = await locateTable(name, dataDir, { mustExist: false });
  return DeltaTable.open(store, {
    clock,
    createIfMissing: { schema, description: `Tributary ${name}`, configuration: SYSTEM_TABLE_PROPERTIES },
  });
}

/** Re-plans after this many conflicting commits (several processes writing history at once). */
const MERGE_RETRIES = 10;
/** `tidy` compacts a history table that holds more files than this. */
const TIDY_FILES = 48;

export class JobHistory {
  private readonly runsQ = new Queue();
  private readonly tasksQ = new Queue();

  readonly runsTable: DeltaTable;
  readonly tasksTable: DeltaTable;
  readonly clock: Clock;

  private constructor(runsTable: DeltaTable, tasksTable: DeltaTable, clock: Clock) {
    this.runsTable = runsTable;
    this.tasksTable = tasksTable;
    this.clock = clock;
  }

  static async open(dataDir: string, clock: Clock): Promise<JobHistory> {
    const [runs, tasks] = await Promise.all([
      openSystemTable(dataDir, RUNS_TABLE, RUNS_SCHEMA, clock),
      openSystemTable(dataDir, TASKS_TABLE, TASKS_SCHEMA, clock),
    ]);
    return new JobHistory(runs, tasks, clock);
  }

  saveRun(run: RunRow): Promise<void> {
    return this.runsQ.run(async () => {
      await merge(
        this.runsTable,
        { rows: [runRecord(run, this.clock.now())] },
        { on: ['run_id'], maxRetries: MERGE_RETRIES },
      );
    });
  }

  saveTasks(rows: TaskRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.tasksQ.run(async () => {
      const now = this.clock.now();
      await merge(
        this.tasksTable,
        { rows: rows.map((t) => taskRecord(t, now)) },
        { on: ['run_id', 'task'], maxRetries: MERGE_RETRIES },
      );
    });
  }

  /**
   * Runs, newest first (by start), optionally of one job, in some states, one run by id,
   * or those before a run id (run ids sort as their start times: paging newest first).
   */
  async runs(
    opts: { job?: string; states?: RunState[]; limit?: number; runId?: string; before?: string } = {},
  ): Promise<RunRow[]> {
    if (!(await this.runsTable.exists())) return [];
    const filter: Filter[] = [];
    if (opts.job !== undefined) filter.push({ column: 'job', op: '=', value: opts.job });
    if (opts.states !== undefined) filter.push({ column: 'state', op: 'in', value: opts.states });
    if (opts.runId !== undefined) filter.push({ column: 'run_id', op: '=', value: opts.runId });
    if (opts.before !== undefined) filter.push({ column: 'run_id', op: '<', value: opts.before });
    const rows = await readRows(this.runsTable, await this.runsTable.snapshot(), {
      filter,
      orderBy: 'started_at DESC, run_id DESC',
      limit: opts.limit,
    });
    return rows.map(runFrom);
  }

  async tasks(runIds: string[]): Promise<TaskRow[]> {
    if (runIds.length === 0 || !(await this.tasksTable.exists())) return [];
    const rows = await readRows(this.tasksTable, await this.tasksTable.snapshot(), {
      filter: [{ column: 'run_id', op: 'in', value: runIds }],
    });
    return rows.map(taskFrom);
  }

  /**
   * Marks failed the runs left `running` by an owner that is gone (owner.ts), and their
   * unfinished tasks; `lockedJob` is a job whose run lock this process holds, so no
   * other run of it can be going on (except `ownRun`). Returns the runs it changed: of
   * two processes fixing the same run, one changes it (the MERGE updates only a row still
   * `running`), so the run's alert is raised once.
   */
  async failStale(opts: { lockedJob?: string; ownRun?: string } = {}): Promise<RunRow[]> {
    const now = this.clock.now();
    const running = await this.runs({
      states: ['running'],
      ...(opts.lockedJob !== undefined && { job: opts.lockedJob }),
    });
    const changed: RunRow[] = [];
    for (const run of running) {
      if (run.runId === opts.ownRun) continue;
      const alive = ownerAlive(run.owner);
      const why =
        run.job === opts.lockedJob
          ? `its process (pid ${run.owner.pid} on ${run.owner.host}) ended or lost track of it while it was running`
          : alive === false
            ? `its process (pid ${run.owner.pid} on ${run.owner.host}) ended while it was running`
            : alive === undefined && now > run.expiresAt
              ? `it was still marked running on ${run.owner.host} (pid ${run.owner.pid}) past the longest its tasks' timeouts and retries allow`
              : undefined;
      if (why === undefined) continue;
      const failed: RunRow = { ...run, state: 'failed', endedAt: now, error: `run failed: ${why}` };
      const updated = await this.runsQ.run(async () => {
        const res = await merge(
          this.runsTable,
          { rows: [runRecord(failed, now)] },
          {
            on: ['run_id'],
            whenMatched: { update: "target.state = 'running'" },
            whenNotMatched: 'ignore',
            maxRetries: MERGE_RETRIES,
          },
        );
        return res.metrics.numTargetRowsUpdated;
      });
      if (updated === 0) continue;
      const open = (await this.tasks([run.runId])).filter((t) =>
        ['pending', 'running', 'retrying'].includes(t.state),
      );
      await this.saveTasks(
        open.map((t) =>
          t.state === 'pending'
            ? { ...t, state: 'cancelled', endedAt: now, error: 'not started: the run failed' }
            : { ...t, state: 'failed', endedAt: now, error: `the run's process ended during this task` },
        ),
      );
      changed.push(failed);
    }
    return changed;
  }

  /** Compacts a history table with many small files (and vacuums and trims its log). */
  async tidy(): Promise<void> {
    for (const [table, q, key] of [
      [this.runsTable, this.runsQ, 'run_id'],
      [this.tasksTable, this.tasksQ, 'run_id'],
    ] as const) {
      await q.run(async () => {
        const snap = await table.snapshot();
        if (snap.files().length <= TIDY_FILES) return;
        await optimize(table, { orderBy: [key] });
        await table.checkpoint();
        await table.vacuum();
        await table.cleanupLog();
      });
    }
  }
}

export { ms as timestampMs };
