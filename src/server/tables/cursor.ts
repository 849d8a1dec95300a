/**
 * The rows endpoint's page cursor: opaque to clients (base64url of JSON), it pins the
 * table version of the first page and holds the sort key of the last row answered, so
 * the next page starts right after it whatever was committed since. A cursor belongs to
 * one query: the table, the filters, the order and the time travel parameters it was
 * made for (a hash of them); given with others it is refused.
 *
 * The keys are DuckDB's VARCHAR text of each sort value (exact for every type that can
 * be ordered by), then the row's data file and its position in the file: together a
 * total order of the snapshot's rows. A cursor is not signed: a forged one can only
 * select rows of the same version that the same request could read anyway.
 */
import { createHash } from 'node:crypto';
import { requestInvalid } from '../http-errors.ts';

export interface Cursor {
  /** The table version every page of the query reads. */
  version: number;
  /** The sort key of the last row answered: one text (or null) per order column, then file, then row. */
  after: Array<string | null>;
}

interface CursorJson {
  v: 1;
  q: string;
  ver: number;
  k: Array<string | null>;
}

/** What a cursor is tied to: everything that decides which rows come in which order. */
export function queryHash(parts: {
  table: string;
  filter?: string[];
  order?: string;
  version?: number;
  timestamp?: string;
}): string {
  const text = JSON.stringify([
    parts.table,
    parts.filter ?? [],
    parts.order ?? '',
    parts.version,
    parts.timestamp,
  ]);
  return createHash('sha256').update(text).digest('base64url').slice(0, 16);
}

export function encodeCursor(cursor: Cursor, hash: string): string {
  const json: CursorJson = { v: 1, q: hash, ver: cursor.version, k: cursor.after };
  return Buffer.from(JSON.stringify(json)).toString('base64url');
}

/** The cursor's content; HTTP_REQUEST_INVALID when it is not one, or is another query's. */
export function decodeCursor(text: string, hash: string, keyCount: number): Cursor {
  let json: CursorJson;
  try {
    json = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw requestInvalid('querystring.cursor', 'not a cursor of this API (pass nextCursor as it came)');
  }
  const ok =
    json !== null &&
    typeof json === 'object' &&
    json.v === 1 &&
    Number.isSafeInteger(json.ver) &&
    json.ver >= 0 &&
    Array.isArray(json.k) &&
    json.k.length === keyCount &&
    json.k.every((k) => k === null || typeof k === 'string') &&
    typeof json.k[keyCount - 1] === 'string' &&
    /^\d{1,18}$/.test(json.k[keyCount - 1]!) &&
    typeof json.k[keyCount - 2] === 'string';
  if (!ok)
    throw requestInvalid('querystring.cursor', 'not a cursor of this API (pass nextCursor as it came)');
  if (json.q !== hash) {
    throw requestInvalid(
      'querystring.cursor',
      'the cursor belongs to another query: give the same table, filter, order, version and timestamp as the request that answered it',
    );
  }
  return { version: json.ver, after: json.k };
}
