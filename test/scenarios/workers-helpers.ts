/**
 * Worker processes of the scale-out tests (orders-workers*.test.ts): started with their
 * stderr readable while they run, the partitions each says it owns, and a wait until the
 * live workers split a topic's partitions.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { BIN, type Exit } from '../helpers/cli-child.ts';

export const PARTITIONS = 4;

export interface Worker {
  name: string;
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<Exit>;
}

export function start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Worker {
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
  return { name, child, stderr: () => stderr, exit };
}

/** The partitions a worker said it owns in its last progress line (undefined: none yet). */
export function owned(w: Worker): number[] | undefined {
  const all = [...w.stderr().matchAll(/owns partitions \[([0-9,]*)\]/g)];
  const last = all.at(-1);
  if (!last) return undefined;
  return last[1] === '' ? [] : last[1].split(',').map(Number);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the live workers' last reports split the partitions: each owns some, none twice, all covered. */
export async function split(
  workers: Worker[],
  what: string,
  ms = 60_000,
  partitions = PARTITIONS,
  /** Stop waiting (returning no split) once this holds, e.g. a worker armed to crash has died. */
  unless?: () => boolean,
): Promise<number[][] | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    if (unless?.()) return undefined;
    const sets = workers.map(owned);
    if (sets.every((s) => s !== undefined && s.length > 0)) {
      const all = (sets as number[][]).flat().sort((a, b) => a - b);
      if (all.length === partitions && all.every((p, i) => p === i)) return sets as number[][];
    }
    if (Date.now() > end) {
      throw new Error(
        `${what}: the workers did not split the partitions in time: ${workers.map((w, i) => `${w.name} ${JSON.stringify(sets[i])}`).join(', ')}\n${workers.map((w) => `--- ${w.name}\n${w.stderr().slice(-6000)}`).join('\n')}`,
      );
    }
    await sleep(100);
  }
}
