/**
 * Progress of a long command on stderr (`table optimize`, `table vacuum`, `models run`):
 * on a terminal one line rewritten in place (CR, clear line) at most ten times a second;
 * otherwise (a pipe, a CI log, `--plain`, TRIBUTARY_PLAIN=1) a plain line at most every
 * two seconds, so thousands of files make a handful of lines, not thousands. The final
 * line is always printed, on a line of its own.
 */
import { columnsOf, fold, isLive, truncate } from './terminal.ts';

const CSI = '\x1b[';
/** Live: redraws at most this often. */
const LIVE_EVERY_MS = 100;
/** Plain: a line at most this often. */
export const PLAIN_EVERY_MS = 2000;

export interface ProgressOptions {
  /** Plain output even on a terminal (`--plain`). */
  plain?: boolean;
  /** Default stderr. */
  stream?: NodeJS.WriteStream;
  now?: () => number;
  /** Nothing at all unless live (a command whose plain output already tells the progress). */
  liveOnly?: boolean;
}

export class Progress {
  private readonly stream: NodeJS.WriteStream;
  private readonly live: boolean;
  private readonly quiet: boolean;
  private readonly now: () => number;
  private readonly started: number;
  private last = Number.NEGATIVE_INFINITY;
  /** Live: a line is shown that the next write must replace. */
  private shown = false;

  constructor(opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.live = isLive(this.stream, opts.plain);
    this.quiet = !this.live && opts.liveOnly === true;
    this.now = opts.now ?? Date.now;
    this.started = this.now();
  }

  /** The current state: drawn now or soon on a terminal, printed now and then otherwise. */
  update(text: string): void {
    if (this.quiet) return;
    const now = this.now();
    if (this.live) {
      if (now - this.last < LIVE_EVERY_MS) return;
      this.last = now;
      this.draw(text);
      return;
    }
    // The first plain line comes after the first interval: a quick command prints only its last.
    const since = Number.isFinite(this.last) ? this.last : this.started;
    if (now - since < PLAIN_EVERY_MS) return;
    this.last = now;
    this.stream.write(`${text}\n`);
  }

  /** The last line, replacing the live one. */
  done(text: string): void {
    if (this.quiet) return;
    if (this.live) {
      const width = columnsOf(this.stream) - 1;
      this.stream.write(`${this.shown ? `\r${CSI}2K` : ''}${fold(text, width).join('\n')}\n`);
      this.shown = false;
      return;
    }
    this.stream.write(`${text}\n`);
  }

  /** Clears a live line (before other output, or an error's message, starts on a clean line). */
  clear(): void {
    if (this.live && this.shown) this.stream.write(`\r${CSI}2K`);
    this.shown = false;
    // The next state is shown at once (live) rather than waiting out the interval.
    if (this.live) this.last = Number.NEGATIVE_INFINITY;
  }

  private draw(text: string): void {
    this.stream.write(`\r${CSI}2K${truncate(text, columnsOf(this.stream) - 1)}`);
    this.shown = true;
  }
}
