/**
 * The newest version in a table's log without reading a commit: what a status display
 * polls to show a table's version as it is on storage, maintenance commits included.
 *
 * The first call lists the log from the last checkpoint's block (`_last_checkpoint` is
 * a hint), later calls only ask whether the versions after the one known exist (one
 * HEAD per new version, and one more): polling every second stays cheap however long
 * the log grows.
 */
import { isTributaryError } from '../core/errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { commitPath, listLog, readLastCheckpoint } from './log-files.ts';

/**
 * The largest version in the log (-1 when there is none). `known`: a version known to be
 * in the log already (from an earlier call), where the search starts.
 */
export async function latestVersion(store: ObjectStore, known = -1): Promise<number> {
  let version = known;
  if (version < 0) {
    const hint = await readLastCheckpoint(store);
    const listing = await listLog(store, hint?.version ?? 0);
    for (const v of listing.commits.keys()) if (v > version) version = v;
    for (const v of listing.checkpoints.keys()) if (v > version) version = v;
    if (version < 0) return -1;
  }
  for (;;) {
    try {
      await store.head(commitPath(version + 1));
    } catch (err) {
      if (isTributaryError(err, 'STORAGE_NOT_FOUND')) return version;
      throw err;
    }
    version++;
  }
}
