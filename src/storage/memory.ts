import type { Clock } from '../core/clock.ts';
import { systemClock } from '../core/clock.ts';
import type { ObjectMeta, ObjectStore } from './object-store.ts';
import { alreadyExists, checkPath, notFound } from './paths.ts';

/** An object store held in memory, for unit tests. Copies on the way in and out. */
export class MemoryStore implements ObjectStore {
  readonly url: string;
  private readonly objects = new Map<string, { data: Uint8Array; lastModified: number }>();
  private readonly clock: Clock;

  constructor(opts: { name?: string; clock?: Clock } = {}) {
    this.url = `memory://${opts.name ?? 'store'}`;
    this.clock = opts.clock ?? systemClock;
  }

  async get(path: string): Promise<Uint8Array> {
    const o = this.objects.get(checkPath(path));
    if (o === undefined) throw notFound(this.url, path);
    return o.data.slice();
  }

  async getRange(path: string, start: number, end: number): Promise<Uint8Array> {
    const o = this.objects.get(checkPath(path));
    if (o === undefined) throw notFound(this.url, path);
    return o.data.slice(start, Math.min(end, o.data.length));
  }

  async head(path: string): Promise<ObjectMeta> {
    const o = this.objects.get(checkPath(path));
    if (o === undefined) throw notFound(this.url, path);
    return { path, size: o.data.length, lastModified: o.lastModified };
  }

  async put(path: string, data: Uint8Array): Promise<void> {
    this.objects.set(checkPath(path), { data: data.slice(), lastModified: this.clock.now() });
  }

  async putIfAbsent(path: string, data: Uint8Array): Promise<void> {
    if (this.objects.has(checkPath(path))) throw alreadyExists(this.url, path);
    this.objects.set(path, { data: data.slice(), lastModified: this.clock.now() });
  }

  async list(prefix: string): Promise<ObjectMeta[]> {
    const out: ObjectMeta[] = [];
    for (const [path, o] of this.objects) {
      if (path.startsWith(prefix)) out.push({ path, size: o.data.length, lastModified: o.lastModified });
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async delete(path: string): Promise<void> {
    this.objects.delete(checkPath(path));
  }
}
