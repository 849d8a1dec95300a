/**
 * Where a table is, from how a user names it: a bare name is a table under
 * `<dataDir>/tables/` (a dotted name `gold.daily` may also live in `tables/gold/daily`);
 * anything holding a `/` (or a `file://`, `s3://` or `memory://` URL) is a location of
 * its own. The data directory itself may be a path or a URL.
 */
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { TributaryError } from '../core/errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { openStore } from '../storage/open.ts';

export interface TableLocation {
  store: ObjectStore;
  /** How to name the table in messages: its name, or its path/URL. */
  display: string;
}

const URL_RE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** True when `ref` names a location (path or URL) rather than a table under the data dir. */
export function isLocation(ref: string): boolean {
  return ref.includes('/') || ref.includes('\\') || URL_RE.test(ref);
}

/** `<dataDir>/tables` as a location string (absolute path or URL). */
export function tablesRoot(dataDir: string): string {
  return URL_RE.test(dataDir) ? `${dataDir.replace(/\/+$/, '')}/tables` : join(resolve(dataDir), 'tables');
}

function child(root: string, parts: string[]): string {
  return URL_RE.test(root) ? [root, ...parts].join('/') : join(root, ...parts);
}

/**
 * A bare table name must stay inside `<dataDir>/tables/` and must not be the tables
 * folder itself: '' is `tables/`, '..' the data directory, and a table there would own
 * every other table's files (a VACUUM of it deletes them all). Dots separate nesting
 * levels (`gold.daily`), so no part between dots may be empty (`.x`, `x.`, `a..b`).
 */
function checkTableName(name: string): void {
  if (name.split('.').some((part) => part.trim() === '') || /[\u0000-\u001f]/.test(name)) {
    throw new TributaryError(
      'TABLE_INVALID_ARGUMENT',
      `'${name}' is not a table name: use letters, digits and the like, with dots only between parts (gold.daily); give a path such as ./dir/table for a table elsewhere`,
      { table: name },
    );
  }
}

/** The candidate locations for a table name under `<dataDir>/tables`. */
export function nameCandidates(dataDir: string, name: string): string[] {
  const root = tablesRoot(dataDir);
  const out = [child(root, [name])];
  if (name.includes('.')) out.push(child(root, name.split('.')));
  return out;
}

async function hasDeltaLog(store: ObjectStore): Promise<boolean> {
  return (await store.list('_delta_log/')).length > 0;
}

/**
 * The location of a table name or path. For a name, the first candidate that holds a
 * Delta log wins; `mustExist: false` returns the plain `tables/<name>` location for a
 * table about to be created.
 */
export async function locateTable(
  ref: string,
  dataDir: string,
  opts: { mustExist?: boolean } = {},
): Promise<TableLocation> {
  if (isLocation(ref)) return { store: openStore(ref), display: ref };
  checkTableName(ref);
  const candidates = nameCandidates(dataDir, ref);
  for (const location of candidates) {
    const store = openStore(location);
    if (await hasDeltaLog(store)) return { store, display: ref };
  }
  if (opts.mustExist === false) return { store: openStore(candidates[0]), display: ref };
  const tables = await listTables(dataDir);
  throw new TributaryError(
    'TABLE_NOT_FOUND',
    `no table named '${ref}' in ${tablesRoot(dataDir)}; ` +
      (tables.length > 0 ? `tables there: ${tables.join(', ')}` : 'there are no tables there yet') +
      '. Use --data-dir to look elsewhere, or give the table as a quoted path',
    { table: ref, dataDir, tables },
  );
}

/**
 * True when a local `_delta_log` folder holds anything: an empty one (left by a create
 * that was taken back) is no table, as `locateTable` agrees. One entry is read, not all.
 */
async function hasLocalLogEntry(dir: string): Promise<boolean> {
  let handle: import('node:fs').Dir | undefined;
  try {
    handle = await fs.opendir(dir);
    return (await handle.read()) !== null;
  } catch {
    return false;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** Names of the tables under `<dataDir>/tables` (nested directories give dotted names). */
export async function listTables(dataDir: string): Promise<string[]> {
  const root = tablesRoot(dataDir);
  const out = new Set<string>();
  if (URL_RE.test(root) && !/^file:\/\//i.test(root)) {
    // Remote: one listing; a table is any prefix that holds a `_delta_log/` (depth ≤ 2).
    for (const o of await openStore(root).list('')) {
      const parts = o.path.split('/');
      const at = parts.indexOf('_delta_log');
      if (at === 1 || at === 2) out.add(parts.slice(0, at).join('.'));
    }
    return [...out].sort();
  }
  const base = URL_RE.test(root) ? new URL(root).pathname : root;
  async function walk(dir: string, prefix: string[], depth: number): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith('.') || e.name.startsWith('_')) continue;
      const full = join(dir, e.name);
      const isTable = await hasLocalLogEntry(join(full, '_delta_log'));
      if (isTable) out.add([...prefix, e.name].join('.'));
      else if (depth < 2) await walk(full, [...prefix, e.name], depth + 1);
    }
  }
  await walk(base, [], 1);
  return [...out].sort();
}
