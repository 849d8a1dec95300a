/** The `tributary` command as a user runs it, for the PostgreSQL tests: exit code, stdout, stderr. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { userEnv } from '../../cli/node-helpers.ts';
import { ROOT } from '../../interop/helpers.ts';

export const BIN = join(ROOT, 'bin', 'tributary.js');

export interface Finished {
  /** Exit code; null when it was ended by a signal (`signal`). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has ended. */
  exited: Promise<Finished>;
  /** Waits until stderr matches `pattern` `times` times (or the process ends: then it throws). */
  waitFor(pattern: RegExp, times?: number, timeoutMs?: number): Promise<void>;
}

/**
 * Starts `tributary ARGS` under this Node.js, in a user's environment (no TRIBUTARY_*
 * variables, no PGPASSWORD) plus `env`.
 */
export function startCli(args: string[], env: Record<string, string> = {}): Running {
  const base = userEnv();
  delete base.PGPASSWORD;
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  let done: Finished | undefined;
  const exited = new Promise<Finished>((resolve) => {
    child.on('close', (code, signal) => {
      done = { code, signal, stdout: out, stderr: err };
      resolve(done);
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(pattern, times = 1, timeoutMs = 180_000) {
      const deadline = Date.now() + timeoutMs;
      const g = new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`);
      while ((err.match(g)?.length ?? 0) < times) {
        if (done)
          throw new Error(
            `tributary ${args[0]} ended (${done.code ?? done.signal}) before ${pattern}:\n${err}`,
          );
        if (Date.now() > deadline) throw new Error(`no ${pattern} on stderr in ${timeoutMs} ms:\n${err}`);
        await sleep(50);
      }
    },
  };
}

/**
 * Runs `tributary ARGS` to its end. A process still running after `timeoutMs` is killed
 * (SIGKILL) and reported with signal SIGKILL: a command that should have stopped but hangs.
 */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<Finished> {
  const r = startCli(args, env);
  const timer = setTimeout(() => r.child.kill('SIGKILL'), timeoutMs);
  try {
    return await r.exited;
  } finally {
    clearTimeout(timer);
  }
}
