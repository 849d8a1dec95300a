/**
 * The middle of every demo: a generator producing into the pipeline's topic while the
 * pipeline runs, a progress line every second, and — once everything is generated — the
 * pipeline drained before the demo ends. A stop request (Ctrl-C) ends both at once.
 */
import type { RunningPipeline } from '../../server/pipelines/registry.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import type { Pipeline } from '../../stream/pipeline.ts';
import { PipelinePanel } from '../pipeline-panel.ts';
import { printFolded } from '../terminal.ts';

export interface DemoRun {
  pipeline: Pipeline;
  signal: AbortSignal;
  /** Starts the generator; it reports its running total through `onProgress`. */
  generate: (onProgress: (produced: number) => void) => Promise<number>;
  /** The progress line printed every `everyMs` and once at the end, over the last `seconds`. */
  progress: (produced: number, seconds: number) => string | Promise<string>;
  /** How often the progress line is printed (default every second). */
  everyMs?: number;
  /** The pipeline as the demo's server shows it: its state and retried errors. */
  entry?: RunningPipeline;
  /**
   * On a terminal (terminal.ts `isLive`): a live panel redrawn in place of the progress
   * lines (needs `entry`), and the last line folded to the terminal's width below it.
   */
  panel?: DemoPanel;
}

export interface DemoPanel {
  title: string;
  dataDir: string;
  /** The HTTP API's base URL when served. */
  url?: string;
  /** The scenario's own lines. */
  extra?: () => string[];
  /** The pipeline's tables by name (those with a `path` of their own are found by it). */
  tables?: ReadonlyMap<string, { store: ObjectStore }>;
}

/**
 * Runs the demo's generator and pipeline together; resolves once the pipeline has drained
 * (or stopped on request), with the number of records generated.
 */
export async function generateAndDrain(demo: DemoRun): Promise<number> {
  const { pipeline, signal, entry } = demo;
  const onError = entry && { onError: entry.onRetry() };
  let produced = 0;
  let prevAt = Date.now();
  const tick = async (): Promise<string> => {
    const now = Date.now();
    const line = await demo.progress(produced, Math.max(0.001, (now - prevAt) / 1000));
    prevAt = now;
    return line;
  };
  const panel =
    demo.panel && entry
      ? new PipelinePanel({ ...demo.panel, entry, out: process.stdout, produced: () => produced })
      : undefined;
  let busy = false;
  const ticker = setInterval(
    async () => {
      if (busy) return;
      busy = true;
      try {
        await pipeline.refreshLag().catch(() => {});
        const line = await tick();
        if (panel) await panel.show();
        else console.log(line);
      } finally {
        busy = false;
      }
    },
    panel ? 1000 : (demo.everyMs ?? 1000),
  );
  entry?.running();
  try {
    const generating = demo.generate((n) => {
      produced = n;
    });
    const pipelineDone = new AbortController();
    const stopPipeline = () => pipelineDone.abort();
    signal.addEventListener('abort', stopPipeline);
    try {
      const running = pipeline.run({ signal: pipelineDone.signal, ...onError });
      await generating;
      if (!signal.aborted) {
        // All events generated: let the pipeline drain, then stop.
        pipelineDone.abort();
        await running;
        await pipeline.run({ untilCaughtUp: true, ...onError });
      } else {
        await running;
      }
    } finally {
      signal.removeEventListener('abort', stopPipeline);
    }
    await pipeline.refreshLag();
    entry?.stopped();
    clearInterval(ticker);
    const line = await tick();
    await panel?.finish();
    printFolded(line, panel !== undefined);
    return produced;
  } catch (err) {
    entry?.failed(err);
    throw err;
  } finally {
    clearInterval(ticker);
    panel?.stop();
  }
}
