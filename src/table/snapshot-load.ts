/**
 * Loading snapshots: the newest checkpoint at or before the wanted version, then every
 * later commit up to it, read in parallel and replayed in order. `_last_checkpoint` is
 * only a hint (PROTOCOL.md, "Last Checkpoint File"): if it is missing or stale, the
 * listing decides. A listing may miss the newest files, so the latest snapshot reads on
 * past the newest listed commit until a version is missing. An unreadable checkpoint is
 * passed over when an older one (or version 0) and every commit after it are there.
 * Anything that would give a partial snapshot — a gap in the versions, an unreadable
 * commit line, an unreadable checkpoint with no way around it — is TABLE_CORRUPT_LOG.
 */
import { isTributaryError, TributaryError } from '../core/errors.ts';
import type { ObjectMeta, ObjectStore } from '../storage/object-store.ts';
import type { Action } from './actions.ts';
import { readCheckpoint } from './checkpoint.ts';
import {
  checkpointPath,
  commitPath,
  type LogListing,
  listLog,
  mapLimit,
  readLastCheckpoint,
} from './log-files.ts';
import {
  applyActions,
  cloneState,
  commitTimestamp,
  emptyState,
  type LogState,
  type ParsedCommit,
  parseCommit,
} from './log-replay.ts';
import { checkReadable } from './protocol.ts';
import { Snapshot } from './snapshot.ts';

/** Commit files read at once: enough to hide storage latency, bounded for memory and sockets. */
const READ_CONCURRENCY = 32;

export interface VersionRange {
  earliest: number;
  latest: number;
}

/** The newest snapshot; with `base`, only the commits after it are read. */
export async function loadLatest(store: ObjectStore, table: string, base?: Snapshot): Promise<Snapshot> {
  if (base !== undefined) {
    // Tail the log from the cached version: usually one failed get, no listing.
    const tail = await readCommitsFrom(store, table, base.version + 1);
    if (tail.length === 0) return base;
    const state = cloneState(base.state);
    for (const c of tail) applyActions(state, c.actions);
    state.version = tail[tail.length - 1].version;
    return finish(state, tail[tail.length - 1].timestamp, table);
  }
  const hint = await readLastCheckpoint(store);
  let listing = await listLog(store, hint?.version ?? 0);
  if (hint !== undefined && ![...listing.checkpoints.keys()].some((v) => v >= hint.version)) {
    // The hinted checkpoint is not listed: a listing that misses new files, or it is gone.
    const found =
      (hint.parts ?? 1) === 1 ? await headIfExists(store, checkpointPath(hint.version)) : undefined;
    if (found !== undefined) listing.checkpoints.set(hint.version, [found]);
    else listing = await listLog(store, 0); // gone (or nothing in the listed blocks): list everything
  }
  const latest = latestVersion(listing);
  if (latest < 0) {
    // A listing can miss the newest files (eventually consistent stores): ask for version 0.
    const tail = await readCommitsFrom(store, table, 0);
    if (tail.length === 0) throw notFound(table);
    const state = emptyState();
    for (const c of tail) applyActions(state, c.actions);
    state.version = tail[tail.length - 1].version;
    return finish(state, tail[tail.length - 1].timestamp, table);
  }
  // Commits the listing missed are found by reading on from its newest version.
  return loadLatest(store, table, await build(store, table, listing, latest, undefined));
}

/** The snapshot at `version`; `base` is reused when it is at or before `version`. */
export async function loadVersion(
  store: ObjectStore,
  table: string,
  version: number,
  base?: Snapshot,
): Promise<Snapshot> {
  const listing = await listLog(store, 0);
  const range = versionRange(listing, table);
  if (!Number.isInteger(version) || version < range.earliest || version > range.latest) {
    throw new TributaryError(
      'TABLE_VERSION_NOT_FOUND',
      `table ${table} has no version ${version}: versions ${range.earliest} to ${range.latest} can be read${range.earliest > 0 ? ' (older ones were removed by log clean-up)' : ''}`,
      { table, version, ...range },
    );
  }
  if (base !== undefined && base.version === version) return base;
  return build(
    store,
    table,
    listing,
    version,
    base !== undefined && base.version < version ? base : undefined,
  );
}

/**
 * The last version committed at or before `timestamp` (ms). Commit timestamps are
 * strictly increasing (our writer makes each at least the previous + 1 ms), so a
 * binary search reads O(log n) commit files.
 */
export async function versionAtTimestamp(
  store: ObjectStore,
  table: string,
  timestamp: number,
  now: number,
): Promise<number> {
  const listing = await listLog(store, 0);
  const range = versionRange(listing, table);
  const tsOf = async (v: number): Promise<number> => {
    const meta = listing.commits.get(v);
    if (meta === undefined) return listing.checkpoints.get(v)![0].lastModified;
    const parsed = parseCommit(await store.get(meta.path), meta.path, table);
    return commitTimestamp(parsed.commitInfo, meta.lastModified);
  };
  const earliestTs = await tsOf(range.earliest);
  if (timestamp > now || timestamp < earliestTs) {
    throw new TributaryError(
      'TABLE_VERSION_NOT_FOUND',
      `table ${table} has no version at ${new Date(timestamp).toISOString()}: ${timestamp > now ? 'that is in the future' : 'it is before the earliest readable commit'}; versions ${range.earliest} (committed ${new Date(earliestTs).toISOString()}) to ${range.latest} can be read`,
      { table, timestamp, ...range, earliestTimestamp: earliestTs },
    );
  }
  let lo = range.earliest; // invariant: tsOf(lo) <= timestamp
  let hi = range.latest;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if ((await tsOf(mid)) <= timestamp) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function latestVersion(listing: LogListing): number {
  let latest = -1;
  for (const v of listing.commits.keys()) latest = Math.max(latest, v);
  for (const v of listing.checkpoints.keys()) latest = Math.max(latest, v);
  return latest;
}

/** Versions that can be reconstructed: from version 0 or the oldest checkpoint, to the newest. */
export function versionRange(listing: LogListing, table: string): VersionRange {
  const latest = latestVersion(listing);
  if (latest < 0) throw notFound(table);
  if (listing.commits.has(0)) return { earliest: 0, latest };
  const cps = [...listing.checkpoints.keys()];
  if (cps.length === 0) {
    const first = Math.min(...listing.commits.keys());
    throw new TributaryError(
      'TABLE_CORRUPT_LOG',
      `table ${table}: the log starts at version ${first} and has no checkpoint, so no version can be reconstructed`,
      { table, firstVersion: first },
    );
  }
  return { earliest: Math.min(...cps), latest };
}

async function build(
  store: ObjectStore,
  table: string,
  listing: LogListing,
  target: number,
  base: Snapshot | undefined,
): Promise<Snapshot> {
  const state = base !== undefined ? cloneState(base.state) : emptyState();
  let timestamp = base?.timestamp ?? 0;
  if (base === undefined) {
    const cp = newestCheckpointAtOrBefore(listing, target);
    if (cp !== undefined) {
      let actions: Action[];
      try {
        actions = await readCheckpoint(store, listing.checkpoints.get(cp)!, table);
      } catch (err) {
        // A checkpoint that cannot be read (damaged, or partly written by a store without
        // atomic puts) is passed over when the commits after an older one are all there.
        const older = withoutCheckpoint(listing, cp);
        if (!isTributaryError(err, 'TABLE_CORRUPT_LOG') || !replayable(older, target)) throw err;
        return build(store, table, older, target, undefined);
      }
      applyActions(state, actions);
      state.version = cp;
      if (cp === target) timestamp = await checkpointTimestamp(store, table, listing, cp);
    }
  }
  const versions: number[] = [];
  for (let v = state.version + 1; v <= target; v++) {
    if (!listing.commits.has(v)) {
      const file = commitPath(v);
      throw new TributaryError(
        'TABLE_CORRUPT_LOG',
        `table ${table}: commit file ${file} (version ${v}) is missing, a gap in the log before version ${target}${v === 0 ? ', and no checkpoint covers it' : ''}; the table cannot be read at version ${target}. Restore the file (or the checkpoint) from a backup`,
        { table, file, version: v },
      );
    }
    versions.push(v);
  }
  const commits: ParsedCommit[] = await mapLimit(versions, READ_CONCURRENCY, async (v) => {
    const meta = listing.commits.get(v)!;
    return parseCommit(await store.get(meta.path), meta.path, table);
  });
  if (versions.length > 0) {
    for (const c of commits) applyActions(state, c.actions);
    const last = versions[versions.length - 1];
    timestamp = commitTimestamp(
      commits[commits.length - 1].commitInfo,
      listing.commits.get(last)!.lastModified,
    );
    state.version = target;
  }
  return finish(state, timestamp, table);
}

function finish(state: LogState, timestamp: number, table: string): Snapshot {
  if (state.protocol === undefined || state.metadata === undefined) {
    throw new TributaryError(
      'TABLE_CORRUPT_LOG',
      `table ${table}: no ${state.protocol === undefined ? 'protocol' : 'metaData'} action up to version ${state.version}; the log is incomplete`,
      { table, version: state.version },
    );
  }
  checkReadable(state.protocol, table);
  return new Snapshot(state, timestamp, table);
}

export interface TailCommit extends ParsedCommit {
  version: number;
  timestamp: number;
}

/**
 * The commits from version `from` up to the end of the log, found by reading
 * `from`, `from + 1`, ... until one does not exist (a few at a time). Cheaper than a
 * listing when few commits are new; used to refresh a cached snapshot and to read the
 * commits that won a race.
 */
export async function readCommitsFrom(
  store: ObjectStore,
  table: string,
  from: number,
): Promise<TailCommit[]> {
  const out: TailCommit[] = [];
  for (let batch = 1; ; batch = Math.min(batch * 2, READ_CONCURRENCY)) {
    const start = from + out.length;
    const got = await Promise.all(
      Array.from({ length: batch }, (_, i) => readCommitAt(store, table, start + i)),
    );
    for (const c of got) {
      if (c === undefined) return out;
      out.push(c);
    }
  }
}

/** The commit at `version`, or undefined when there is none (STORAGE_NOT_FOUND). */
export async function readCommitAt(
  store: ObjectStore,
  table: string,
  version: number,
): Promise<TailCommit | undefined> {
  const path = commitPath(version);
  let bytes: Uint8Array;
  try {
    bytes = await store.get(path);
  } catch (err) {
    if (isTributaryError(err, 'STORAGE_NOT_FOUND')) return undefined;
    throw err;
  }
  const parsed = parseCommit(bytes, path, table);
  const ts = parsed.commitInfo?.timestamp;
  const timestamp = typeof ts === 'number' ? ts : (await store.head(path)).lastModified;
  return { ...parsed, version, timestamp };
}

async function headIfExists(store: ObjectStore, path: string): Promise<ObjectMeta | undefined> {
  try {
    return await store.head(path);
  } catch (err) {
    if (isTributaryError(err, 'STORAGE_NOT_FOUND')) return undefined;
    throw err;
  }
}

function withoutCheckpoint(listing: LogListing, version: number): LogListing {
  const checkpoints = new Map(listing.checkpoints);
  checkpoints.delete(version);
  return { ...listing, checkpoints };
}

/** Whether `target` can be rebuilt from the listing's newest checkpoint before it (or version 0). */
function replayable(listing: LogListing, target: number): boolean {
  for (let v = (newestCheckpointAtOrBefore(listing, target) ?? -1) + 1; v <= target; v++) {
    if (!listing.commits.has(v)) return false;
  }
  return true;
}

function newestCheckpointAtOrBefore(listing: LogListing, target: number): number | undefined {
  let best: number | undefined;
  for (const v of listing.checkpoints.keys()) if (v <= target && (best === undefined || v > best)) best = v;
  return best;
}

/** The commit timestamp of a checkpointed version: from its commit file if kept, else the checkpoint's mtime. */
async function checkpointTimestamp(
  store: ObjectStore,
  table: string,
  listing: LogListing,
  v: number,
): Promise<number> {
  const meta = listing.commits.get(v);
  if (meta === undefined) return listing.checkpoints.get(v)![0].lastModified;
  return commitTimestamp(
    parseCommit(await store.get(meta.path), meta.path, table).commitInfo,
    meta.lastModified,
  );
}

function notFound(table: string): TributaryError {
  return new TributaryError(
    'TABLE_NOT_FOUND',
    `no Delta table at ${table}: there is no _delta_log/ with commits; create the table first`,
    { table },
  );
}
