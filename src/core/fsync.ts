/**
 * Making a write survive a machine crash (power loss, kernel panic), not only a crash of
 * the process: a file's bytes reach stable storage with fdatasync, and a name that was
 * created, renamed or linked into a directory only with an fsync of that directory
 * (POSIX leaves a directory's entries to the directory's own sync).
 *
 * Windows cannot open a directory as a file, and NTFS journals its metadata: directory
 * syncs are skipped there.
 */
import { closeSync, fdatasyncSync, promises as fs, fsyncSync, openSync } from 'node:fs';

export type SyncKind = 'file' | 'dir';

/**
 * Told about each sync once it completed: the file or directory whose content is now on
 * stable storage. Tests use it to check the order of syncs against the visible state.
 */
export type SyncObserver = (kind: SyncKind, path: string) => void;

const dirSyncs = process.platform !== 'win32';

/** fdatasync of the file at `path` (its bytes and size, not its times). */
export async function syncFile(path: string): Promise<void> {
  const fh = await fs.open(path, 'r+');
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** fsync of a directory: the names created, renamed or linked in it become durable. */
export async function syncDir(path: string): Promise<void> {
  if (!dirSyncs) return;
  const fh = await fs.open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function syncFileSync(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function syncDirSync(path: string): void {
  if (!dirSyncs) return;
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
