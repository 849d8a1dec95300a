/**
 * A pipeline and the capture that fills its source topic, run side by side in one
 * process: both stop when `signal` aborts (the capture finishes its publish in flight and
 * saves its position, the pipeline commits what it buffered), and when one fails the
 * other is stopped the same way before the failure is thrown. With `untilCaughtUp`, the
 * capture first publishes every change present at the start, then the pipeline drains
 * the topic and commits.
 *
 * The pipeline sits in a PipelineSlot: while both run, the capture may have it replaced
 * (a column added to the table: capture-schema.ts) from inside its publish, before the
 * changes that need the new pipeline are published. The running pipeline is stopped
 * after its batch (it commits what it read), closed, and the new one runs from the
 * progress its sinks' tables hold: nothing is read twice into a table, nothing skipped.
 * When the capture stops with CAPTURE_SCHEMA_CHANGED, the pipeline first lands every
 * change published before, so that running again starts from a drained topic.
 */

import type { ChangeCapture } from '../connectors/postgres/capture/types.ts';
import { isTributaryError } from '../core/errors.ts';
import type { Membership } from '../stream/membership.ts';
import type { Pipeline } from '../stream/pipeline.ts';
import type { OnRetry } from '../stream/run-loop.ts';

/** The pipeline a capture runs beside, which the capture may have replaced while running. */
export class PipelineSlot {
  private pipeline: Pipeline;
  private closed = false;
  /** Bound by runWithCapture while it runs the pipeline. */
  swap?: (compile: () => Promise<Pipeline>) => Promise<void>;

  constructor(pipeline: Pipeline) {
    this.pipeline = pipeline;
  }

  /** The pipeline now (its metrics count across replacements when it was compiled to share them). */
  get current(): Pipeline {
    return this.pipeline;
  }

  /**
   * Replaces the pipeline by the one `compile` gives: while runWithCapture runs it, the
   * running one stops after its batch and the new one runs in its place. Resolves once
   * the new one is open (and running).
   */
  async replace(compile: () => Promise<Pipeline>): Promise<void> {
    if (this.swap) return this.swap(compile);
    await this.closeCurrent();
    this.set(await compile());
  }

  /** Closes the current pipeline (once). */
  async closeCurrent(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pipeline.close();
  }

  set(pipeline: Pipeline): void {
    this.pipeline = pipeline;
    this.closed = false;
  }
}

export async function runWithCapture(
  target: Pipeline | PipelineSlot,
  capture: ChangeCapture | undefined,
  opts: {
    signal?: AbortSignal;
    untilCaughtUp?: boolean;
    onError?: OnRetry;
    membership?: Membership;
    groupCaughtUp?: () => Promise<boolean>;
  } = {},
): Promise<void> {
  const slot = target instanceof PipelineSlot ? target : new PipelineSlot(target);
  // The pipeline's retried failures: reported by `onError` (the server's status page), else on stderr.
  const onError = opts.onError && { onError: opts.onError };
  if (!capture) {
    return slot.current.run({
      signal: opts.signal,
      untilCaughtUp: opts.untilCaughtUp,
      ...onError,
      ...(opts.membership && { membership: opts.membership }),
      ...(opts.groupCaughtUp && { groupCaughtUp: opts.groupCaughtUp }),
    });
  }
  const stopCapture = new AbortController();
  let stopPipeline = new AbortController();
  let stopping = false;
  const onStop = () => {
    stopping = true;
    stopCapture.abort();
    stopPipeline.abort();
  };
  if (opts.signal?.aborted) onStop();
  opts.signal?.addEventListener('abort', onStop, { once: true });
  /** The current pipeline's run, undefined while it is being replaced. */
  let running: Promise<void> | undefined;
  const start = () => {
    const stop = new AbortController();
    stopPipeline = stop;
    if (stopping) stop.abort();
    const run = slot.current.run({ signal: stop.signal, ...onError }).catch((err) => {
      stopCapture.abort();
      throw err;
    });
    // Observed by the replacement or at the end.
    run.catch(() => {});
    running = run;
  };
  slot.swap = async (compile) => {
    // Called from inside the capture's publish: the capture waits for it.
    stopPipeline.abort();
    const run = running;
    running = undefined;
    // Its failure fails the capture's publish, and so the run.
    await run;
    await slot.closeCurrent();
    slot.set(await compile());
    start();
  };
  try {
    start();
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
    const [c] = await Promise.allSettled([capturing]);
    // No replacement starts once the capture has stopped: this is the last pipeline.
    const [p] = await Promise.allSettled([running ?? Promise.resolve()]);
    if (p.status === 'rejected') throw p.reason;
    if (c.status === 'rejected') {
      if (isTributaryError(c.reason, 'CAPTURE_SCHEMA_CHANGED') && running && !opts.signal?.aborted) {
        // Land what was published before the change, so a new run reads a drained topic.
        await slot.current.run({
          untilCaughtUp: true,
          ...(opts.signal && { signal: opts.signal }),
          ...onError,
        });
      }
      throw c.reason;
    }
    if (opts.untilCaughtUp && !opts.signal?.aborted)
      await slot.current.run({ untilCaughtUp: true, ...onError });
  } finally {
    slot.swap = undefined;
    opts.signal?.removeEventListener('abort', onStop);
  }
}
