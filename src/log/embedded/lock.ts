/**
 * The one-writer-per-partition lock, between processes: a lock file created with
 * O_CREAT|O_EXCL holding the owner's pid, its process start time and a random token.
 * A lock whose owner is gone (no such pid, or the pid now belongs to a process that
 * started at another time) is stale and is broken by the next writer, so a writer
 * killed with SIGKILL never blocks the partition.
 *
 * Limits (docs/log.md, "Locking"): the pid check only works between processes of one
 * machine, so the log directory must not be shared over a network file system.
 */
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { TributaryError } from '../../core/errors.ts';
import { isAlive, processStart } from '../../core/process.ts';

export { isAlive, processStart };

interface LockInfo {
  pid: number;
  start?: string;
  token: string;
}

/** A lock file still empty this long after it was created is from a writer that died creating it. */
const EMPTY_LOCK_GRACE_MS = 10_000;

function readLock(path: string): LockInfo | 'empty' | 'gone' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  try {
    const info = JSON.parse(text) as LockInfo;
    if (typeof info.pid === 'number') return info;
  } catch {}
  return 'empty';
}

export interface HeldLock {
  release(): void;
}

/** Takes the lock at `path` or throws LOG_LOCKED naming the holder; `what` names the partition for messages. */
export function acquireLock(path: string, what: string, details: Record<string, unknown>): HeldLock {
  const mine: LockInfo = { pid: process.pid, start: processStart(process.pid), token: randomUUID() };
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = readLock(path);
      if (held === 'gone') continue;
      if (held === 'empty') {
        let age = 0;
        try {
          age = Date.now() - statSync(path).mtimeMs;
        } catch {}
        if (age < EMPTY_LOCK_GRACE_MS) throw lockedError(what, undefined, path, details);
      } else if (isAlive(held)) {
        throw lockedError(what, held.pid, path, details);
      }
      // Stale: its owner is dead. Move it aside (rename is atomic: one breaker wins) and make
      // sure what was moved is the stale lock, not a fresh one another breaker created meanwhile.
      const aside = `${path}.breaking-${mine.token}`;
      try {
        renameSync(path, aside);
      } catch {
        continue;
      }
      const moved = readLock(aside);
      const staleToken = held === 'empty' ? undefined : held.token;
      const movedToken = typeof moved === 'object' ? moved.token : undefined;
      if (movedToken !== staleToken) {
        // A live lock: put it back (link fails if yet another one appeared) and give up.
        try {
          linkSync(aside, path);
        } catch {}
        unlinkSync(aside);
        throw lockedError(what, typeof moved === 'object' ? moved.pid : undefined, path, details);
      }
      unlinkSync(aside);
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(mine));
    } finally {
      closeSync(fd);
    }
    return {
      release() {
        const held = readLock(path);
        if (typeof held === 'object' && held.token === mine.token) {
          try {
            unlinkSync(path);
          } catch {}
        }
      },
    };
  }
  throw lockedError(what, undefined, path, details);
}

function lockedError(what: string, pid: number | undefined, path: string, details: Record<string, unknown>) {
  const holder = pid === undefined ? 'another writer' : `process ${pid}`;
  return new TributaryError(
    'LOG_LOCKED',
    `${what} is being written by ${holder} (lock file ${path}); only one process may produce to a ` +
      `partition at a time. Stop that process or produce through it, then retry.`,
    { ...details, pid, lockFile: path },
  );
}
