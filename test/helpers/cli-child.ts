/**
 * The `tributary` command as a child process, for tests that kill it (crash points:
 * src/core/crash-points.ts) and check what it left behind: start it, wait for its exit
 * with a time limit, read the trace of the crash points it reached.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CrashPointName } from '../../src/core/crash-points.ts';

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

/** How a run of a crash test ends: killed at a crash point (armed), or after a delay. */
export type Kill = { point: CrashPointName; n: number } | { delayMs: number };

/**
 * Runs `tributary ...args` once and kills it with SIGKILL: armed at `kill.point:kill.n`
 * (it kills itself there, noting it in `trace`), or after `kill.delayMs`. An armed run
 * that has not reached its point within `armedTimeoutMs` is killed from outside and
 * reported as not reached; a run that ends any other way fails the test (`what` names
 * the run in the message).
 */
export async function killedRun(
  args: string[],
  kill: Kill,
  opts: { trace: string; armedTimeoutMs: number; what: string },
): Promise<{ pid: number; reached: boolean }> {
  const armed = 'point' in kill;
  const run = startCli(
    args,
    armed ? { TRIBUTARY_CRASH_AT: `${kill.point}:${kill.n}`, TRIBUTARY_CRASH_TRACE: opts.trace } : {},
  );
  const early = await exitWithin(run.exit, armed ? opts.armedTimeoutMs : kill.delayMs);
  if (early && !(armed && early.signal === 'SIGKILL')) {
    assert.fail(
      `${opts.what} exited by itself (code ${early.code}, signal ${early.signal}):\n${early.stderr}`,
    );
  }
  if (!early) {
    run.child.kill('SIGKILL');
    const exit = await run.exit;
    assert.equal(exit.signal, 'SIGKILL', `${opts.what} ended by SIGKILL:\n${exit.stderr}`);
  }
  return { pid: run.child.pid!, reached: armed && early !== undefined };
}

/** Asserts that each run killed at a point (pid → point) died there, by the trace. */
export function assertKilledAt(trace: string, selfKilled: ReadonlyMap<number, string>): void {
  const lines = readTrace(trace);
  for (const [pid, point] of selfKilled) {
    assert.ok(
      lines.some((l) => l.crash && l.pid === pid && l.name === point),
      `the run killed by SIGKILL (pid ${pid}) was killed at ${point}`,
    );
  }
}

/** `tributary` on the PATH, as an installed package puts it there. */
export function installedBin(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const script = join(bin, 'tributary');
  writeFileSync(script, `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  chmodSync(script, 0o755);
  return bin;
}

/**
 * Runs, through a shell and exactly as printed, the commands a demo printed after "try:"
 * (the lines `  tributary ...`), with `tributary` on the PATH as an installed package puts
 * it there; each must succeed and show rows. Returns their outputs, in order.
 */
export function runPrintedCommands(out: string, dir: string, count: number): string[] {
  const commands = out
    .slice(out.indexOf('\ntry:\n'))
    .split('\n')
    .filter((l) => l.startsWith('  tributary '))
    .map((l) => l.trim());
  assert.equal(commands.length, count, out);
  const bin = installedBin(dir);
  return commands.map((command) => {
    const r = spawnSync('sh', ['-c', command], {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        TRIBUTARY_DATA_DIR: '',
        TRIBUTARY_KAFKA: '',
      },
    });
    assert.equal(r.status, 0, `${command}\n${r.stderr}`);
    const rows = /\((\d+) rows?\)\s*$/.exec(r.stdout);
    assert.ok(rows && Number(rows[1]) > 0, `${command}\n${r.stdout}`);
    return r.stdout;
  });
}
