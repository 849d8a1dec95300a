import { randomBytes } from 'node:crypto';
import { promises as fs, type Stats, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { TributaryError } from '../core/errors.ts';
import { type SyncKind, type SyncObserver, syncDir, syncFile } from '../core/fsync.ts';
import type { ObjectMeta, ObjectStore } from './object-store.ts';
import { alreadyExists, checkPath, notFound } from './paths.ts';

/** Temporary files are written beside their target with this prefix and never listed. */
const TEMP_PREFIX = '.tmp-';
/** How many files `list` stats between two turns of the event loop. */
const STAT_CHUNK = 256;

export interface LocalStoreOptions {
  /**
   * Sync before a write returns, so that what it wrote survives a machine crash, not only
   * a crash of the process (default true): the new object's bytes (fdatasync), then, once
   * it is renamed or linked into place, its directory (fsync), and once per store the
   * directories above it up to the root. A Delta commit is therefore durable when its
   * put-if-absent returns, and so are the data files it references, which were written
   * (and synced) before it. Off: the OS writes back when it likes (typically within
   * ~30 s); only for data that can be rebuilt, as in tests and benchmarks.
   */
  durable?: boolean;
  /** Told about each completed sync (for tests of the order of syncs). */
  onSync?: SyncObserver;
}

/** At most this many directories are remembered as durable (LocalStore.durableDirs). */
const DURABLE_DIRS_MAX = 10_000;

/**
 * An object store over a local directory.
 *
 * - `put` writes a temporary file in the target's directory and renames it over the
 *   target: rename is atomic within a filesystem, so readers see the old or the new
 *   object, never a torn one.
 * - `putIfAbsent` writes a temporary file and hard-links it to the target: `link(2)`
 *   fails with EEXIST if the target exists, atomically and across processes, and the
 *   target appears with its full content at once. (Opening with O_EXCL would be atomic
 *   too, but would expose a partly written file to readers.)
 * - `moveIn` renames a file that is already on the same filesystem into the store (how
 *   data files written by DuckDB join a table without a copy).
 * - Durable (the default, LocalStoreOptions.durable): the temporary file is synced before
 *   the rename or link and the directory after it, so the object is never durable
 *   without its bytes, and whatever was written before it is durable before it is.
 */
export class LocalStore implements ObjectStore {
  readonly root: string;
  readonly url: string;
  readonly durable: boolean;
  private readonly onSync?: SyncObserver;
  /**
   * Directories whose entry in their parent is known durable (synced once per store).
   * A cache: forgotten when it reaches DURABLE_DIRS_MAX (a writer making a directory per
   * version, as the windows' state does, would grow it without end), after which a
   * directory's parents are synced once more.
   */
  private readonly durableDirs = new Set<string>();

  constructor(root: string, opts: LocalStoreOptions = {}) {
    this.root = resolve(root);
    this.url = pathToFileURL(this.root).href;
    this.durable = opts.durable ?? true;
    this.onSync = opts.onSync;
  }

  localPath(path: string): string {
    return join(this.root, ...checkPath(path).split('/'));
  }

  async get(path: string): Promise<Uint8Array> {
    try {
      return await fs.readFile(this.localPath(path));
    } catch (err) {
      throw this.translate(err, path);
    }
  }

  async getRange(path: string, start: number, end: number): Promise<Uint8Array> {
    let fh: fs.FileHandle | undefined;
    try {
      fh = await fs.open(this.localPath(path), 'r');
      const size = (await fh.stat()).size;
      const stop = Math.min(end, size);
      const length = Math.max(0, stop - start);
      const buf = Buffer.allocUnsafe(length);
      let read = 0;
      while (read < length) {
        const { bytesRead } = await fh.read(buf, read, length - read, start + read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      return buf.subarray(0, read);
    } catch (err) {
      throw this.translate(err, path);
    } finally {
      await fh?.close();
    }
  }

  async head(path: string): Promise<ObjectMeta> {
    try {
      const st = await fs.stat(this.localPath(path));
      // A directory is only a prefix of other objects, as in S3, not an object.
      if (!st.isFile()) throw notFound(this.url, path);
      return { path, size: st.size, lastModified: Math.floor(st.mtimeMs) };
    } catch (err) {
      throw this.translate(err, path);
    }
  }

  async put(path: string, data: Uint8Array): Promise<void> {
    const target = this.localPath(path);
    const tmp = await this.writeTemp(target, data);
    try {
      await fs.rename(tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => {});
      throw this.translate(err, path, true);
    }
    await this.syncDirOf(target, path);
  }

  /**
   * Moves `localFile`, a finished file on the store's filesystem (e.g. in a `.tmp-`
   * directory under the root), to `path` with one rename, replacing what is there. When
   * durable its bytes are synced before the rename and the directory after it.
   */
  async moveIn(localFile: string, path: string): Promise<void> {
    const target = this.localPath(path);
    await this.makeDir(target, path);
    try {
      if (this.durable) {
        await syncFile(localFile);
        this.observe('file', target);
      }
      await fs.rename(localFile, target);
    } catch (err) {
      throw this.translate(err, path, true);
    }
    await this.syncDirOf(target, path);
  }

  async putIfAbsent(path: string, data: Uint8Array): Promise<void> {
    const target = this.localPath(path);
    const tmp = await this.writeTemp(target, data);
    try {
      await fs.link(tmp, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        // A directory there is a prefix of other objects, not an object: the write is
        // impossible here, but saying "already exists" would be wrong.
        const isDir = await fs.stat(target).then(
          (st) => st.isDirectory(),
          () => false,
        );
        if (isDir)
          throw this.translate(Object.assign(new Error('is a directory'), { code: 'EISDIR' }), path, true);
        throw alreadyExists(this.url, path);
      }
      throw this.translate(err, path, true);
    } finally {
      await fs.rm(tmp, { force: true });
    }
    await this.syncDirOf(target, path);
  }

  async list(prefix: string): Promise<ObjectMeta[]> {
    // Walk only the directory that holds the prefix, not the whole tree.
    const slash = prefix.lastIndexOf('/');
    const baseRel = slash < 0 ? '' : prefix.slice(0, slash);
    const base = baseRel === '' ? this.root : join(this.root, ...baseRel.split('/'));
    const out: ObjectMeta[] = [];
    await this.walk(base, prefix, out);
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async delete(path: string): Promise<void> {
    try {
      await fs.rm(this.localPath(path), { force: true });
    } catch (err) {
      // A directory (a prefix of other objects) or a path below a file: no object to delete.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ERR_FS_EISDIR' || code === 'EISDIR' || code === 'ENOTDIR') return;
      throw this.translate(err, path);
    }
  }

  private async walk(dir: string, prefix: string, out: ObjectMeta[]): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw this.translate(err, relative(this.root, dir));
    }
    // Paths by concatenation: path.relative/join per entry cost more than the stat.
    const relDir = relative(this.root, dir).split(sep).join('/');
    const relBase = relDir === '' ? '' : `${relDir}/`;
    const files: { full: string; rel: string }[] = [];
    for (const e of entries) {
      if (e.name.startsWith(TEMP_PREFIX)) continue;
      const rel = relBase + e.name;
      if (e.isDirectory()) {
        // Descend only where the prefix can still match.
        if ((rel + '/').startsWith(prefix) || prefix.startsWith(rel + '/'))
          await this.walk(join(dir, e.name), prefix, out);
      } else if (e.isFile() && rel.startsWith(prefix)) {
        files.push({ full: join(dir, e.name), rel });
      }
    }
    // Synchronous stats, a chunk at a time with a turn of the event loop between chunks.
    // Measured on a 10,000-file _delta_log (bench/storage-list.ts): promise-per-file
    // stats through libuv's pool took ~170-400 ms; sync stats take ~35 ms and, chunked,
    // never hold the event loop for more than about a millisecond.
    for (let i = 0; i < files.length; i += STAT_CHUNK) {
      if (i > 0) await yieldToEventLoop();
      for (const { full, rel } of files.slice(i, i + STAT_CHUNK)) {
        let st: Stats | undefined;
        try {
          // undefined: deleted between readdir and stat, so no longer listed.
          st = statSync(full, { throwIfNoEntry: false });
        } catch (err) {
          throw this.translate(err, rel);
        }
        if (st) out.push({ path: rel, size: st.size, lastModified: Math.floor(st.mtimeMs) });
      }
    }
  }

  private async writeTemp(target: string, data: Uint8Array): Promise<string> {
    const tmp = join(dirname(target), `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const rel = relative(this.root, target).split(sep).join('/');
    await this.makeDir(target, rel);
    try {
      if (this.durable) {
        const fh = await fs.open(tmp, 'wx');
        try {
          await fh.writeFile(data);
          await fh.datasync();
        } finally {
          await fh.close();
        }
        this.observe('file', target);
      } else {
        await fs.writeFile(tmp, data);
      }
      return tmp;
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => {}); // must not hide the real failure
      throw this.translate(err, rel, true);
    }
  }

  /** Creates the directory that will hold `target`; when durable, makes its path durable. */
  private async makeDir(target: string, rel: string): Promise<void> {
    const dir = dirname(target);
    try {
      await fs.mkdir(dir, { recursive: true });
    } catch (err) {
      // EEXIST from a recursive mkdir: a file stands where a parent folder must go.
      const code = (err as NodeJS.ErrnoException).code;
      throw this.translate(
        code === 'EEXIST' ? Object.assign(err as Error, { code: 'ENOTDIR' }) : err,
        rel,
        true,
      );
    }
    if (!this.durable) return;
    // Each directory's entry in its parent, up to the root's entry in its parent: once
    // per directory and store, whoever created it (another writer may have created it
    // a moment ago and not synced its parent yet).
    if (this.durableDirs.size >= DURABLE_DIRS_MAX) this.durableDirs.clear();
    try {
      for (let d = dir; !this.durableDirs.has(d); d = dirname(d)) {
        const parent = dirname(d);
        if (parent === d) break;
        await syncDir(parent);
        this.observe('dir', parent);
        this.durableDirs.add(d);
        if (d === this.root) break;
      }
    } catch (err) {
      throw this.translate(err, rel, true);
    }
  }

  /** After a rename or link into `target`'s directory: syncs the directory when durable. */
  private async syncDirOf(target: string, rel: string): Promise<void> {
    if (!this.durable) return;
    try {
      await syncDir(dirname(target));
    } catch (err) {
      throw this.translate(err, rel, true);
    }
    this.observe('dir', dirname(target));
  }

  private observe(kind: SyncKind, path: string): void {
    this.onSync?.(kind, path);
  }

  private translate(err: unknown, path: string, writing = false): TributaryError {
    if (err instanceof TributaryError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return notFound(this.url, path, err);
    // EISDIR: the path is a directory, a prefix of other objects; ENOTDIR: a path below
    // a file. Neither is an object (as in S3), but a directory cannot hold both.
    if (code === 'EISDIR' || code === 'ENOTDIR') {
      if (!writing) return notFound(this.url, path, err);
      return new TributaryError(
        'STORAGE_INVALID_PATH',
        `cannot write '${path}' in ${this.root}: in a local directory a path cannot be both an object and ` +
          'a prefix of other objects (like a file and a folder of one name); choose another path',
        { path, root: this.root, errno: code },
        err,
      );
    }
    return new TributaryError(
      'STORAGE_IO',
      `local storage failed on '${path}' in ${this.root}: ${(err as Error).message}`,
      { path, root: this.root, errno: code },
      err,
    );
  }
}
