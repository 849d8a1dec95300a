/**
 * The middle of every demo: a generator producing into the pipeline's topic while the
 * pipeline runs, a progress line every second, and — once everything is generated — the
 * pipeline drained before the demo ends. A stop request (Ctrl-C) ends both at once.
 */
import type { RunningPipeline } from '../../server/pipelines/registry.ts';
import type { Pipeline } from '../../stream/pipeline.ts';

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
}

/** Runs the demo's generator and pipeline together; resolves once the pipeline has drained (or stopped on request). */
export async function generateAndDrain(demo: DemoRun): Promise<void> {
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
  const ticker = setInterval(async () => {
    await pipeline.refreshLag().catch(() => {});
    console.log(await tick());
  }, demo.everyMs ?? 1000);
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
    console.log(await tick());
  } catch (err) {
    entry?.failed(err);
    throw err;
  } finally {
    clearInterval(ticker);
  }
}
