/**
 * Scratch files of the runtime: batch NDJSON files and MERGE change files live for
 * milliseconds in RAM-backed /dev/shm (a temp directory elsewhere). A process killed
 * mid-batch leaves its files behind, so each pipeline start removes the files of
 * processes that are gone (names carry the pid).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TributaryError } from '../core/errors.ts';

export const SCRATCH_DIR = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const PATTERN = /^tributary-[a-z]+-(\d+)-[0-9a-f-]+\.(ndjson|parquet)$/;

/** A fresh scratch file path for this process. */
export function scratchFile(kind: string, ext: 'ndjson' | 'parquet'): string {
  return join(SCRATCH_DIR, `tributary-${kind}-${process.pid}-${randomUUID()}.${ext}`);
}

/**
 * Writes a scratch file. A failure (the RAM disk full, ENOSPC; too many open files) is
 * the machine's, and may pass: it is a retryable STORAGE_IO, so the pipeline retries the
 * batch after a back-off instead of stopping.
 */
export async function writeScratch(file: string, data: Uint8Array | string): Promise<void> {
  try {
    await fs.writeFile(file, data);
  } catch (err) {
    await fs.rm(file, { force: true }).catch(() => {});
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new TributaryError(
      'STORAGE_IO',
      `could not write the scratch file ${file} (${code}: ${(err as Error).message}); free space in ${SCRATCH_DIR} or raise the open-file limit — the batch is retried`,
      { path: file, errno: code },
      err,
    );
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes scratch files left by processes that no longer run; returns how many. */
export async function sweepStaleScratch(): Promise<number> {
  let removed = 0;
  for (const name of await fs.readdir(SCRATCH_DIR).catch(() => [] as string[])) {
    const m = PATTERN.exec(name);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    await fs.rm(join(SCRATCH_DIR, name), { force: true });
    removed++;
  }
  return removed;
}
