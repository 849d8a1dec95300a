/** `tributary table show` and `table history`: what a table is, and what happened to it. */
import type { QueryResult } from '../../../query/results.ts';
import type { DataType } from '../../../table/schema.ts';
import type { TableSummary } from '../../../table/summary.ts';
import type { DeltaTable } from '../../../table/table.ts';

export { summarize, type TableSummary } from '../../../table/summary.ts';

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
