/**
 * Committed consumer-group offsets: one small file per (group, topic, partition) under
 * `<root>/.groups/<group, URI-encoded>/<topic>/<partition>`, replaced atomically by
 * writing a temporary file and renaming it over the old one. One file per partition
 * means consumers of different partitions (in different processes) never overwrite each
 * other's commits.
 */
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { TributaryError } from '../../core/errors.ts';

function groupDir(root: string, group: string): string {
  if (group.length === 0)
    throw new TributaryError('CONFIG_INVALID', 'a consumer group name must not be empty');
  return join(root, '.groups', encodeURIComponent(group));
}

export function writeCommittedOffset(
  root: string,
  group: string,
  topic: string,
  partition: number,
  offset: number,
  durable: boolean,
): void {
  const dir = join(groupDir(root, group), topic);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${partition}.${randomUUID()}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, `${offset}\n`);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, String(partition)));
  if (durable) {
    // The rename itself survives a machine crash only once the directory is synced.
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}

export function readCommittedOffsets(root: string, group: string, topic: string): Map<number, number> {
  const dir = join(groupDir(root, group), topic);
  const out = new Map<number, number>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const v = Number(readFileSync(join(dir, n), 'utf8').trim());
      if (Number.isSafeInteger(v)) out.set(Number(n), v);
    } catch {}
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

/** Forgets every group's offsets for a deleted topic, so a new topic of that name starts clean. */
export function dropTopicOffsets(root: string, topic: string): void {
  let groups: string[];
  try {
    groups = readdirSync(join(root, '.groups'));
  } catch {
    return;
  }
  for (const g of groups) rmSync(join(root, '.groups', g, topic), { recursive: true, force: true });
}
