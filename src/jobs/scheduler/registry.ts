/**
 * Task kinds: what a task of a job does. The scheduler knows none by itself; each kind
 * registers here (`maintenance` and `sql` are built in: kinds/), so other parts of
 * Tributary — SQL models, exports — and users' own code plug in without the scheduler
 * knowing them.
 *
 * The contract a kind meets (docs/jobs.md, "Task kinds"):
 *
 * - `check(params)` runs when a jobs file is loaded, before anything runs: it returns
 *   the problems of the task's `params` (paths relative to `params`), which are reported
 *   with the file, line and column. No I/O that can fail for reasons other than the
 *   definition: the check must pass or fail the same way each time.
 * - `run(params, ctx)` does the work of one attempt. It resolves with an optional
 *   JSON-able summary (kept in the task history, printed by `tributary jobs run`) or
 *   rejects: the scheduler then retries it with back-off, unless the error is a
 *   TributaryError of the `user` domain that is not retryable (bad SQL does not get
 *   better by waiting). It must be safe to run again after a failed or timed-out
 *   attempt — idempotent, or a Delta commit that either happened or did not.
 * - `ctx.signal` aborts when the attempt times out or the run is stopped. The scheduler
 *   does not wait for a timed-out attempt: it fails it and moves on (a retry may start
 *   while the abandoned attempt still runs). A kind whose work can be cancelled should
 *   stop on the signal; one that cannot (a DuckDB statement, a Delta commit under way)
 *   finishes in the background, and its result is ignored.
 * - `ctx.alert(...)` raises an alert of the kind's own (a failed `error` expectation):
 *   one record in `_tributary_alerts`, one log line, and the webhook if configured.
 */
import type { Clock } from '../../core/clock.ts';
import type { Path, Problem } from '../../pipeline/shape.ts';

export type { Path, Problem };

/** What a kind's check gets besides the params. */
export interface CheckContext {
  job: string;
  task: string;
  /** The project folder the jobs file is in. */
  project: string;
}

/** What an alert raised by a task says; the scheduler adds the job, run, task and time. */
export interface TaskAlert {
  /** A short name of what happened: `expectation_failed`, ... */
  kind: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface TaskContext {
  job: string;
  task: string;
  runId: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** The instant the run was scheduled for (a manual run: when it was asked for), ms. */
  scheduledTime: number;
  /** The run's logical date, YYYY-MM-DD (`--date`, or the scheduled day in the job's time zone). */
  date: string;
  /** Tables named without a path live in `<dataDir>/tables/<name>`. */
  dataDir: string;
  project?: string;
  clock: Clock;
  /** Aborted when this attempt timed out or the run is being stopped. */
  signal: AbortSignal;
  /** A line in the scheduler's log, prefixed with the job and task. */
  log(message: string): void;
  alert(alert: TaskAlert): Promise<void>;
}

/** A JSON-able summary of what an attempt did (files compacted, rows checked, …). */
export type TaskOutput = Record<string, unknown>;

export interface TaskKind {
  /** One line for `tributary jobs list --tasks` and docs. */
  description?: string;
  check(params: Record<string, unknown>, ctx: CheckContext): Problem[] | Promise<Problem[]>;
  run(params: Record<string, unknown>, ctx: TaskContext): Promise<TaskOutput | undefined>;
}

const KINDS = new Map<string, TaskKind>();

/**
 * Makes `kind` usable as a task's `kind:`. Registering a name again replaces the kind
 * (a test's fake, a newer version). A run looks its tasks' kinds up as it starts them.
 */
export function registerTaskKind(kind: string, impl: TaskKind): void {
  if (!/^[a-z][a-z0-9_]*$/.test(kind)) {
    throw new Error(`task kind names are lower_snake_case, not '${kind}'`);
  }
  KINDS.set(kind, impl);
}

export function taskKind(kind: string): TaskKind | undefined {
  return KINDS.get(kind);
}

export function taskKindNames(): string[] {
  return [...KINDS.keys()].sort();
}
