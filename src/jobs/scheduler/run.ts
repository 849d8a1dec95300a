/**
 * One run of a job: its tasks in dependency order, independent ones at the same time (at
 * most `maxParallel`), each retried with back-off and bounded by its timeout
 * (attempt.ts). A task that fails after its retries fails the run, and the tasks that
 * depend on it, directly or not, are skipped; tasks on other branches go on.
 *
 * The run holds its job's lock from start to end (owner.ts), so runs of one job never
 * overlap; holding it also proves that any other run of the job still marked `running`
 * in the history is stale, and such runs are marked failed (and alerted) first. The run
 * and its tasks are recorded as they change (history.ts); a failed run raises one alert
 * (alerts.ts).
 */
import { randomBytes } from 'node:crypto';
import { type Clock, systemClock } from '../../core/clock.ts';
import { TributaryError } from '../../core/errors.ts';
import { type Alert, Alerter } from './alerts.ts';
import { errorText, runTask } from './attempt.ts';
import { isDate, localDate } from './calendar.ts';
import { dependantsOf } from './dag.ts';
import { JobHistory, type RunRow, type TaskRow } from './history.ts';
import { lockJob, thisProcess } from './owner.ts';
import type { AlertConfig, Job, RunState, Sleep } from './types.ts';
import { backoffMs, realSleep } from './types.ts';

export type JobEvent =
  | { type: 'run_started'; job: string; runId: string; scheduledTime: number; date: string }
  | { type: 'task_started'; job: string; runId: string; task: string; attempt: number }
  | {
      type: 'task_retry';
      job: string;
      runId: string;
      task: string;
      attempt: number;
      error: string;
      delayMs: number;
    }
  | { type: 'task_finished'; job: string; runId: string; task: TaskRow }
  | { type: 'run_finished'; job: string; runId: string; state: RunState; error?: string }
  | { type: 'run_skipped'; job: string; runId: string; scheduledTime: number; reason: string }
  | { type: 'sla_missed'; job: string; runId: string; deadline: number }
  | { type: 'alert'; alert: Alert };

export interface RunJobOptions {
  /** Where the tables live (and the history, alerts and job locks). */
  dataDir: string;
  /** The project folder, for kinds that read files of it (models). */
  project?: string;
  clock?: Clock;
  sleep?: Sleep;
  /** The logical date, YYYY-MM-DD (default: the scheduled day in the job's time zone, plus its date_offset). */
  date?: string;
  /** The instant the run is for (default: now). */
  scheduledTime?: number;
  trigger?: 'schedule' | 'manual';
  /** Overrides the job's max_parallel. */
  maxParallel?: number;
  /** Stops the run: no new task or retry starts, running tasks see their signal aborted. */
  signal?: AbortSignal;
  /** The webhook; ignored when `alerter` is given. */
  alerts?: AlertConfig;
  alerter?: Alerter;
  history?: JobHistory;
  /** Log lines (default: stderr). */
  log?: (line: string) => void;
  onEvent?: (event: JobEvent) => void;
}

export interface RunResult {
  runId: string;
  job: string;
  state: RunState;
  scheduledTime: number;
  date: string;
  tasks: TaskRow[];
  error?: string;
}

export const defaultLog = (line: string) => console.error(`tributary jobs: ${line}`);

/** Time-ordered and unique: `20261129T020000123Z-3f9a0c`. */
export function newRunId(now: number): string {
  const t = new Date(now).toISOString().replace(/[-:.]/g, '');
  return `${t}-${randomBytes(3).toString('hex')}`;
}

/** The longest a run can take: every attempt of every task to its timeout, one after another, plus the waits. */
export function longestRunMs(job: Job): number {
  let total = 15 * 60_000; // history writes and alerts around the tasks
  for (const t of job.tasks) {
    total += (t.retry.retries + 1) * t.timeoutMs;
    for (let r = 1; r <= t.retry.retries; r++) total += backoffMs(t.retry, r);
  }
  return total;
}

export interface RunContext {
  clock: Clock;
  sleep: Sleep;
  log: (line: string) => void;
  history: JobHistory;
  alerter: Alerter;
  emit: (event: JobEvent) => void;
}

/** Fills the defaults shared by runJob and the Scheduler. */
export async function runContext(opts: RunJobOptions): Promise<RunContext> {
  const clock = opts.clock ?? systemClock;
  const sleep = opts.sleep ?? realSleep;
  const log = opts.log ?? defaultLog;
  const emit = (event: JobEvent) => {
    try {
      opts.onEvent?.(event);
    } catch (err) {
      log(`an event listener failed: ${(err as Error).message}`);
    }
  };
  const history = opts.history ?? (await JobHistory.open(opts.dataDir, clock));
  const alerter =
    opts.alerter ?? new Alerter({ dataDir: opts.dataDir, clock, sleep, webhook: opts.alerts?.webhook, log });
  return { clock, sleep, log, history, alerter, emit };
}

/** Raises the one alert of a failed run. */
export async function alertRunFailed(
  ctx: RunContext,
  run: RunRow,
  details: Record<string, unknown> = {},
): Promise<void> {
  const alert = await ctx.alerter.raise({
    kind: 'run_failed',
    job: run.job,
    runId: run.runId,
    scheduledTime: run.scheduledTime,
    message: run.error ?? `run ${run.runId} failed`,
    details: { date: run.date, trigger: run.trigger, ...details },
  });
  ctx.emit({ type: 'alert', alert });
}

/** Marks stale runs failed (owner.ts), raising each one's alert. */
export async function failStaleRuns(ctx: RunContext, opts: { lockedJob?: string } = {}): Promise<RunRow[]> {
  const changed = await ctx.history.failStale(opts);
  for (const run of changed) {
    ctx.log(`run ${run.runId} of job ${run.job} was left running; marked failed (${run.error})`);
    await alertRunFailed(ctx, run, { stale: true });
  }
  return changed;
}

/**
 * Runs `job` once, now; resolves when it has ended (never rejects because a task
 * failed: see the result's state). JOB_ALREADY_RUNNING when a run of the job is going on.
 */
export async function runJob(job: Job, opts: RunJobOptions): Promise<RunResult> {
  if (opts.date !== undefined && !isDate(opts.date)) {
    throw new TributaryError('CONFIG_INVALID', `the run date '${opts.date}' is not a date like 2026-11-29`, {
      date: opts.date,
    });
  }
  const lock = await lockJob(opts.dataDir, job.name);
  let ctx: RunContext;
  let result: RunResult;
  try {
    ctx = await runContext(opts);
    await failStaleRuns(ctx, lock.exclusive ? { lockedJob: job.name } : {});
    result = await execute(job, opts, ctx);
  } finally {
    lock.release();
  }
  // Told once the run is over for good (alert raised, lock free: the next run may start).
  const { runId, state, error } = result;
  ctx.emit({ type: 'run_finished', job: job.name, runId, state, ...(error !== undefined && { error }) });
  return result;
}

async function execute(job: Job, opts: RunJobOptions, ctx: RunContext): Promise<RunResult> {
  const { clock, history, log, emit } = ctx;
  const now = clock.now();
  const scheduledTime = opts.scheduledTime ?? now;
  const tz = job.schedule?.timezone ?? 'UTC';
  const date = opts.date ?? localDate(scheduledTime, tz, job.schedule?.dateOffset ?? 0);
  const run: RunRow = {
    runId: newRunId(now),
    job: job.name,
    scheduledTime,
    date,
    trigger: opts.trigger ?? 'manual',
    state: 'running',
    startedAt: now,
    owner: thisProcess(),
    expiresAt: now + longestRunMs(job),
  };
  const rows = new Map<string, TaskRow>(
    job.tasks.map((t) => [
      t.name,
      { runId: run.runId, job: job.name, task: t.name, kind: t.kind, state: 'pending', attempts: 0 },
    ]),
  );
  await history.saveRun(run);
  await history.saveTasks([...rows.values()]);
  emit({ type: 'run_started', job: job.name, runId: run.runId, scheduledTime, date });

  const stop = opts.signal ?? new AbortController().signal;
  // Rows whose last save failed are saved again at the end of the run.
  const unsaved = new Set<string>();
  const update = async (row: TaskRow, event: { retryInMs?: number } = {}) => {
    rows.set(row.task, row);
    try {
      await history.saveTasks([row]);
      unsaved.delete(row.task);
    } catch (err) {
      unsaved.add(row.task);
      log(`could not record task ${row.task} of run ${run.runId}: ${errorText(err)}`);
    }
    const ids = { job: job.name, runId: run.runId };
    if (row.state === 'running')
      emit({ type: 'task_started', ...ids, task: row.task, attempt: row.attempts });
    else if (row.state === 'retrying') {
      const delayMs = event.retryInMs ?? 0;
      emit({
        type: 'task_retry',
        ...ids,
        task: row.task,
        attempt: row.attempts,
        error: row.error ?? '',
        delayMs,
      });
    } else if (row.state !== 'pending') emit({ type: 'task_finished', ...ids, task: row });
  };
  const host = {
    job: job.name,
    runId: run.runId,
    scheduledTime,
    date,
    dataDir: opts.dataDir,
    ...(opts.project !== undefined && { project: opts.project }),
    clock,
    sleep: ctx.sleep,
    stop,
    log,
    update,
    alert: async (task: string, a: { kind: string; message: string; details?: Record<string, unknown> }) => {
      const alert = await ctx.alerter.raise({ ...a, job: job.name, runId: run.runId, task, scheduledTime });
      emit({ type: 'alert', alert });
    },
  };

  const maxParallel = Math.max(1, opts.maxParallel ?? job.maxParallel);
  const waiting = [...job.tasks];
  const running = new Map<string, Promise<TaskRow>>();
  const skipped: TaskRow[] = [];
  while (true) {
    for (const spec of [...waiting]) {
      if (stop.aborted || running.size >= maxParallel) break;
      if (!spec.dependsOn.every((d) => rows.get(d)?.state === 'succeeded')) continue;
      waiting.splice(waiting.indexOf(spec), 1);
      running.set(spec.name, runTask(spec, host));
    }
    if (running.size === 0) break;
    const done = await Promise.race([...running.values()]);
    running.delete(done.task);
    if (done.state === 'failed') {
      const blocked = dependantsOf(job.tasks, done.task);
      for (const spec of [...waiting]) {
        if (!blocked.has(spec.name)) continue;
        waiting.splice(waiting.indexOf(spec), 1);
        const row: TaskRow = {
          ...rows.get(spec.name)!,
          state: 'skipped',
          endedAt: clock.now(),
          error: `skipped: task ${done.task} it depends on failed`,
        };
        skipped.push(row);
        rows.set(spec.name, row);
        emit({ type: 'task_finished', job: job.name, runId: run.runId, task: row });
      }
    }
  }
  // Not started: the run was stopped (or their upstream was cancelled).
  for (const spec of waiting) {
    const row: TaskRow = {
      ...rows.get(spec.name)!,
      state: 'cancelled',
      endedAt: clock.now(),
      error: 'not started: the run was stopped',
    };
    skipped.push(row);
    rows.set(spec.name, row);
    emit({ type: 'task_finished', job: job.name, runId: run.runId, task: row });
  }
  const finalRows = [...rows.values()];
  try {
    await history.saveTasks([...skipped, ...finalRows.filter((r) => unsaved.has(r.task))]);
  } catch (err) {
    log(`could not record the tasks of run ${run.runId}: ${errorText(err)}`);
  }

  const failed = finalRows.filter((r) => r.state === 'failed');
  const state: RunState =
    failed.length > 0 ? 'failed' : finalRows.some((r) => r.state === 'cancelled') ? 'cancelled' : 'succeeded';
  const skippedNames = finalRows.filter((r) => r.state === 'skipped').map((r) => r.task);
  let error: string | undefined;
  if (state === 'failed') {
    error = failed
      .map(
        (r) => `task ${r.task} failed after ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}: ${r.error}`,
      )
      .join('; ');
    if (skippedNames.length > 0) error += `; skipped: ${skippedNames.join(', ')}`;
  } else if (state === 'cancelled') {
    error = 'the run was stopped';
  }
  const ended: RunRow = { ...run, state, endedAt: clock.now(), ...(error !== undefined && { error }) };
  await history.saveRun(ended);
  if (state === 'failed') {
    await alertRunFailed(ctx, ended, {
      failed_tasks: failed.map((r) => ({ task: r.task, attempts: r.attempts, error: r.error ?? null })),
      skipped_tasks: skippedNames,
    });
  }
  try {
    await history.tidy();
  } catch (err) {
    log(`could not compact the job history: ${errorText(err)}`);
  }
  return {
    runId: run.runId,
    job: job.name,
    state,
    scheduledTime,
    date,
    tasks: job.tasks.map((t) => rows.get(t.name)!),
    ...(error !== undefined && { error }),
  };
}

/** Records a scheduled run that did not start because a run of the job was still going on. */
export async function recordSkipped(
  ctx: RunContext,
  job: Job,
  scheduledTime: number,
  reason: string,
): Promise<RunRow> {
  const now = ctx.clock.now();
  const row: RunRow = {
    runId: newRunId(now),
    job: job.name,
    scheduledTime,
    date: localDate(scheduledTime, job.schedule?.timezone ?? 'UTC', job.schedule?.dateOffset ?? 0),
    trigger: 'schedule',
    state: 'skipped',
    startedAt: now,
    endedAt: now,
    error: reason,
    owner: thisProcess(),
    expiresAt: now,
  };
  await ctx.history.saveRun(row);
  ctx.emit({ type: 'run_skipped', job: job.name, runId: row.runId, scheduledTime, reason });
  return row;
}
