import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TributaryError } from '../core/errors.ts';
import type { ObjectMeta, ObjectStore } from './object-store.ts';
import { alreadyExists, checkPath, notFound } from './paths.ts';

/** Temporary files are written beside their target with this prefix and never listed. */
const TEMP_PREFIX = '.tmp-';

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
 */
export class LocalStore implements ObjectStore {
  readonly root: string;
  readonly url: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.url = pathToFileURL(this.root).href;
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
      await fs.rm(tmp, { force: true });
      throw this.translate(err, path);
    }
  }

  async putIfAbsent(path: string, data: Uint8Array): Promise<void> {
    const target = this.localPath(path);
    const tmp = await this.writeTemp(target, data);
    try {
      await fs.link(tmp, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists(this.url, path);
      throw this.translate(err, path);
    } finally {
      await fs.rm(tmp, { force: true });
    }
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
    for (const e of entries) {
      if (e.name.startsWith(TEMP_PREFIX)) continue;
      const full = join(dir, e.name);
      const rel = relative(this.root, full).split(sep).join('/');
      if (e.isDirectory()) {
        // Descend only where the prefix can still match.
        if ((rel + '/').startsWith(prefix) || prefix.startsWith(rel + '/'))
          await this.walk(full, prefix, out);
      } else if (e.isFile() && rel.startsWith(prefix)) {
        try {
          const st = await fs.stat(full);
          out.push({ path: rel, size: st.size, lastModified: Math.floor(st.mtimeMs) });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw this.translate(err, rel);
        }
      }
    }
  }

  private async writeTemp(target: string, data: Uint8Array): Promise<string> {
    const tmp = join(dirname(target), `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      await fs.mkdir(dirname(target), { recursive: true });
      await fs.writeFile(tmp, data);
      return tmp;
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw this.translate(err, relative(this.root, target));
    }
  }

  private translate(err: unknown, path: string): TributaryError {
    if (err instanceof TributaryError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return notFound(this.url, path, err);
    return new TributaryError(
      'STORAGE_IO',
      `local storage failed on '${path}' in ${this.root}: ${(err as Error).message}`,
      { path, root: this.root, errno: code },
      err,
    );
  }
}
