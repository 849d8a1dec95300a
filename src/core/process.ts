/**
 * Whether a process of this machine still runs, by pid and start time (a pid reused by a
 * process started later is not taken for the one that is gone). Used by the embedded
 * log's lock files, the scheduler's run owners and the storage lease.
 */
import { readFileSync } from 'node:fs';

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined off Linux. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True unless the process is gone (no such pid, or the pid now belongs to a process started at another time). */
export function isAlive(info: { pid: number; start?: string }): boolean {
  try {
    process.kill(info.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (info.start === undefined) return true;
  const start = processStart(info.pid);
  return start === undefined || start === info.start;
}
