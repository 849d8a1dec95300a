/**
 * The limit on queries run at once. DuckDB uses every core for one query, so running
 * many at a time makes each slower without answering more of them: a few run, the rest
 * wait in a bounded queue (first come, first served), and past the queue the server
 * answers 503 HTTP_BUSY with Retry-After instead of piling up work it cannot finish.
 */
import { TributaryError } from '../core/errors.ts';

export class QuerySlots {
  readonly max: number;
  readonly maxQueued: number;
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(max: number, maxQueued: number) {
    this.max = max;
    this.maxQueued = maxQueued;
  }

  /** Queries running now, and waiting. */
  get load(): { running: number; queued: number } {
    return { running: this.running, queued: this.queue.length };
  }

  /** Runs `fn` once a slot is free; HTTP_BUSY at once when the queue is full. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) {
      if (this.queue.length >= this.maxQueued) {
        throw new TributaryError(
          'HTTP_BUSY',
          `the server is running ${this.running} queries and ${this.queue.length} more are waiting (its limit); try again in a moment`,
          { retryAfterSeconds: 1 },
        );
      }
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next in line (running stays the same), or free it.
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }
}
