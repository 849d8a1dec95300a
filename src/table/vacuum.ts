/**
 * VACUUM: deletes data files the table no longer needs (PROTOCOL.md, "Data Files";
 * retention per delta.deletedFileRetentionDuration, default 7 days). A file is deleted
 * when it is not referenced by the current snapshot and
 * - it has a tombstone whose deletionTimestamp is older than the retention (readers of
 *   versions inside the retention window may still need it), or
 * - it is in no tombstone (e.g. left by a failed write) and its mtime is older than the
 *   retention (a writer may be about to commit it).
 * Files in directories whose names start with `_` or `.` (the log, change data, ...) are
 * never touched, except partition directories like `_col=value` of a partition column.
 */
import type { Clock } from '../core/clock.ts';
import { crashPoint } from '../core/crash-points.ts';
import { TributaryError } from '../core/errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { mapLimit } from './log-files.ts';
import { checkWritable } from './protocol.ts';
import { evictCached } from './read/scan.ts';
import type { Snapshot } from './snapshot.ts';

export interface VacuumOptions {
  retentionMs?: number;
  dryRun?: boolean;
  /** Called once the files to delete are known (0 deleted) and after each deletion. */
  onProgress?: (p: { deleted: number; total: number }) => void;
}

/** A relative store path from an add/remove path (URI-encoded); undefined for absolute URIs. */
export function relativeDataPath(path: string): string | undefined {
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(path)) return undefined;
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function hidden(path: string, partitionColumns: string[]): boolean {
  return path.split('/').some((seg) => {
    if (!seg.startsWith('_') && !seg.startsWith('.')) return false;
    return !partitionColumns.some((c) => seg.startsWith(`${c}=`));
  });
}

export async function vacuum(
  store: ObjectStore,
  snapshot: Snapshot,
  clock: Clock,
  opts: VacuumOptions = {},
): Promise<{ deleted: string[] }> {
  checkWritable(snapshot.protocol, snapshot.table);
  const retention = opts.retentionMs ?? snapshot.config.deletedFileRetentionMs;
  if (!Number.isFinite(retention) || retention < 0) {
    throw new TributaryError(
      'TABLE_INVALID_ARGUMENT',
      `vacuum of ${snapshot.table}: retentionMs must be >= 0`,
      {
        table: snapshot.table,
        retentionMs: retention,
      },
    );
  }
  const cutoff = clock.now() - retention;
  const active = new Set<string>();
  for (const a of snapshot.files()) {
    const p = relativeDataPath(a.path);
    if (p !== undefined) active.add(p);
  }
  const tombstoned = new Map<string, number>();
  for (const r of snapshot.tombstones()) {
    const p = relativeDataPath(r.path);
    if (p !== undefined) tombstoned.set(p, r.deletionTimestamp ?? 0);
  }
  const deleted: string[] = [];
  for (const f of await store.list('')) {
    if (active.has(f.path) || hidden(f.path, snapshot.partitionColumns)) continue;
    const removedAt = tombstoned.get(f.path);
    const age = removedAt ?? f.lastModified;
    if (age >= cutoff) continue;
    deleted.push(f.path);
  }
  if (!opts.dryRun) {
    let done = 0;
    opts.onProgress?.({ deleted: 0, total: deleted.length });
    await mapLimit(deleted, 16, async (p) => {
      await store.delete(p);
      await evictCached(store, p);
      crashPoint('vacuum.deleted');
      opts.onProgress?.({ deleted: ++done, total: deleted.length });
    });
  }
  return { deleted };
}
