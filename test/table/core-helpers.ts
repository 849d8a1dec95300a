/** Shared fixtures for the table core tests: a schema, fake file actions, temp stores. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStore } from '../../src/storage/local.ts';
import type { Add, Remove } from '../../src/table/actions.ts';
import type { StructType } from '../../src/table/schema.ts';

export const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: 'name', type: 'string', nullable: true, metadata: {} },
    { name: 'day', type: 'string', nullable: true, metadata: {} },
  ],
};

export function add(
  path: string,
  partitionValues: Record<string, string | null> = {},
  extra: Partial<Add> = {},
): Add {
  return {
    path,
    partitionValues,
    size: 100,
    modificationTime: 1_700_000_000_000,
    dataChange: true,
    ...extra,
  };
}

export function remove(path: string, deletionTimestamp: number, extra: Partial<Remove> = {}): Remove {
  return { path, deletionTimestamp, dataChange: true, ...extra };
}

/** A LocalStore in a fresh temp dir, and a function that deletes it. */
export async function tempStore(): Promise<{ store: LocalStore; dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-core-'));
  return { store: new LocalStore(dir), dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes a commit file by hand, as another writer (or a broken one) might. */
export async function putCommit(
  store: { put(p: string, d: Uint8Array): Promise<void> },
  version: number,
  lines: unknown[],
): Promise<void> {
  const text = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
  await store.put(
    `_delta_log/${String(version).padStart(20, '0')}.json`,
    new TextEncoder().encode(`${text}\n`),
  );
}

export const commitFile = (v: number): string => `_delta_log/${String(v).padStart(20, '0')}.json`;
export const checkpointFile = (v: number): string =>
  `_delta_log/${String(v).padStart(20, '0')}.checkpoint.parquet`;
