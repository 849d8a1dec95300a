/**
 * Where DuckDB writes data files before they join the table, and how they move in.
 *
 * For a LocalStore the staging directory is inside the table directory under a
 * `.tmp-` name (LocalStore never lists those), so each finished file moves into place
 * with one rename on the same filesystem (`moveIn`, which also syncs the file and its
 * directory when the store is durable) — no copy of the bytes. Other stores stage in
 * the OS temp directory and upload each file with `put`.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ObjectStore } from '../../storage/object-store.ts';

export interface Staging {
  dir: string;
  /** Moves a staged file to `objectPath` in the store. */
  publish(localFile: string, objectPath: string): Promise<void>;
  cleanup(): Promise<void>;
}

export async function openStaging(store: ObjectStore): Promise<Staging> {
  const root = store.moveIn === undefined ? undefined : store.localPath?.('x');
  let dir: string;
  let local = false;
  if (root !== undefined) {
    dir = join(dirname(root), `.tmp-tributary-${randomUUID()}`);
    local = true;
  } else {
    dir = join(tmpdir(), `tributary-stage-${randomUUID()}`);
  }
  await fs.mkdir(dir, { recursive: true });
  return {
    dir,
    async publish(localFile, objectPath) {
      if (local) {
        await store.moveIn!(localFile, objectPath);
      } else {
        await store.put(objectPath, await fs.readFile(localFile));
        await fs.rm(localFile, { force: true });
      }
    },
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
}
