/** Shared by the models tests: projects written to temp folders, source tables, reading tables back. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { LocalStore } from '../../../src/storage/local.ts';
import { append, DeltaTable, readRows } from '../../../src/table/index.ts';
import type { DataType, StructType } from '../../../src/table/schema.ts';

export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `tributary-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `files` (path under the project → text) into `dir`; returns `dir`. */
export function writeProject(dir: string, files: Record<string, string>): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

export function schema(columns: Record<string, DataType>): StructType {
  return {
    type: 'struct',
    fields: Object.entries(columns).map(([name, type]) => ({ name, type, nullable: true, metadata: {} })),
  };
}

/** Appends rows to `<dataDir>/tables/<name>` (created with `columns`, partitioned by `partitionBy`). */
export async function sourceTable(
  dataDir: string,
  name: string,
  columns: Record<string, DataType>,
  rows: Record<string, unknown>[],
  partitionBy: string[] = [],
): Promise<DeltaTable> {
  const table = await DeltaTable.open(new LocalStore(join(dataDir, 'tables', name)), {
    createIfMissing: { schema: schema(columns), partitionColumns: partitionBy },
  });
  await append(table, { rows });
  return table;
}

export async function openTable(dataDir: string, name: string): Promise<DeltaTable> {
  return DeltaTable.open(new LocalStore(join(dataDir, 'tables', name)));
}

/** Every row of a table's latest version, in a stable order, as DuckDB's JSON-safe values. */
export async function tableRows(dataDir: string, name: string): Promise<Record<string, unknown>[]> {
  const table = await openTable(dataDir, name);
  const snapshot = await table.snapshot();
  const cols = snapshot.schema.fields.map((f) => `"${f.name}"`).join(', ');
  return readRows(table, snapshot, { orderBy: cols });
}
