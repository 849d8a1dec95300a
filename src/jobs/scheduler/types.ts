/**
 * A job as the scheduler runs it: the definition of a jobs file (load.ts) resolved into
 * milliseconds and defaults. A job is a DAG of tasks with a schedule, retries with
 * exponential back-off, a timeout per task and an SLA (docs/jobs.md).
 */

/** Waits `ms`, or less when `signal` aborts; never rejects. Injectable, so tests never sleep. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });

export interface Schedule {
  /** A cron expression (5 fields, or 6 with seconds), read by croner. */
  cron: string;
  /** An IANA time zone (`Europe/Berlin`); default UTC. Cron times are wall-clock times there. */
  timezone: string;
  /** Days added to the scheduled day to give a run's logical date (-1: the day before). */
  dateOffset: number;
}

export interface RetryPolicy {
  /** Attempts after the first (default 3: four attempts in all). */
  retries: number;
  /** Wait before the first retry; doubled for each further one (default 30 s). */
  delayMs: number;
  /** The longest wait between attempts (default 10 minutes). */
  maxDelayMs: number;
}

/** Finish within a duration of the scheduled time, or by a wall-clock time of day. */
export type Sla = { withinMs: number } | { by: { hour: number; minute: number } };

export interface TaskSpec {
  name: string;
  kind: string;
  params: Record<string, unknown>;
  dependsOn: string[];
  retry: RetryPolicy;
  timeoutMs: number;
  description?: string;
}

export interface Job {
  name: string;
  description?: string;
  /** Undefined: the job runs only when asked (`tributary jobs run`). */
  schedule?: Schedule;
  /** In dependency order (every task after the tasks it depends on). */
  tasks: TaskSpec[];
  /** Tasks running at once, at most (default 4). */
  maxParallel: number;
  sla?: Sla;
  /** Where it was defined, for messages (`jobs.yaml:12:5`). */
  source?: string;
}

export interface WebhookConfig {
  url: string;
  headers: Record<string, string>;
  /** Per attempt (default 10 s). */
  timeoutMs: number;
  /** Tries in all (default 3). */
  attempts: number;
  /** Wait before the second try, doubled for each further one (default 1 s). */
  retryDelayMs: number;
}

export interface AlertConfig {
  webhook?: WebhookConfig;
}

export const DEFAULTS = {
  retries: 3,
  retryDelayMs: 30_000,
  maxRetryDelayMs: 600_000,
  timeoutMs: 3_600_000,
  maxParallel: 4,
  webhookTimeoutMs: 10_000,
  webhookAttempts: 3,
  webhookRetryDelayMs: 1_000,
} as const;

export type RunState = 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';
export type TaskState = 'pending' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

/** The wait before retry number `retry` (1 for the first retry): delay × 2^(retry-1), capped. */
export function backoffMs(policy: RetryPolicy, retry: number): number {
  return Math.min(policy.maxDelayMs, policy.delayMs * 2 ** Math.max(0, retry - 1));
}
