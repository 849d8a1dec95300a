/**
 * The loop a long-running worker runs (a pipeline's batches, a change capture's polls):
 * steps until stopped, with a pause when idle, and failures handled one way everywhere.
 *
 * A retryable error (storage, broker, commit conflict, DuckDB out of memory or I/O) does
 * not end the loop: it is reported, and the step is retried after a back-off doubling
 * from `retryBackoffMs` (at most `maxBackoffMs`), at most `maxRetries` times in a row. A
 * database that is down (POSTGRES_UNAVAILABLE) is waited for however long it takes. Other
 * errors are thrown: they need a person.
 */
import { type Clock, systemClock } from '../core/clock.ts';
import { isTributaryError } from '../core/errors.ts';

/** What a step did: more work may be waiting (`busy`), nothing was there (`idle`), or the loop is finished (`done`). */
export type StepOutcome = 'busy' | 'idle' | 'done';

export interface RetryPolicy {
  /** Retryable failures in a row before giving up (default 10; POSTGRES_UNAVAILABLE: no limit). */
  maxRetries?: number;
  /** The first back-off (default 500 ms), doubled after each failure in a row. */
  retryBackoffMs?: number;
  /** The longest wait between retries (default 30 s). */
  maxBackoffMs?: number;
}

/**
 * A retryable failure, about to be retried in `retryInMs`; `others`: further failures of
 * the same step (the first one is `err`).
 */
export type OnRetry = (err: unknown, attempt: number, others: readonly unknown[], retryInMs: number) => void;

export interface LoopOptions extends RetryPolicy {
  /**
   * One unit of work. `afterFailure`: the previous step failed (reload what it may have
   * left half done before going on).
   */
  step: (afterFailure: boolean) => Promise<StepOutcome>;
  signal?: AbortSignal;
  /** Minimum time between the starts of two steps when idle. */
  idleMs: number;
  /** Names the worker in the default messages (`pipeline`, `capture`). */
  label: string;
  /** What a step is called in the default messages (`batch`, `poll`). */
  unit: string;
  /** Default: a line on stderr (and `onResumed`'s default when a step succeeds again). */
  onRetry?: OnRetry;
  /** A step succeeded after `failures` failed tries. Default: a line on stderr, unless `onRetry` is given. */
  onResumed?: (failures: number) => void;
  /** Failures waited out however long they last (default: POSTGRES_UNAVAILABLE). */
  waits?: (err: unknown) => boolean;
  /** Further failures of the failed step, taken (and cleared) when it fails. */
  takeOthers?: () => unknown[];
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The default report of a retryable failure: a line on stderr (and one per further failure). */
export function defaultOnRetry(label: string, unit: string): OnRetry {
  return (err, attempt, others, retryInMs) => {
    const next = `next try in ${Math.round(retryInMs / 100) / 10} s`;
    if (isTributaryError(err, 'POSTGRES_UNAVAILABLE')) {
      console.error(
        `${label}: waiting for PostgreSQL (try ${attempt} failed, ${next}; the ${unit} is kept and the ${label} resumes by itself when the database is back): ${errorMessage(err)}`,
      );
    } else {
      console.error(
        `${label}: ${unit} failed (attempt ${attempt}), retrying (${next}): ${errorMessage(err)}`,
      );
    }
    for (const o of others) console.error(`${label}: in the same ${unit}, also: ${errorMessage(o)}`);
  };
}

/**
 * Runs `step` until it returns `done` or `signal` aborts. Resolves when stopped either
 * way; rejects with the first error that is not retryable, or retryable too many times.
 */
export async function runLoop(opts: LoopOptions): Promise<void> {
  const clock = opts.clock ?? systemClock;
  const sleep = opts.sleep ?? realSleep;
  const maxRetries = opts.maxRetries ?? 10;
  let failures = 0;
  while (!opts.signal?.aborted) {
    const started = clock.now();
    let outcome: StepOutcome;
    try {
      outcome = await opts.step(failures > 0);
      if (outcome === 'done') return;
      if (failures > 0) {
        if (opts.onResumed) opts.onResumed(failures);
        else if (!opts.onRetry) {
          console.error(
            `${opts.label}: resumed after ${failures} failed ${failures === 1 ? 'try' : 'tries'}`,
          );
        }
      }
      failures = 0;
    } catch (err) {
      const others = opts.takeOthers?.() ?? [];
      const waits = opts.waits ? opts.waits(err) : isTributaryError(err, 'POSTGRES_UNAVAILABLE');
      failures++;
      if (!waits && (!isTributaryError(err) || !err.retryable || failures > maxRetries)) {
        for (const o of others)
          console.error(`${opts.label}: in the failed ${opts.unit}, also: ${errorMessage(o)}`);
        throw err;
      }
      const backoff = (opts.retryBackoffMs ?? 500) * 2 ** Math.min(failures - 1, 20);
      const delay = Math.min(backoff, opts.maxBackoffMs ?? 30_000);
      (opts.onRetry ?? defaultOnRetry(opts.label, opts.unit))(err, failures, others, delay);
      await pause(sleep, delay, opts.signal);
      continue;
    }
    if (outcome === 'idle') {
      const wait = started + opts.idleMs - clock.now();
      if (wait > 0) await pause(sleep, wait, opts.signal);
    }
  }
}

/** Sleeps `ms`, or less when `signal` aborts (a stop request during a long back-off). */
export async function pause(
  sleep: (ms: number) => Promise<void>,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  if (!signal) return sleep(ms);
  if (signal.aborted) return;
  let onAbort = () => {};
  const aborted = new Promise<void>((r) => {
    onAbort = r;
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([sleep(ms), aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
