/**
 * Wakes long-polling fetches when a partition gets new data, without a busy loop:
 * in-process appends notify directly; appends by another process are seen through
 * fs.watch (inotify on Linux) on the partition directory; a slow poll covers file
 * systems where watching does not work and the moment between a check and the watch.
 */
import { type FSWatcher, watch } from 'node:fs';

/** The slow poll; also the longest a missed watch event can delay a wake-up. */
export const POLL_MS = 250;

export class ChangeWaiter {
  private readonly local = new Map<string, Set<() => void>>();

  /** Wakes every in-process waiter of `dir`. */
  notify(dir: string): void {
    const set = this.local.get(dir);
    if (set === undefined) return;
    for (const wake of [...set]) wake();
  }

  /** Resolves when `dir` may have changed, or after `ms` (at most POLL_MS) at the latest. */
  wait(dir: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let watcher: FSWatcher | undefined;
      let set = this.local.get(dir);
      if (set === undefined) {
        set = new Set();
        this.local.set(dir, set);
      }
      const waiters = set;
      const finish = () => {
        clearTimeout(timer);
        watcher?.close();
        waiters.delete(finish);
        if (waiters.size === 0 && this.local.get(dir) === waiters) this.local.delete(dir);
        resolve();
      };
      const timer = setTimeout(finish, Math.max(1, Math.min(ms, POLL_MS)));
      waiters.add(finish);
      try {
        watcher = watch(dir, { persistent: false }, finish);
        watcher.on('error', () => {});
      } catch {
        // No watching here (or the directory is gone): the poll still wakes us.
      }
    });
  }
}
