/**
 * The one interface to object storage. Paths are relative keys with `/` separators
 * (no leading `/`, no `.` or `..` segments); each store is rooted at a location.
 *
 * Correctness rules every implementation must meet (the Delta commit protocol and the
 * embedded log depend on them; test/storage/contract.ts checks them):
 * - Atomic visibility: a `put` or `putIfAbsent` is seen whole or not at all; a reader
 *   never observes a partly written object.
 * - Mutual exclusion: of several concurrent `putIfAbsent` calls on one path, across
 *   processes, exactly one succeeds; the others fail with STORAGE_ALREADY_EXISTS.
 * - Consistent listing: after a put completes, `list` over its prefix includes it.
 * - `get` / `getRange` / `head` / `delete` of a missing object fail with STORAGE_NOT_FOUND,
 *   except `delete`, which is idempotent (deleting a missing object succeeds).
 * - Durability: an object is durable once its write returned, and writes that returned
 *   before it are durable no later than it (a commit is never durable while the data
 *   files it references are not). S3 meets this on acknowledgement; a LocalStore syncs
 *   files and directories unless built with `durable: false` (docs/storage.md).
 */
export interface ObjectMeta {
  /** Path relative to the store root. */
  path: string;
  size: number;
  /** Last modification time, milliseconds since the epoch. */
  lastModified: number;
}

export interface ObjectStore {
  /** A URI for humans and for engines that read the same files (file:///..., s3://..., memory://...). */
  readonly url: string;
  get(path: string): Promise<Uint8Array>;
  /** Bytes [start, end) of the object; `end` past the object's size is clamped. */
  getRange(path: string, start: number, end: number): Promise<Uint8Array>;
  head(path: string): Promise<ObjectMeta>;
  put(path: string, data: Uint8Array): Promise<void>;
  /** Writes only if nothing exists at `path`; otherwise STORAGE_ALREADY_EXISTS. */
  putIfAbsent(path: string, data: Uint8Array): Promise<void>;
  /** Every object whose path starts with `prefix`, in lexicographic order of path. */
  list(prefix: string): Promise<ObjectMeta[]>;
  delete(path: string): Promise<void>;
  /**
   * A local filesystem path for `path` when the store is a local directory (so DuckDB
   * can read the Parquet files in place), or undefined for remote stores.
   */
  localPath?(path: string): string | undefined;
  /**
   * Moves a finished file of the local filesystem, on the same filesystem as the store
   * (under the directory `localPath` points into), to `path` with one rename, replacing
   * what is there. Local stores only: how data files written by DuckDB join a table
   * without a copy. It meets the same rules as `put` (atomic visibility, and durability
   * when the store syncs its writes).
   */
  moveIn?(localFile: string, path: string): Promise<void>;
}
