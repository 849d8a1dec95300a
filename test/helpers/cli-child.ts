/**
 * The `tributary` command as a child process, for tests that kill it (crash points:
 * src/core/crash-points.ts) and check what it left behind: start it, wait for its exit
 * with a time limit, read the trace of the crash points it reached.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tributary.js');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
}

/**
 * Starts `tributary ...args` with `env` added (no crash point armed unless `env` arms
 * one); its output is collected for the exit.
 */
export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TRIBUTARY_CRASH_AT: '', TRIBUTARY_CRASH_TRACE: '', ...env },
  });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  const exit = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr, stdout })),
  );
  return { child, exit };
}

/** Resolves with the exit, or with undefined after `ms` (the timer does not outlive the exit). */
export async function exitWithin(exit: Promise<Exit>, ms: number): Promise<Exit | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => {
    timer = setTimeout(() => r(undefined), ms);
  });
  try {
    return await Promise.race([exit, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface TraceLine {
  name: string;
  n: number;
  pid: number;
  crash: boolean;
}

/** The crash points reached, from the lines `name<TAB>n<TAB>pid[<TAB>crash]` of the trace file. */
export function readTrace(path: string): TraceLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [name, n, pid, crash] = l.split('\t');
      return { name, n: Number(n), pid: Number(pid), crash: crash === 'crash' };
    });
}
