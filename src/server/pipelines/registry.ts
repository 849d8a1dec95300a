/**
 * The pipelines running in this process, as the server shows them (`/api/v1/pipelines`,
 * `/metrics`): each with its Pipeline (and so its PipelineMetrics), when it started,
 * whether it runs, stopped or failed, its recent errors, and samples of its counters
 * for throughput. A command that runs pipelines beside a server (`tributary run
 * --serve`, `tributary demo`) registers them here and gives the registry to
 * `createServer`; `tributary serve` alone has none.
 *
 * The registry only reads what the pipelines count; it never drives them. A pipeline's
 * state is told by whoever runs it (`track`, or `running`/`stopped`/`failed`).
 */
import { type Clock, systemClock } from '../../core/clock.ts';
import { isTributaryError } from '../../core/errors.ts';
import type { JobEvent } from '../../jobs/scheduler/index.ts';
import type { PipelineMetrics } from '../../stream/metrics.ts';
import type { Pipeline } from '../../stream/pipeline.ts';
import { defaultOnRetry, errorMessage, type OnRetry } from '../../stream/run-loop.ts';

export type PipelineState = 'starting' | 'running' | 'stopped' | 'failed';

export const PIPELINE_STATES: readonly PipelineState[] = ['starting', 'running', 'stopped', 'failed'];

export interface RecentError {
  /** When it happened, ms since the epoch. */
  at: number;
  /** The error catalog's code, when it has one. */
  code?: string;
  message: string;
  /** For a failure the pipeline retries: which try failed, and when the next one starts. */
  attempt?: number;
  retryInMs?: number;
}

/** Counters at one moment, for rates over an interval. */
interface Sample {
  at: number;
  recordsIn: number;
  rows: Map<string, number>;
}

export interface Throughput {
  /** The interval the rates are over (s); 0 when there is no earlier sample yet. */
  intervalSeconds: number;
  recordsInPerSecond: number;
  /** Rows each sink wrote per second. */
  sinks: Record<string, number>;
}

export interface RegisterOptions {
  /** The pipeline, or a function giving the current one when it may be replaced (a capture's schema change). */
  pipeline: Pipeline | (() => Pipeline);
  /** Default: the pipeline's own name. */
  name?: string;
  /** The table each sink writes, by sink name (labels of commits in /metrics). */
  sinkTables?: ReadonlyMap<string, string>;
}

/**
 * The table each sink of a compiled pipeline writes, by sink name: a sink's `table` found
 * among the pipeline's tables (sinks that are not tables are absent).
 */
export function sinkTables(compiled: {
  tables: ReadonlyMap<string, unknown>;
  sinks: ReadonlyMap<string, object>;
}): Map<string, string> {
  const names = new Map([...compiled.tables].map(([name, table]) => [table, name]));
  const out = new Map<string, string>();
  for (const [sink, s] of compiled.sinks) {
    const table = 'table' in s ? names.get((s as { table: unknown }).table) : undefined;
    if (table !== undefined) out.set(sink, table);
  }
  return out;
}

const MAX_ERRORS = 20;
/** Rates are over about this long. */
const RATE_WINDOW_MS = 10_000;
/** Samples are taken at most this often. */
const SAMPLE_EVERY_MS = 1_000;

export class RunningPipeline {
  readonly name: string;
  readonly startedAt: number;
  readonly sinkTables: ReadonlyMap<string, string>;
  private stateNow: PipelineState = 'starting';
  private stoppedAtMs?: number;
  private failureNow?: RecentError;
  private readonly recent: RecentError[] = [];
  private readonly errorCounts = new Map<string, number>();
  private readonly current: () => Pipeline;
  private readonly clock: Clock;
  private samples: Sample[] = [];
  private lagRefreshedAt = 0;

  constructor(opts: RegisterOptions, clock: Clock) {
    const given = opts.pipeline;
    this.current = typeof given === 'function' ? given : () => given;
    this.name = opts.name ?? this.current().describe().name;
    this.sinkTables = opts.sinkTables ?? new Map();
    this.clock = clock;
    this.startedAt = clock.now();
    this.sample(true);
  }

  get pipeline(): Pipeline {
    return this.current();
  }

  get metrics(): PipelineMetrics {
    return this.current().metrics;
  }

  get state(): PipelineState {
    return this.stateNow;
  }

  get stoppedAt(): number | undefined {
    return this.stoppedAtMs;
  }

  /** Why it failed, when it did. */
  get failure(): RecentError | undefined {
    return this.failureNow;
  }

  /** The last errors (retried failures and the one that stopped it), newest last. */
  get errors(): readonly RecentError[] {
    return this.recent;
  }

  /** Errors since registration, by code (`INTERNAL` for errors outside the catalog). */
  get errorsByCode(): ReadonlyMap<string, number> {
    return this.errorCounts;
  }

  uptimeSeconds(): number {
    return ((this.stoppedAtMs ?? this.clock.now()) - this.startedAt) / 1000;
  }

  running(): void {
    this.stateNow = 'running';
    this.stoppedAtMs = undefined;
  }

  stopped(): void {
    if (this.stateNow === 'failed') return;
    this.stateNow = 'stopped';
    this.stoppedAtMs = this.clock.now();
  }

  failed(err: unknown): void {
    this.failureNow = this.error(err);
    this.stateNow = 'failed';
    this.stoppedAtMs = this.clock.now();
  }

  /** Records an error (kept among the recent ones, counted by code); returns it. */
  error(err: unknown, retry?: { attempt: number; retryInMs: number }): RecentError {
    const e: RecentError = {
      at: this.clock.now(),
      ...(isTributaryError(err) && { code: err.code }),
      message: errorMessage(err),
      ...(retry && { attempt: retry.attempt, retryInMs: retry.retryInMs }),
    };
    this.recent.push(e);
    if (this.recent.length > MAX_ERRORS) this.recent.shift();
    const code = e.code ?? 'INTERNAL';
    this.errorCounts.set(code, (this.errorCounts.get(code) ?? 0) + 1);
    return e;
  }

  /**
   * An `onError` for `Pipeline.run`: records each retried failure, then reports it as
   * the run would have (a line on stderr by default).
   */
  onRetry(report: OnRetry = defaultOnRetry('pipeline', 'batch')): OnRetry {
    return (err, attempt, others, retryInMs) => {
      this.error(err, { attempt, retryInMs });
      for (const o of others) this.error(o);
      report(err, attempt, others, retryInMs);
    };
  }

  /** Marks it running until `run` settles: stopped when it resolves, failed (and rethrown) when it rejects. */
  async track(run: Promise<void>): Promise<void> {
    this.running();
    try {
      await run;
      this.stopped();
    } catch (err) {
      this.failed(err);
      throw err;
    }
  }

  /** Takes a sample of the counters (at most one a second unless `force`). */
  sample(force = false): void {
    const now = this.clock.now();
    const last = this.samples.at(-1);
    if (!force && last !== undefined && now - last.at < SAMPLE_EVERY_MS) return;
    const m = this.metrics;
    this.samples.push({
      at: now,
      recordsIn: m.recordsIn,
      rows: new Map([...m.sinks].map(([name, c]) => [name, c.rows])),
    });
    // Keep what the rate window needs, and one sample before it.
    while (this.samples.length > 2 && this.samples[1].at <= now - RATE_WINDOW_MS) this.samples.shift();
  }

  /**
   * Records and rows per second over about the last ten seconds: from the newest sample
   * at least ten seconds old (else the oldest) to the counters now.
   */
  throughput(): Throughput {
    const now = this.clock.now();
    const m = this.metrics;
    let base = this.samples[0];
    for (const s of this.samples) if (s.at <= now - RATE_WINDOW_MS) base = s;
    const dt = base === undefined ? 0 : (now - base.at) / 1000;
    const rate = (n: number, was: number) => (dt > 0 ? Math.max(0, n - was) / dt : 0);
    const sinks: Record<string, number> = {};
    for (const [name, c] of m.sinks) sinks[name] = rate(c.rows, base?.rows.get(name) ?? 0);
    return {
      intervalSeconds: dt,
      recordsInPerSecond: rate(m.recordsIn, base?.recordsIn ?? 0),
      sinks,
    };
  }

  /**
   * Re-reads each partition's end so the lag counts records produced since the last
   * batch (at most once a second; not once it stopped: its positions are final).
   */
  async refreshLag(): Promise<void> {
    const now = this.clock.now();
    if (this.stateNow !== 'running' || now - this.lagRefreshedAt < SAMPLE_EVERY_MS) return;
    this.lagRefreshedAt = now;
    try {
      await this.current().refreshLag();
    } catch {
      // The lag of the last batch stays; a log that does not answer shows in the pipeline's errors.
    }
  }
}

/** Job runs by job and final state, and SLAs missed, from the scheduler's events. */
export class JobCounters {
  readonly runs = new Map<string, Map<string, number>>();
  readonly slaMissed = new Map<string, number>();

  /** An `onEvent` for the scheduler. */
  readonly onEvent = (e: JobEvent): void => {
    if (e.type === 'run_finished' || e.type === 'run_skipped') {
      const state = e.type === 'run_skipped' ? 'skipped' : e.state;
      let byState = this.runs.get(e.job);
      if (!byState) {
        byState = new Map();
        this.runs.set(e.job, byState);
      }
      byState.set(state, (byState.get(state) ?? 0) + 1);
    } else if (e.type === 'sla_missed') {
      this.slaMissed.set(e.job, (this.slaMissed.get(e.job) ?? 0) + 1);
    }
  };
}

export class RunningPipelines {
  private readonly entries = new Map<string, RunningPipeline>();
  private readonly clock: Clock;
  private timer?: NodeJS.Timeout;
  /** Job runs of the scheduler running in the same process, if any. */
  readonly jobs = new JobCounters();

  constructor(opts: { clock?: Clock; sampleTimer?: boolean } = {}) {
    this.clock = opts.clock ?? systemClock;
    if (opts.sampleTimer ?? opts.clock === undefined) {
      this.timer = setInterval(() => this.sample(), SAMPLE_EVERY_MS);
      this.timer.unref();
    }
  }

  /** Adds a pipeline (replacing a stopped one of the same name); mark it running with `track` or `running`. */
  register(opts: RegisterOptions): RunningPipeline {
    const entry = new RunningPipeline(opts, this.clock);
    const had = this.entries.get(entry.name);
    if (had && had.state === 'running') {
      throw new Error(`a pipeline named ${entry.name} is already registered and running`);
    }
    this.entries.set(entry.name, entry);
    return entry;
  }

  list(): RunningPipeline[] {
    return [...this.entries.values()];
  }

  get(name: string): RunningPipeline | undefined {
    return this.entries.get(name);
  }

  /** Samples every pipeline's counters (the timer does it every second). */
  sample(): void {
    for (const e of this.entries.values()) e.sample();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
