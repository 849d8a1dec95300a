/**
 * CPU and memory of processes on this machine, from Linux's /proc (proc(5)): what the
 * benchmarks charge to the processes they measure. CPU times in /proc are in clock ticks
 * (`getconf CLK_TCK`, 100 on Linux almost everywhere).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;
/** Clock ticks per second, the unit of /proc/<pid>/stat's CPU times. */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * The fields of a stat file after the command name (in parentheses, which may hold spaces):
 * index 0 is the state (field 3 of proc(5)), 11 and 12 utime and stime, 13 and 14 cutime and cstime.
 */
function statFields(path: string): string[] | undefined {
  try {
    const stat = readFileSync(path, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

const ticksToMs = (ticks: number) => (ticks * 1000) / clockTicks();

/** utime + stime of a process (all its threads) in ms, or undefined when it is gone. */
export function processCpuMs(pid: number): number | undefined {
  const f = statFields(`/proc/${pid}/stat`);
  return f && ticksToMs(Number(f[11]) + Number(f[12]));
}

/** utime + stime of a process's main thread in ms (a Node.js process's JavaScript), or undefined. */
export function mainThreadCpuMs(pid: number): number | undefined {
  const f = statFields(`/proc/${pid}/task/${pid}/stat`);
  return f && ticksToMs(Number(f[11]) + Number(f[12]));
}

/** cutime + cstime of this process in ms: the CPU of its children that have exited and been waited for. */
export function reapedChildrenCpuMs(): number {
  const f = statFields('/proc/self/stat');
  return f ? ticksToMs(Number(f[13]) + Number(f[14])) : 0;
}

/** `pid` and the processes under it (Node.js spawns from its main thread: the children are that task's). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      const kids = readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8').trim();
      if (kids) out.push(...kids.split(/\s+/).map(Number));
    } catch {}
  }
  return out;
}

/** The peak resident memory of a process (VmHWM) in MiB, or undefined when it is gone. */
export function peakRssMiB(pid: number): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
  } catch {
    return undefined;
  }
}
