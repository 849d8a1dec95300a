/** Shared set-up for the data-plane tests: a LocalStore table in a temp directory. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/core/clock.ts';
import { LocalStore } from '../../src/storage/local.ts';
import type { Action } from '../../src/table/actions.ts';
import type { StructType } from '../../src/table/schema.ts';
import { DeltaTable } from '../../src/table/table.ts';
import type { CommitRequest, TableHandle } from '../../src/table/write/table-handle.ts';

export function tempDir(prefix = 'tributary-data-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function field(name: string, type: StructType['fields'][number]['type'], nullable = true) {
  return { name, type, nullable, metadata: {} };
}

export async function newTable(
  dir: string,
  schema: StructType,
  partitionColumns: string[] = [],
  configuration: Record<string, string> = {},
): Promise<{ table: DeltaTable; store: LocalStore; clock: ManualClock }> {
  const store = new LocalStore(dir);
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const table = await DeltaTable.create(store, { schema, partitionColumns, configuration }, { clock });
  return { table, store, clock };
}

/** Rows sorted by a key for order-independent comparison. */
export function sortBy<T extends Record<string, unknown>>(rows: T[], key: string): T[] {
  return [...rows].sort((a, b) =>
    String(a[key]) < String(b[key]) ? -1 : String(a[key]) > String(b[key]) ? 1 : 0,
  );
}

/** A table whose next commit first lets another writer commit `interfere`'s actions. */
export function interfering(
  table: DeltaTable,
  interfere: () => Promise<unknown>,
): TableHandle & { interfered: number } {
  const h = {
    store: table.store,
    interfered: 0,
    snapshot: (at?: { version?: number; timestamp?: number }) => table.snapshot(at),
    async commit(actions: Action[], opts: CommitRequest) {
      if (h.interfered === 0) {
        h.interfered++;
        await interfere();
      }
      return table.commit(actions, opts);
    },
  };
  return h;
}
