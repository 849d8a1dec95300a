/**
 * The scheduler loop: fires each job's runs at its cron times (in its time zone, DST as
 * croner handles it: calendar.ts) and checks SLAs at their deadlines. Time is the
 * injected clock and sleep, so a test drives hours of schedule without waiting.
 *
 * - Overlap: when a job's next run is due while its previous run is still going on (in
 *   this process or, with a local data directory, in another), the new run is not
 *   started: it is recorded as `skipped`, with the reason, and the job's next fire time
 *   is computed as usual. Nothing is queued, so a slow job never builds up a backlog.
 * - Missed fire times (the process was down, or stalled): not caught up. On start, the
 *   first fire is the next one after now; after a stall, a job fires once for the
 *   overdue time and then resumes at its next time after now.
 * - SLA: a run that has not succeeded by its deadline (slaDeadline) raises one
 *   `sla_missed` alert at the deadline — while it still runs, or after it failed. Runs
 *   started by hand (`tributary jobs run`) have no SLA.
 * - On start, runs left `running` by a process that is gone are marked failed (owner.ts).
 *
 * The loop does no I/O itself between sleeps: it starts runs and alerts in the
 * background and keeps track of them, so `stop()` waits for what is under way.
 */
import { isTributaryError } from '../../core/errors.ts';
import { errorText } from './attempt.ts';
import { nextFire, slaDeadline } from './calendar.ts';
import {
  failStaleRuns,
  type JobEvent,
  type RunContext,
  type RunJobOptions,
  recordSkipped,
  runContext,
  runJob,
} from './run.ts';
import type { Job } from './types.ts';

export interface SchedulerOptions
  extends Omit<RunJobOptions, 'date' | 'scheduledTime' | 'trigger' | 'signal' | 'maxParallel'> {
  jobs: Job[];
  /** The longest single sleep of the loop (default 60 s), so a wall-clock jump is noticed. */
  maxSleepMs?: number;
}

interface SlaWatch {
  job: Job;
  runId?: string;
  scheduledTime: number;
  deadline: number;
  /** Set when the run succeeded (then no alert). */
  met: boolean;
}

export class Scheduler {
  private readonly stopper = new AbortController();
  private readonly next = new Map<string, number | undefined>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly watches: SlaWatch[] = [];
  private loop?: Promise<void>;

  private readonly opts: SchedulerOptions;
  private readonly ctx: RunContext;

  private constructor(opts: SchedulerOptions, ctx: RunContext) {
    this.opts = opts;
    this.ctx = ctx;
  }

  /** Fixes up stale runs, then starts firing runs; resolves once the loop is going. */
  static async start(opts: SchedulerOptions): Promise<Scheduler> {
    const ctx = await runContext(opts);
    const s = new Scheduler(opts, ctx);
    await failStaleRuns(ctx);
    const now = ctx.clock.now();
    for (const job of opts.jobs) {
      if (job.schedule) s.next.set(job.name, nextFire(job.schedule, now));
    }
    s.loop = s.run();
    return s;
  }

  /** Each scheduled job's next fire time (ms), soonest first. */
  upcoming(): Array<{ job: string; at: number }> {
    return [...this.next.entries()]
      .filter((e): e is [string, number] => e[1] !== undefined)
      .map(([job, at]) => ({ job, at }))
      .sort((a, b) => a.at - b.at);
  }

  /** Jobs with a run under way in this scheduler. */
  active(): string[] {
    return [...this.running.keys()];
  }

  /**
   * Stops firing, asks the runs under way to stop (their tasks see their signal aborted;
   * no retry starts) and waits for them and for pending alerts.
   */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loop;
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  private track<T>(p: Promise<T>): void {
    const settled = p.then(
      () => {},
      (err) => this.ctx.log(`scheduler: ${errorText(err)}`),
    );
    this.background.add(settled);
    void settled.finally(() => this.background.delete(settled));
  }

  private async run(): Promise<void> {
    const { clock } = this.ctx;
    const maxSleep = this.opts.maxSleepMs ?? 60_000;
    while (!this.stopper.signal.aborted) {
      const now = clock.now();
      for (const job of this.opts.jobs) {
        const at = this.next.get(job.name);
        if (job.schedule === undefined || at === undefined || at > now) continue;
        this.fire(job, at);
        this.next.set(job.name, nextFire(job.schedule, Math.max(at, now)));
      }
      for (const w of [...this.watches]) {
        if (w.deadline > now) continue;
        this.watches.splice(this.watches.indexOf(w), 1);
        if (!w.met) this.track(this.slaMissed(w));
      }
      let wake = now + maxSleep;
      for (const at of this.next.values()) if (at !== undefined) wake = Math.min(wake, at);
      for (const w of this.watches) wake = Math.min(wake, w.deadline);
      await this.ctx.sleep(Math.max(0, wake - now), this.stopper.signal);
    }
  }

  private fire(job: Job, scheduledTime: number): void {
    if (this.running.has(job.name)) {
      this.track(
        recordSkipped(
          this.ctx,
          job,
          scheduledTime,
          'skipped: the previous run of the job was still going on',
        ),
      );
      return;
    }
    const watch: SlaWatch | undefined = job.sla
      ? {
          job,
          scheduledTime,
          deadline: slaDeadline(job.sla, scheduledTime, job.schedule?.timezone ?? 'UTC'),
          met: false,
        }
      : undefined;
    if (watch) this.watches.push(watch);
    const onEvent = (e: JobEvent) => {
      if (watch && e.type === 'run_started') watch.runId = e.runId;
      if (watch && e.type === 'run_finished' && e.state === 'succeeded') {
        // Met only if it succeeded by the deadline; a later success is still a miss (the
        // loop raises it at the deadline, before the run can end in virtual time too).
        watch.met = this.ctx.clock.now() <= watch.deadline;
        const i = this.watches.indexOf(watch);
        if (watch.met && i >= 0) this.watches.splice(i, 1);
      }
      this.ctx.emit(e);
    };
    const p = runJob(job, {
      ...this.opts,
      clock: this.ctx.clock,
      sleep: this.ctx.sleep,
      log: this.ctx.log,
      history: this.ctx.history,
      alerter: this.ctx.alerter,
      scheduledTime,
      trigger: 'schedule',
      signal: this.stopper.signal,
      onEvent,
    }).then(
      () => {},
      async (err) => {
        if (isTributaryError(err, 'JOB_ALREADY_RUNNING')) {
          // Another process runs it: this slot is skipped, and its SLA is that run's business.
          if (watch) this.watches.splice(this.watches.indexOf(watch), 1);
          await recordSkipped(this.ctx, job, scheduledTime, `skipped: ${err.message}`);
          return;
        }
        throw err;
      },
    );
    const settled = p.finally(() => this.running.delete(job.name));
    this.running.set(
      job.name,
      settled.catch(() => {}),
    );
    this.track(settled);
  }

  private async slaMissed(w: SlaWatch): Promise<void> {
    const when = new Date(w.deadline).toISOString();
    const runId = w.runId ?? '(not started)';
    this.ctx.emit({ type: 'sla_missed', job: w.job.name, runId, deadline: w.deadline });
    const alert = await this.ctx.alerter.raise({
      kind: 'sla_missed',
      job: w.job.name,
      ...(w.runId !== undefined && { runId: w.runId }),
      scheduledTime: w.scheduledTime,
      message: `the run scheduled for ${new Date(w.scheduledTime).toISOString()} had not succeeded by its SLA deadline ${when}`,
      details: { deadline: when, run_id: w.runId ?? null },
    });
    this.ctx.emit({ type: 'alert', alert });
  }
}
