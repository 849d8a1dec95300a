/**
 * Renders a QueryResult for people (an aligned text table) and for programs (JSON, NDJSON,
 * CSV). Exactness survives the trip: bigints are written as plain JSON numbers with every
 * digit (not rounded through a double), decimals keep their text, bytes are hex.
 */
import type { QueryResult } from './results.ts';

export type OutputFormat = 'table' | 'json' | 'ndjson' | 'csv';
export const OUTPUT_FORMATS: OutputFormat[] = ['table', 'json', 'ndjson', 'csv'];

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** JSON text of a value; bigint digits are kept exact, non-finite numbers become strings. */
export function jsonText(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : JSON.stringify(String(value));
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
  }
  if (value instanceof Uint8Array) return JSON.stringify(hex(value));
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>);
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(',')}}`;
}

/** A value as display text: strings as they are, nested values as JSON, null as NULL. */
function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return `\\x${hex(value)}`;
  if (typeof value === 'object') return jsonText(value);
  return String(value);
}

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : value instanceof Uint8Array ? hex(value) : cellText(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w*INT|FLOAT|DOUBLE|DECIMAL)/;

function renderTable(result: QueryResult): string {
  const headers = result.columns.map((c) => c.name);
  const cells = result.rows.map((row) =>
    result.columns.map((c) => cellText(row[c.name]).replaceAll('\n', '\\n')),
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const right = result.columns.map((c) => NUMERIC.test(c.type));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (right[i] ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join(' | ')
      .trimEnd();
  const out = [line(headers), widths.map((w) => '-'.repeat(w)).join('-+-'), ...cells.map(line)];
  out.push(`(${result.rows.length} row${result.rows.length === 1 ? '' : 's'})`);
  return out.join('\n');
}

export function formatResult(result: QueryResult, format: OutputFormat): string {
  switch (format) {
    case 'table':
      return renderTable(result);
    case 'json':
      return result.rows.length === 0 ? '[]' : `[\n${result.rows.map(jsonText).join(',\n')}\n]`;
    case 'ndjson':
      return result.rows.map(jsonText).join('\n');
    case 'csv':
      return [
        result.columns.map((c) => csvField(c.name)).join(','),
        ...result.rows.map((row) => result.columns.map((c) => csvField(row[c.name])).join(',')),
      ].join('\n');
  }
}
