/**
 * What the command line knows about the terminal it writes to: whether a stream gets
 * live output (a panel redrawn in place, progress rewritten on one line) or plain lines,
 * whether colour is welcome, its width, and fitting text to that width.
 *
 * Live output needs a terminal: pipes, files, CI logs and tests get plain lines. It is
 * turned off by `--plain` (the commands that draw take it), by `TRIBUTARY_PLAIN=1`, and
 * by `TERM=dumb`. Colour follows https://no-color.org: `NO_COLOR` set to anything but
 * the empty string turns it off.
 */

export interface TerminalStream {
  isTTY?: boolean;
  columns?: number;
  rows?: number;
  write(chunk: string): boolean;
}

/** The option every command that draws live output takes. */
export const PLAIN_OPTION = { plain: { type: 'boolean' } } as const;

export const PLAIN_USAGE = `  --plain      plain lines instead of live output on a terminal (also TRIBUTARY_PLAIN=1)`;

function envOn(name: string): boolean {
  const v = process.env[name];
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/** True when `stream` is a terminal and nothing asks for plain output. */
export function isLive(stream: TerminalStream, plain?: boolean): boolean {
  if (plain === true || envOn('TRIBUTARY_PLAIN')) return false;
  if (process.env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/** Colour (SGR sequences) only on a live stream and without NO_COLOR. */
export function colorOk(): boolean {
  const v = process.env.NO_COLOR;
  return v === undefined || v === '';
}

/** The stream's width in columns: the terminal's, else $COLUMNS, else 80. */
export function columnsOf(stream: TerminalStream): number {
  if (stream.columns !== undefined && stream.columns > 0) return stream.columns;
  const env = Number(process.env.COLUMNS);
  return Number.isInteger(env) && env > 0 ? env : 80;
}

const SGR = /\x1b\[[0-9;]*m/g;
const SGR_PART = /(\x1b\[[0-9;]*m)/;

/** Columns `text` takes (SGR colour sequences take none; every other character one). */
export function visibleLength(text: string): number {
  return [...text.replace(SGR, '')].length;
}

/** `text` cut to at most `width` columns, ending in '…' when cut (colour reset after). */
export function truncate(text: string, width: number): string {
  if (visibleLength(text) <= width) return text;
  let out = '';
  let room = Math.max(0, width - 1);
  let colored = false;
  // Odd parts are SGR sequences (the capture group), even parts plain text.
  for (const [i, part] of text.split(SGR_PART).entries()) {
    if (i % 2 === 1) {
      out += part;
      colored = part !== '\x1b[0m';
      continue;
    }
    const chars = [...part];
    out += chars.slice(0, room).join('');
    room -= Math.min(room, chars.length);
    if (room === 0) break;
  }
  return `${out}…${colored ? '\x1b[0m' : ''}`;
}

/**
 * A long line broken into lines of at most `width` columns where its figures are
 * separated (two spaces or more, ", ", "; "), a piece too long for a line at its single
 * spaces, and a word too long for a line cut. Continuation lines are indented by two
 * spaces.
 */
export function fold(line: string, width: number): string[] {
  if (visibleLength(line) <= width) return [line];
  // Pieces alternate: text, separator, text, ... (a separator stays with the text before it).
  const parts = line.split(/( {2,}|, |; )/);
  const out: string[] = [];
  let current = '';
  const fits = (text: string) => visibleLength(text) <= width;
  const newLine = () => {
    out.push(current.trimEnd());
    current = '  ';
  };
  for (let i = 0; i < parts.length; i += 2) {
    const piece = parts[i] + (parts[i + 1] ?? '');
    if (current.trim() !== '' && !fits(current + piece.trimEnd())) newLine();
    if (fits(current + piece.trimEnd())) {
      current += piece;
      continue;
    }
    // Too long even on a line of its own: word by word.
    for (const word of piece.split(/(?<= )/)) {
      if (word.trim() === '') continue;
      if (current.trim() !== '' && !fits(current + word.trimEnd())) newLine();
      current += fits(current + word.trimEnd())
        ? word
        : `${truncate(current + word, width).slice(current.length)} `;
    }
  }
  if (current.trim() !== '') out.push(current.trimEnd());
  return out;
}

/** Prints `text` on stdout: as it is, or folded to the terminal's width when `folded`. */
export function printFolded(text: string, folded: boolean): void {
  if (!folded) {
    console.log(text);
    return;
  }
  const width = columnsOf(process.stdout) - 1;
  for (const l of text.split('\n')) for (const part of fold(l, width)) console.log(part);
}
