/**
 * The newest version in a table's log, from a listing alone (no commit is read): what a
 * status display polls to show a table's version as it is on storage, maintenance
 * commits included. Listing from a known version lists only the log's recent blocks
 * (log-files.ts), so polling a long log stays cheap.
 */
import type { ObjectStore } from '../storage/object-store.ts';
import { listLog } from './log-files.ts';

/** The largest commit or checkpoint version at or after `from` (-1 when there is none). */
export async function latestVersion(store: ObjectStore, from = 0): Promise<number> {
  const listing = await listLog(store, from);
  let version = -1;
  for (const v of listing.commits.keys()) if (v > version) version = v;
  for (const v of listing.checkpoints.keys()) if (v > version) version = v;
  return version;
}
