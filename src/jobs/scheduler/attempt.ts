/**
 * One task of a run: its attempts, the timeout of each, and the back-off between them.
 *
 * A timeout fails the attempt (JOB_TASK_TIMEOUT) and aborts `ctx.signal`; the attempt's
 * promise is then abandoned, not awaited: JavaScript cannot stop a function that does
 * not look at its signal, and a DuckDB statement or a Delta commit under way runs to its
 * end in the background. Its result is ignored, and a retry may start while it runs
 * (docs/jobs.md, "Timeouts"). Stopping the run aborts the signal too, and no retry follows.
 */
import type { Clock } from '../../core/clock.ts';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import type { TaskRow } from './history.ts';
import { type TaskAlert, type TaskOutput, taskKind } from './registry.ts';
import { fillPlaceholders } from './templates.ts';
import { backoffMs, type Sleep, type TaskSpec } from './types.ts';

export interface AttemptHost {
  job: string;
  runId: string;
  scheduledTime: number;
  date: string;
  dataDir: string;
  project?: string;
  clock: Clock;
  sleep: Sleep;
  /** Aborted when the run is being stopped. */
  stop: AbortSignal;
  log(line: string): void;
  alert(task: string, alert: TaskAlert): Promise<void>;
  /** Records the task's row (history) and tells listeners. */
  update(row: TaskRow, event?: { retryInMs?: number }): Promise<void>;
}

/** `[CODE] message` for our errors, the message for others. */
export function errorText(err: unknown): string {
  if (isTributaryError(err)) return `[${err.code}] ${err.message}`;
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Errors that no retry can fix: bad input or configuration, as the error itself says. */
function hopeless(err: unknown): boolean {
  return isTributaryError(err) && err.domain === 'user' && !err.retryable;
}

type Outcome = { ok: true; output: TaskOutput | undefined } | { ok: false; error: unknown };

/** Runs the task until it succeeds, fails for good, or the run stops; returns its final row. */
export async function runTask(spec: TaskSpec, host: AttemptHost): Promise<TaskRow> {
  const row: TaskRow = {
    runId: host.runId,
    job: host.job,
    task: spec.name,
    kind: spec.kind,
    state: 'pending',
    attempts: 0,
  };
  const finish = async (state: TaskRow['state'], extra: Partial<TaskRow>) => {
    Object.assign(row, { state, endedAt: host.clock.now() }, extra);
    await host.update({ ...row });
    return { ...row };
  };
  const attempts = spec.retry.retries + 1;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (host.stop.aborted)
      return finish('cancelled', { error: row.error ?? 'the run was stopped before this task ran' });
    row.attempts = attempt;
    row.state = 'running';
    row.startedAt ??= host.clock.now();
    await host.update({ ...row });
    if (host.stop.aborted)
      return finish('cancelled', { error: 'the run was stopped before this attempt began' });
    const outcome = await attemptOnce(spec, host, attempt);
    if (outcome.ok)
      return finish('succeeded', { error: undefined, ...(outcome.output && { output: outcome.output }) });
    row.error = errorText(outcome.error);
    if (host.stop.aborted) return finish('cancelled', {});
    if (attempt === attempts || hopeless(outcome.error)) return finish('failed', {});
    const wait = backoffMs(spec.retry, attempt);
    row.state = 'retrying';
    await host.update({ ...row }, { retryInMs: wait });
    await host.sleep(wait, host.stop);
  }
  return finish('failed', {});
}

async function attemptOnce(spec: TaskSpec, host: AttemptHost, attempt: number): Promise<Outcome> {
  const kind = taskKind(spec.kind);
  if (kind === undefined) {
    // Not retried (a user error): waiting does not register it.
    const error = new TributaryError(
      'JOB_INVALID',
      `no task kind '${spec.kind}' is registered in this process; register it (registerTaskKind) before running the job`,
      { job: host.job, task: spec.name, kind: spec.kind },
    );
    return { ok: false, error };
  }
  const abort = new AbortController();
  const onStop = () => abort.abort(host.stop.reason);
  if (host.stop.aborted) onStop();
  else host.stop.addEventListener('abort', onStop, { once: true });
  const params = fillPlaceholders(spec.params, {
    date: host.date,
    scheduled_time: new Date(host.scheduledTime).toISOString(),
    run_id: host.runId,
    job: host.job,
    task: spec.name,
  });
  const prefix = `job ${host.job}, task ${spec.name}`;
  const work: Promise<Outcome> = (async () => {
    const output = await kind.run(params, {
      job: host.job,
      task: spec.name,
      runId: host.runId,
      attempt,
      scheduledTime: host.scheduledTime,
      date: host.date,
      dataDir: host.dataDir,
      ...(host.project !== undefined && { project: host.project }),
      clock: host.clock,
      signal: abort.signal,
      log: (message) => host.log(`${prefix}: ${message}`),
      alert: (a) => host.alert(spec.name, a),
    });
    return { ok: true as const, output: output ?? undefined };
  })().catch((error: unknown) => ({ ok: false as const, error }));
  const timer = new AbortController();
  const timedOut = host
    .sleep(spec.timeoutMs, timer.signal)
    .then(() => (timer.signal.aborted ? undefined : 'timeout'));
  try {
    const first = await Promise.race([work, timedOut]);
    if (first !== 'timeout' && first !== undefined) return first;
    const error = new TributaryError(
      'JOB_TASK_TIMEOUT',
      `task ${spec.name} of job ${host.job} ran longer than its timeout of ${spec.timeoutMs} ms (attempt ${attempt}); it is failed and its work abandoned`,
      { job: host.job, task: spec.name, timeoutMs: spec.timeoutMs, attempt },
    );
    abort.abort(error);
    host.log(
      `${prefix}: attempt ${attempt} timed out after ${spec.timeoutMs} ms; abandoned (it may still be running)`,
    );
    void work.then((late) => {
      if (late.ok)
        host.log(`${prefix}: abandoned attempt ${attempt} finished after all; its result is ignored`);
    });
    return { ok: false, error };
  } finally {
    timer.abort();
    host.stop.removeEventListener('abort', onStop);
  }
}
