/**
 * Jobs and runs as the API answers them, read from the same history the scheduler writes
 * and `tributary jobs history` prints (src/jobs/scheduler/history.ts): a job's definition
 * summary with its next and last run, a run with its duration, attempts and error, and a
 * run's tasks with their outputs and errors (the run's log).
 */
import { TributaryError } from '../../core/errors.ts';
import {
  describeSla,
  type Job,
  type JobHistory,
  nextFire,
  type RunRow,
  type TaskRow,
} from '../../jobs/scheduler/index.ts';
import { requestInvalid } from '../http-errors.ts';

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
const took = (start: number | undefined, end: number | undefined) =>
  start === undefined || end === undefined ? null : end - start;

export function runView(run: RunRow, tasks: TaskRow[]) {
  return {
    runId: run.runId,
    job: run.job,
    state: run.state,
    trigger: run.trigger,
    date: run.date,
    scheduledTime: iso(run.scheduledTime),
    startedAt: iso(run.startedAt),
    endedAt: iso(run.endedAt),
    durationMs: took(run.startedAt, run.endedAt),
    attempts: tasks.reduce((n, t) => n + t.attempts, 0),
    error: run.error ?? null,
  };
}

export function taskView(t: TaskRow) {
  return {
    task: t.task,
    kind: t.kind,
    state: t.state,
    attempts: t.attempts,
    startedAt: iso(t.startedAt),
    endedAt: iso(t.endedAt),
    durationMs: took(t.startedAt, t.endedAt),
    error: t.error ?? null,
    output: t.output ?? null,
  };
}

export async function jobView(job: Job, history: JobHistory, now: number) {
  const [last] = await history.runs({ job: job.name, limit: 1 });
  const lastTasks = last ? await history.tasks([last.runId]) : [];
  return {
    name: job.name,
    description: job.description ?? null,
    schedule: job.schedule
      ? { cron: job.schedule.cron, timezone: job.schedule.timezone, dateOffset: job.schedule.dateOffset }
      : null,
    nextRun: job.schedule ? iso(nextFire(job.schedule, now)) : null,
    sla: job.sla ? describeSla(job.sla) : null,
    tasks: job.tasks.map((t) => ({
      name: t.name,
      kind: t.kind,
      dependsOn: t.dependsOn,
      retries: t.retry.retries,
      timeoutMs: t.timeoutMs,
    })),
    lastRun: last ? runView(last, lastTasks) : null,
  };
}

/** Tasks of a run in the job's order (tasks the job no longer has last). */
export function inJobOrder(job: Job, tasks: TaskRow[]): TaskRow[] {
  const order = new Map(job.tasks.map((t, i) => [t.name, i]));
  return [...tasks].sort((a, b) => (order.get(a.task) ?? 1e9) - (order.get(b.task) ?? 1e9));
}

/** A page cursor: the job, and the run the next page starts after. */
export function encodeCursor(job: string, before: string): string {
  return Buffer.from(JSON.stringify({ j: job, b: before })).toString('base64url');
}

export function decodeCursor(job: string, cursor: string): string {
  let parsed: { j?: unknown; b?: unknown } | undefined;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {}
  if (typeof parsed?.b !== 'string' || parsed.j !== job) {
    throw requestInvalid(
      'querystring.cursor',
      `not a cursor of this job's runs: give the nextCursor of the previous page of /jobs/${job}/runs`,
    );
  }
  return parsed.b;
}

export function runNotFound(job: string, runId: string): TributaryError {
  return new TributaryError(
    'JOB_RUN_NOT_FOUND',
    `job ${job} has no run ${runId}; GET /api/v1/jobs/${job}/runs lists its runs`,
    { field: 'params.runId', job, runId },
  );
}
