/**
 * The live numbers of pipelines running in this server's process (a demo, `run
 * --serve`): sampled every second into a short history, so a page opened now still
 * draws the last five minutes. Events/s is the growth of the records taken in between
 * two samples; lag and latency are the pipeline's own (PipelineMetrics): lag per
 * partition now, end-to-end latency (a record's produce time to its commit in the last
 * table) as p50/p99 since the pipeline started.
 */
import { type Clock, systemClock } from '../../core/clock.ts';
import type { PipelineMetrics } from '../../stream/metrics.ts';
import type { LiveSource } from './definition.ts';
import type { PanelAnswer } from './sql-panels.ts';

/** A pipeline running in this process, by the name of its definition. */
export interface LivePipeline {
  name: string;
  metrics: PipelineMetrics;
}

/** The pipelines running now (asked at every sample: they may start and stop). */
export type LivePipelines = () => Iterable<LivePipeline>;

export interface LiveSample {
  /** Epoch seconds. */
  t: number;
  eventsPerSecond: number;
  lag: number;
  p50Ms: number;
  p99Ms: number;
  dlqWritten: number;
}

interface Track {
  metrics: PipelineMetrics;
  recordsIn: number;
  at: number;
  samples: LiveSample[];
  seenAt: number;
}

export interface LiveSamplerOptions {
  clock?: Clock;
  everyMs?: number;
  /** Samples kept per pipeline (default 300: five minutes at one a second). */
  keep?: number;
}

export class LiveSampler {
  private readonly pipelines: LivePipelines;
  private readonly clock: Clock;
  private readonly everyMs: number;
  private readonly keep: number;
  private readonly tracks = new Map<string, Track>();
  private timer: NodeJS.Timeout | undefined;

  constructor(pipelines: LivePipelines, opts: LiveSamplerOptions = {}) {
    this.pipelines = pipelines;
    this.clock = opts.clock ?? systemClock;
    this.everyMs = opts.everyMs ?? 1000;
    this.keep = opts.keep ?? 300;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes one sample of every running pipeline. */
  sample(): void {
    const now = this.clock.now();
    for (const { name, metrics } of this.pipelines()) {
      let track = this.tracks.get(name);
      // A new run (or a new set of counters): the rate starts again from here.
      if (track === undefined || track.metrics !== metrics || metrics.recordsIn < track.recordsIn) {
        track = {
          metrics,
          recordsIn: metrics.recordsIn,
          at: now,
          samples: track?.samples ?? [],
          seenAt: now,
        };
        this.tracks.set(name, track);
      }
      const seconds = (now - track.at) / 1000;
      const rate = seconds > 0 ? (metrics.recordsIn - track.recordsIn) / seconds : 0;
      track.recordsIn = metrics.recordsIn;
      track.at = now;
      track.seenAt = now;
      track.samples.push({
        t: Math.floor(now / 1000),
        eventsPerSecond: Math.round(rate),
        lag: metrics.totalLag(),
        p50Ms: Math.round(metrics.ingestLatencyMs.quantile(0.5)),
        p99Ms: Math.round(metrics.ingestLatencyMs.quantile(0.99)),
        dlqWritten: metrics.dlqWritten,
      });
      if (track.samples.length > this.keep) track.samples.splice(0, track.samples.length - this.keep);
    }
    // A pipeline that stopped: forgotten once it has been gone for a whole history.
    for (const [name, track] of this.tracks) {
      if (now - track.seenAt > this.keep * this.everyMs) this.tracks.delete(name);
    }
  }

  /** Whether the pipeline was running at the last sample. */
  running(name: string): boolean {
    const track = this.tracks.get(name);
    return track !== undefined && this.clock.now() - track.seenAt <= 2 * this.everyMs;
  }

  /** A live panel's answer, or undefined when the pipeline does not run here. */
  answer(name: string, source: LiveSource): PanelAnswer | undefined {
    const track = this.tracks.get(name);
    if (track === undefined || !this.running(name)) return undefined;
    const last = track.samples[track.samples.length - 1];
    const count = { type: 'BIGINT' };
    switch (source.view) {
      case 'now':
        return {
          columns: [
            { name: 'events_per_second', ...count },
            { name: 'lag', ...count },
            { name: 'latency_p50_ms', ...count },
            { name: 'latency_p99_ms', ...count },
            { name: 'dlq_written', ...count },
          ],
          rows: [[last.eventsPerSecond, last.lag, last.p50Ms, last.p99Ms, last.dlqWritten]],
        };
      case 'rate':
        return {
          columns: [
            { name: 't', ...count },
            { name: 'events_per_second', ...count },
          ],
          rows: track.samples.map((s) => [s.t, s.eventsPerSecond]),
        };
      case 'latency':
        return {
          columns: [
            { name: 't', ...count },
            { name: 'p50_ms', ...count },
            { name: 'p99_ms', ...count },
          ],
          rows: track.samples.map((s) => [s.t, s.p50Ms, s.p99Ms]),
        };
      case 'lag':
        return {
          columns: [
            { name: 'partition', type: 'VARCHAR' },
            { name: 'records', ...count },
          ],
          rows: [...track.metrics.lag.entries()].sort((a, b) => a[0] - b[0]).map(([p, n]) => [`p${p}`, n]),
        };
    }
  }
}
