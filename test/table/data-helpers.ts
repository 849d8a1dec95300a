/** Shared set-up for the data-plane tests: a LocalStore table in a temp directory. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/core/clock.ts';
import { LocalStore } from '../../src/storage/local.ts';
import type { StructType } from '../../src/table/schema.ts';
import { DeltaTable } from '../../src/table/table.ts';

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
