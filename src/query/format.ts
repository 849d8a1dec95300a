/**
 * Renders a QueryResult for people (an aligned text table) and for programs (JSON, NDJSON,
 * CSV). Exactness survives the trip: bigints are written as plain JSON numbers with every
 * digit (not rounded through a double), decimals keep their text, bytes are hex.
 */
import type { QueryColumn, QueryResult } from './results.ts';

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

/** The aligned text table, line by line. */
function* tableLines(result: QueryResult): Generator<string> {
  const headers = result.columns.map((c) => c.name);
  const cells = result.rows.map((row) =>
    result.columns.map((c) => cellText(row[c.name]).replaceAll('\n', '\\n')),
  );
  // A loop, not Math.max(...column): spreading a million cells overflows the call stack.
  const widths = headers.map((h) => h.length);
  for (const r of cells) for (let i = 0; i < r.length; i++) widths[i] = Math.max(widths[i], r[i].length);
  const right = result.columns.map((c) => NUMERIC.test(c.type));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (right[i] ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join(' | ')
      .trimEnd();
  yield line(headers);
  yield widths.map((w) => '-'.repeat(w)).join('-+-');
  for (const r of cells) yield line(r);
  yield `(${result.rows.length} row${result.rows.length === 1 ? '' : 's'})`;
}

/**
 * The output, one line at a time (no trailing newlines): a caller writes large results
 * in pieces instead of building one string, which V8 caps at about 512 MiB.
 */
export function* formatLines(result: QueryResult, format: OutputFormat): Generator<string> {
  switch (format) {
    case 'table':
      yield* tableLines(result);
      return;
    case 'json': {
      if (result.rows.length === 0) {
        yield '[]';
        return;
      }
      yield '[';
      const last = result.rows.length - 1;
      for (let i = 0; i <= last; i++)
        yield i < last ? `${jsonText(result.rows[i])},` : jsonText(result.rows[i]);
      yield ']';
      return;
    }
    case 'ndjson':
      for (const row of result.rows) yield jsonText(row);
      return;
    case 'csv':
      yield result.columns.map((c) => csvField(c.name)).join(',');
      for (const row of result.rows) yield result.columns.map((c) => csvField(row[c.name])).join(',');
      return;
  }
}

export function formatResult(result: QueryResult, format: OutputFormat): string {
  return [...formatLines(result, format)].join('\n');
}

/**
 * formatLines over rows that arrive in chunks: JSON, NDJSON and CSV lines are written as
 * the rows come, so a large result is never held whole; the text table needs every row
 * to size its columns, so it collects them first.
 */
export async function* formatChunks(
  columns: QueryColumn[],
  chunks: AsyncIterable<Record<string, unknown>[]>,
  format: OutputFormat,
): AsyncGenerator<string> {
  switch (format) {
    case 'table': {
      const rows: Record<string, unknown>[] = [];
      for await (const chunk of chunks) for (const row of chunk) rows.push(row);
      yield* tableLines({ columns, rows });
      return;
    }
    case 'json': {
      // Each row is written once the next one (or the end) says whether a comma follows.
      let pending: string | undefined;
      for await (const chunk of chunks) {
        for (const row of chunk) {
          yield pending === undefined ? '[' : `${pending},`;
          pending = jsonText(row);
        }
      }
      if (pending === undefined) yield '[]';
      else {
        yield pending;
        yield ']';
      }
      return;
    }
    case 'ndjson':
      for await (const chunk of chunks) for (const row of chunk) yield jsonText(row);
      return;
    case 'csv':
      yield columns.map((c) => csvField(c.name)).join(',');
      for await (const chunk of chunks)
        for (const row of chunk) yield columns.map((c) => csvField(row[c.name])).join(',');
      return;
  }
}
