/**
 * Log clean-up (PROTOCOL.md, "Metadata Cleanup"): deletes commit, checkpoint and
 * checksum files older than delta.logRetentionDuration (30 days) that lie strictly
 * behind a checkpoint, so that every version from that checkpoint on stays readable:
 *
 * 1. cutOffTimestamp = midnight UTC of (now - retention); cutoffCommit = the newest
 *    commit whose file is not newer than it;
 * 2. cutOffCheckpoint = the newest complete checkpoint at or before cutoffCommit
 *    (nothing to do without one); it is read first, so a corrupt checkpoint never
 *    becomes the only way to reach the versions after it;
 * 3. delete log files of versions before cutOffCheckpoint. The checkpoint and the
 *    commit file at its version are kept (the commit holds its commitInfo).
 */
import type { Clock } from '../core/clock.ts';
import type { ObjectMeta, ObjectStore } from '../storage/object-store.ts';
import { readCheckpoint } from './checkpoint.ts';
import { listLog, mapLimit, parseLogPath } from './log-files.ts';
import type { Snapshot } from './snapshot.ts';

const DAY_MS = 86_400_000;

export async function cleanupLog(
  store: ObjectStore,
  snapshot: Snapshot,
  clock: Clock,
): Promise<{ deleted: string[] }> {
  if (!snapshot.config.expiredLogCleanup) return { deleted: [] };
  const cutoffTs = Math.floor((clock.now() - snapshot.config.logRetentionMs) / DAY_MS) * DAY_MS;
  const listing = await listLog(store, 0);
  let cutoffCommit = -1;
  for (const [v, m] of listing.commits) if (m.lastModified <= cutoffTs && v > cutoffCommit) cutoffCommit = v;
  let cp = -1;
  for (const v of listing.checkpoints.keys()) if (v <= cutoffCommit && v > cp) cp = v;
  if (cp <= 0) return { deleted: [] };
  await readCheckpoint(store, listing.checkpoints.get(cp)!, snapshot.table);
  const doomed: ObjectMeta[] = [];
  for (const [v, m] of listing.commits) if (v < cp) doomed.push(m);
  for (const [v, parts] of listing.checkpoints) if (v < cp) doomed.push(...parts);
  for (const m of listing.others) {
    const k = parseLogPath(m.path);
    if (k !== undefined && k.version < cp) doomed.push(m);
  }
  const paths = doomed.map((m) => m.path).sort();
  await mapLimit(paths, 16, (p) => store.delete(p));
  return { deleted: paths };
}
