/**
 * The files of a snapshot a query must read: partition pruning and stats-based skipping
 * (filter.ts), each with a local path DuckDB can open. Local stores read files in place;
 * remote stores download each file once into a temporary cache keyed by store and path
 * (data files are immutable: a path never changes content); VACUUM evicts the copies of
 * the files it deletes (evictCached).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import type { Add } from '../actions.ts';
import { fromAddPath } from '../partition-path.ts';
import type { Snapshot } from '../snapshot.ts';
import type { TableHandle } from '../write/table-handle.ts';
import { type Filter, fileMayMatch } from './filter.ts';
import type { FileRef } from './relation.ts';

export interface ScanFile extends FileRef {
  add: Add;
}

/** Where remote data files are cached (TRIBUTARY_CACHE_DIR, default <tmp>/tributary-cache). */
function cacheRoot(): string {
  return process.env.TRIBUTARY_CACHE_DIR ?? join(tmpdir(), 'tributary-cache');
}

function cacheDirFor(store: ObjectStore): string {
  return join(cacheRoot(), createHash('sha256').update(store.url).digest('hex').slice(0, 16));
}

/** Deletes a store's cached data files (the cache has no size bound of its own). */
export async function clearCache(store: ObjectStore): Promise<void> {
  await fs.rm(cacheDirFor(store), { recursive: true, force: true });
}

/**
 * Forgets the cached copy of a data file that VACUUM deleted from a remote store, so the
 * cache holds only files the store still has (a read of a version that needed it fails
 * with TABLE_MISSING_FILE, as on a local store) and does not grow with every rewrite.
 */
export async function evictCached(store: ObjectStore, objectPath: string): Promise<void> {
  if (store.localPath?.('x') !== undefined) return;
  await fs.rm(join(cacheDirFor(store), ...objectPath.split('/')), { force: true });
}

function missing(snapshot: Snapshot, store: ObjectStore, path: string, cause?: unknown): TributaryError {
  return new TributaryError(
    'TABLE_MISSING_FILE',
    `data file '${path}' referenced by version ${snapshot.version} of table ${store.url} is missing; restore it from a backup, or repair the table by committing a remove for it (a VACUUM with a too-short retention can cause this)`,
    { path, version: snapshot.version, table: store.url },
    cause,
  );
}

/** Local paths for adds, checking that each file exists (TABLE_MISSING_FILE otherwise). */
export async function localFiles(store: ObjectStore, snapshot: Snapshot, adds: Add[]): Promise<ScanFile[]> {
  const out: ScanFile[] = new Array(adds.length);
  const local = store.localPath !== undefined && store.localPath('x') !== undefined;
  const cacheDir = cacheDirFor(store);
  let next = 0;
  // Bounded parallelism: stat (local) or download (remote) a few files at a time.
  const worker = async () => {
    while (next < adds.length) {
      const i = next++;
      const add = adds[i];
      const objectPath = fromAddPath(add.path);
      let localPath: string;
      if (local) {
        localPath = store.localPath!(objectPath)!;
        try {
          await fs.access(localPath);
        } catch (err) {
          throw missing(snapshot, store, add.path, err);
        }
      } else {
        localPath = join(cacheDir, ...objectPath.split('/'));
        const have = await fs.stat(localPath).catch(() => undefined);
        if (!have || have.size !== add.size) {
          let bytes: Uint8Array;
          try {
            bytes = await store.get(objectPath);
          } catch (err) {
            if (isTributaryError(err, 'STORAGE_NOT_FOUND')) throw missing(snapshot, store, add.path, err);
            throw err;
          }
          await fs.mkdir(dirname(localPath), { recursive: true });
          const tmp = `${localPath}.${process.pid}.${i}.tmp`;
          await fs.writeFile(tmp, bytes);
          await fs.rename(tmp, localPath);
        }
      }
      out[i] = { add, path: add.path, localPath, partitionValues: add.partitionValues };
    }
  };
  await Promise.all(Array.from({ length: Math.min(local ? 32 : 8, adds.length) }, worker));
  return out;
}

/** Files of `snapshot` that may hold rows matching all `filter`s, with local paths. */
export async function scan(
  table: TableHandle,
  snapshot: Snapshot,
  opts: { filter?: Filter[] } = {},
): Promise<ScanFile[]> {
  const filters = opts.filter ?? [];
  const adds = snapshot
    .files()
    .filter((a) => fileMayMatch(a, snapshot.schema, snapshot.partitionColumns, filters, table.store.url));
  return localFiles(table.store, snapshot, adds);
}
