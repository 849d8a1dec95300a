/**
 * A few status lines kept at the bottom of a terminal and redrawn in place: the cursor
 * goes back up over the lines drawn last time (CSI n A), each line is cleared (CSI 2K)
 * and written again, and what is left below is cleared (CSI J). No line is wider than
 * the terminal minus one column, so none wraps and the count of lines to go back up
 * over stays right.
 *
 * Whatever else the process writes to its terminal while the panel is shown (a log
 * line, a warning, on stdout or stderr) is written above it: the panel is erased, the
 * text written, and the panel drawn again below. Stopping the panel leaves its last
 * state on the screen, with the cursor on the line below it.
 */
import { columnsOf, type TerminalStream, truncate } from './terminal.ts';

const CSI = '\x1b[';

type Write = NodeJS.WriteStream['write'];

export class StatusPanel {
  private readonly out: NodeJS.WriteStream;
  /** The streams whose writes are moved above the panel, with their own write. */
  private readonly patched: Array<{ stream: NodeJS.WriteStream; write: Write }> = [];
  private lines: string[] = [];
  /** Lines on the screen now (0: erased, or never drawn). */
  private drawn = 0;
  /** Another writer left a line unfinished: the panel waits below it for its end. */
  private partial = false;
  private active = false;
  private stopped = false;

  /** `out`: the terminal the panel is drawn on (stdout or stderr). */
  constructor(out: NodeJS.WriteStream) {
    this.out = out;
  }

  /** Starts moving other writes to the terminal above the panel. */
  start(): void {
    if (this.active) return;
    this.active = true;
    const streams = new Set<NodeJS.WriteStream>([this.out]);
    // The other standard stream shares the screen when it is a terminal too.
    for (const s of [process.stdout, process.stderr]) if (s.isTTY) streams.add(s);
    for (const stream of streams) {
      const write = stream.write;
      this.patched.push({ stream, write });
      stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        this.erase();
        const ok = (write as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
        if (chunk.length > 0) this.partial = !endsWithNewline(chunk);
        if (!this.partial) this.draw();
        return ok;
      }) as Write;
    }
  }

  /** Shows `lines` (drawn now, fitted to the terminal's width); nothing once stopped. */
  update(lines: string[]): void {
    if (this.stopped) return;
    this.lines = lines;
    if (!this.active) this.start();
    if (this.partial) {
      this.raw('\n');
      this.partial = false;
    }
    this.draw();
  }

  /** Draws the last lines one final time and leaves them on the screen; writes go below from now on. */
  stop(): void {
    this.stopped = true;
    if (!this.active) return;
    if (this.partial) {
      this.raw('\n');
      this.partial = false;
    }
    this.draw();
    for (const { stream, write } of this.patched.reverse()) stream.write = write;
    this.patched.length = 0;
    this.active = false;
    this.drawn = 0;
  }

  /** The lines as drawn: at most the terminal's height minus one, each at most its width minus one. */
  fitted(): string[] {
    const width = Math.max(10, columnsOf(this.out as TerminalStream) - 1);
    const rows = this.out.rows !== undefined && this.out.rows > 1 ? this.out.rows - 1 : this.lines.length;
    return this.lines.slice(0, rows).map((l) => truncate(l, width));
  }

  private draw(): void {
    const lines = this.fitted();
    let text = this.drawn > 0 ? `\r${CSI}${this.drawn}A` : '';
    for (const l of lines) text += `${CSI}2K${l}\n`;
    if (lines.length < this.drawn) text += `${CSI}J`;
    this.raw(text);
    this.drawn = lines.length;
  }

  private erase(): void {
    if (this.drawn === 0) return;
    this.raw(`\r${CSI}${this.drawn}A${CSI}J`);
    this.drawn = 0;
  }

  /** Writes with the stream's own write, past the redirection. */
  private raw(text: string): void {
    const own = this.patched.find((p) => p.stream === this.out)?.write ?? this.out.write;
    (own as (s: string) => boolean).call(this.out, text);
  }
}

function endsWithNewline(chunk: string | Uint8Array): boolean {
  return typeof chunk === 'string' ? chunk.endsWith('\n') : chunk[chunk.length - 1] === 10;
}
