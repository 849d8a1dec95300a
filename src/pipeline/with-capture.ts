/**
 * A pipeline and the capture that fills its source topic, run side by side in one
 * process: both stop when `signal` aborts (the capture finishes its publish in flight and
 * saves its position, the pipeline commits what it buffered), and when one fails the
 * other is stopped the same way before the failure is thrown. With `untilCaughtUp`, the
 * capture first publishes every change present at the start, then the pipeline drains
 * the topic and commits.
 */
import type { ChangeCapture } from '../connectors/postgres/capture/types.ts';
import type { Pipeline } from '../stream/pipeline.ts';

export async function runWithCapture(
  pipeline: Pipeline,
  capture: ChangeCapture | undefined,
  opts: { signal?: AbortSignal; untilCaughtUp?: boolean } = {},
): Promise<void> {
  if (!capture) return pipeline.run({ signal: opts.signal, untilCaughtUp: opts.untilCaughtUp });
  const stopCapture = new AbortController();
  const stopPipeline = new AbortController();
  const onStop = () => {
    stopCapture.abort();
    stopPipeline.abort();
  };
  if (opts.signal?.aborted) onStop();
  opts.signal?.addEventListener('abort', onStop, { once: true });
  try {
    const capturing = capture.run({ signal: stopCapture.signal, untilCaughtUp: opts.untilCaughtUp }).then(
      () => {
        // Caught up (or stopped): with untilCaughtUp the pipeline now drains what it published.
        if (opts.untilCaughtUp) stopPipeline.abort();
      },
      (err) => {
        stopPipeline.abort();
        throw err;
      },
    );
    const running = pipeline.run({ signal: stopPipeline.signal }).catch((err) => {
      stopCapture.abort();
      throw err;
    });
    const [c, p] = await Promise.allSettled([capturing, running]);
    if (c.status === 'rejected') throw c.reason;
    if (p.status === 'rejected') throw p.reason;
    if (opts.untilCaughtUp && !opts.signal?.aborted) await pipeline.run({ untilCaughtUp: true });
  } finally {
    opts.signal?.removeEventListener('abort', onStop);
  }
}
