/** `tributary table show` and `table history`: what a table is, and what happened to it. */
import type { QueryResult } from '../../../query/results.ts';
import type { DataType } from '../../../table/schema.ts';
import type { DeltaTable, Snapshot } from '../../../table/table.ts';

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

export function summarize(display: string, location: string, snap: Snapshot): TableSummary {
  let bytes = 0;
  let rows: number | null = 0;
  for (const add of snap.files()) {
    bytes += add.size;
    const n = add.stats ? (JSON.parse(add.stats) as { numRecords?: number }).numRecords : undefined;
    rows = rows === null || typeof n !== 'number' ? null : rows + n;
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

function typeText(t: DataType): string {
  if (typeof t === 'string') return t;
  switch (t.type) {
    case 'struct':
      return `struct<${t.fields.map((f) => `${f.name}: ${typeText(f.type)}`).join(', ')}>`;
    case 'array':
      return `array<${typeText(t.elementType)}>`;
    case 'map':
      return `map<${typeText(t.keyType)}, ${typeText(t.valueType)}>`;
  }
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function renderSummary(s: TableSummary): string {
  const width = Math.max(...s.schema.map((c) => c.name.length));
  const props = Object.entries(s.properties).map(([k, v]) => `${k}=${v}`);
  return [
    `table           ${s.table} (${s.location})`,
    `version         ${s.version} at ${s.timestamp}`,
    `protocol        reader ${s.protocol.minReaderVersion}, writer ${s.protocol.minWriterVersion}`,
    'columns',
    ...s.schema.map((c) => `  ${c.name.padEnd(width)}  ${typeText(c.type)}${c.nullable ? '' : ' NOT NULL'}`),
    `partitioned by  ${s.partitionColumns.length ? s.partitionColumns.join(', ') : '(none)'}`,
    `properties      ${props.length ? props.join(', ') : '(none)'}`,
    `files           ${s.files} (${humanBytes(s.bytes)})`,
    `rows            ${s.rows ?? 'unknown (files without statistics)'}`,
  ].join('\n');
}

/** History entries as a result set, rendered like query output. */
export async function historyResult(table: DeltaTable, limit?: number): Promise<QueryResult> {
  const entries = await table.history({ limit });
  return {
    columns: [
      { name: 'version', type: 'BIGINT' },
      { name: 'timestamp', type: 'VARCHAR' },
      { name: 'operation', type: 'VARCHAR' },
      { name: 'parameters', type: 'JSON' },
      { name: 'metrics', type: 'JSON' },
    ],
    rows: entries.map((e) => ({
      version: e.version,
      timestamp: new Date(e.timestamp).toISOString(),
      operation: e.operation,
      parameters: e.operationParameters,
      metrics: e.operationMetrics ?? null,
    })),
  };
}
