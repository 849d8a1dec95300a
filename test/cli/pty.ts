/**
 * Running a command under a pseudo-terminal of a given size (util-linux `script`), and a
 * small model of a terminal screen to replay what it wrote: the sequences the status
 * panel and progress lines use (CR, LF, CSI n A, CSI 2K, CSI K, CSI J, SGR), with
 * autowrap at the terminal's width as a VT100 does. What is on the model's screen at the
 * end is what a person would see after the command ended.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The `script` binary, or undefined when it is missing (tests skip then). */
export function scriptSkip(): string | undefined {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'util-linux script is not installed';
  }
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

export interface PtyRun {
  child: ChildProcess;
  /** Resolves with the exit code once the command ended. */
  done: Promise<number>;
  /** Everything the command wrote to the terminal so far (the typescript file without script's lines). */
  output(): string;
}

/**
 * Starts `argv` in a pseudo-terminal of `cols` × `rows` (stdout and stderr both the
 * terminal); what it writes is read back from the typescript file in `dir`.
 */
export function runInPty(
  argv: string[],
  opts: { cols: number; rows?: number; env?: NodeJS.ProcessEnv; dir: string },
): PtyRun {
  const file = join(opts.dir, `typescript-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const command = `stty cols ${opts.cols} rows ${opts.rows ?? 40}; exec ${argv.map(quote).join(' ')}`;
  const env = Object.fromEntries(
    Object.entries({ ...process.env, COLUMNS: String(opts.cols), ...opts.env }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  const child = spawn('script', ['-qfec', command, file], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const done = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  const output = () => {
    try {
      return readFileSync(file, 'latin1');
    } catch {
      return '';
    }
  };
  // The typescript file starts and ends with a line of script's own: not the command's output.
  const own = (text: string) =>
    text.replace(/^Script started[^\n]*\n/, '').replace(/\n?Script done[^\n]*\n?$/, '');
  return { child, done, output: () => own(Buffer.from(output(), 'latin1').toString('utf8')) };
}

/** A terminal screen (with its scrollback: lines are never dropped) replaying `text`. */
export function replay(text: string, cols: number): string[] {
  const lines: string[][] = [[]];
  let row = 0;
  let col = 0;
  const line = () => {
    while (lines.length <= row) lines.push([]);
    return lines[row];
  };
  const chars = [...text];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === '\x1b' && chars[i + 1] === '[') {
      let j = i + 2;
      let params = '';
      while (j < chars.length && /[0-9;?]/.test(chars[j])) params += chars[j++];
      const final = chars[j];
      i = j;
      const n = Number(params || '1');
      if (final === 'A') row = Math.max(0, row - n);
      else if (final === 'B') row += n;
      else if (final === 'K' && (params === '2' || params === '')) {
        const l = line();
        if (params === '2') l.length = 0;
        else l.length = Math.min(l.length, col);
      } else if (final === 'J' && (params === '' || params === '0')) {
        line().length = Math.min(line().length, col);
        lines.length = row + 1;
      } else if (final === 'G') col = Math.max(0, n - 1);
      continue;
    }
    if (ch === '\r') col = 0;
    else if (ch === '\n') row++;
    else if (ch >= ' ') {
      if (col >= cols) {
        row++;
        col = 0;
      }
      const l = line();
      while (l.length < col) l.push(' ');
      l[col++] = ch;
    }
  }
  return lines.map((l) => l.join('').trimEnd());
}

/** The lines a status panel wrote: each text after a clear-line (CSI 2K), escapes removed. */
export function panelWrites(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split('\x1b[2K').slice(1)) {
    const lineText = part.split(/\r?\n|\r/)[0];
    out.push(stripEscapes(lineText));
  }
  return out;
}

export function stripEscapes(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}
