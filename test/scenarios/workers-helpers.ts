/**
 * Worker processes of the scale-out tests (orders-workers*.test.ts, windows-workers.test.ts):
 * started with their stderr readable while they run, their group flags, the partitions
 * each says it owns, a wait until the live workers split a topic's partitions, and a wait
 * until they have drained it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Log } from '../../src/log/log.ts';
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

/**
 * Waits until the group's committed offsets (each worker commits, after its batches, the
 * next offset all its sinks still need) reach the end of every partition of the topic: the
 * live workers have done all the work there is. A slow machine takes longer; it is not a
 * reason to stop the workers with work left. Returns the wait in ms.
 */
export async function drained(
  log: Log,
  group: string,
  topic: string,
  workers: Worker[],
  ms = 120_000,
): Promise<number> {
  const began = Date.now();
  for (;;) {
    const committed = await log.committedOffsets(group, topic);
    const { partitions } = await log.describeTopic(topic);
    const behind: string[] = [];
    for (let p = 0; p < partitions; p++) {
      const end = (await log.offsets(topic, p)).latest;
      const at = committed.get(p) ?? 0;
      if (at < end) behind.push(`${p}: ${at} of ${end}`);
    }
    if (behind.length === 0) return Date.now() - began;
    if (Date.now() - began > ms) {
      throw new Error(
        `the workers did not drain ${topic} in ${ms} ms (partition: committed of end: ${behind.join(', ')})\n${workers.map((w) => `--- ${w.name}\n${w.stderr().slice(-3000)}`).join('\n')}`,
      );
    }
    await sleep(250);
  }
}

/**
 * The flags of a worker in `group`: a short session (a killed worker's partitions move on
 * within seconds) and frequent heartbeats (a rebalance reaches every member quickly).
 */
export const inGroup = (group: string, sessionMs = 3000): string[] => [
  '--group',
  group,
  '--session-timeout-ms',
  String(sessionMs),
  '--heartbeat-interval-ms',
  '250',
];
