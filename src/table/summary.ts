/**
 * What a table is at one snapshot, in a few numbers: schema, partitioning, properties,
 * files, bytes and rows (from the files' statistics). `tributary table show` prints it;
 * the HTTP API answers it.
 */
import type { DataType } from './schema.ts';
import type { Snapshot } from './snapshot.ts';

export interface TableSummary {
  table: string;
  location: string;
  version: number;
  timestamp: string;
  schema: Array<{ name: string; type: DataType; nullable: boolean }>;
  partitionColumns: string[];
  properties: Record<string, string>;
  files: number;
  bytes: number;
  /** From the files' statistics; null when some file has none. */
  rows: number | null;
  protocol: { minReaderVersion: number; minWriterVersion: number };
}

/** A file's row count from its statistics, or undefined when it has none. */
export function fileRows(stats: string | null | undefined): number | undefined {
  if (!stats) return undefined;
  const n = (JSON.parse(stats) as { numRecords?: unknown }).numRecords;
  return typeof n === 'number' ? n : undefined;
}

export function summarize(display: string, location: string, snap: Snapshot): TableSummary {
  let bytes = 0;
  let rows: number | null = 0;
  for (const add of snap.files()) {
    bytes += add.size;
    const n = fileRows(add.stats);
    rows = rows === null || n === undefined ? null : rows + n;
  }
  return {
    table: display,
    location,
    version: snap.version,
    timestamp: new Date(snap.timestamp).toISOString(),
    schema: snap.schema.fields.map((f) => ({ name: f.name, type: f.type, nullable: f.nullable })),
    partitionColumns: snap.partitionColumns,
    properties: snap.metadata.configuration ?? {},
    files: snap.files().length,
    bytes,
    rows,
    protocol: {
      minReaderVersion: snap.protocol.minReaderVersion,
      minWriterVersion: snap.protocol.minWriterVersion,
    },
  };
}
