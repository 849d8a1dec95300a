/**
 * Change events of a captured PostgreSQL table, and the two ways they are written to a
 * topic. Both capture modes (polling, logical replication) produce `ChangeEvent`s whose
 * column values are PostgreSQL's text form with the column's type OID, and share this
 * encoding, so a topic holds the same bytes whichever mode filled it.
 *
 * - `flat` (the default): the row as a JSON object (the seed's message: one key per
 *   column) plus Debezium's "new record state" metadata fields `__op`, `__pos`, `__seq`,
 *   `__lsn`, `__txid`, `__commit_ts`, `__snapshot`, `__deleted`. A delete carries the
 *   before image (all columns with REPLICA IDENTITY FULL).
 * - `envelope`: Debezium's change-event envelope `{before, after, op, ts_ms, source}`.
 *
 * Position: `(pos, seq)` orders the changes of one key and is unique per change of the
 * table. Logical replication: `pos` is the commit LSN of the change's transaction and
 * `seq` its index in the transaction (snapshot rows: the slot's consistent point − 1 —
 * a streamed commit may start exactly at the consistent point and must sort after every
 * snapshot row — and the row's index in the snapshot). Polling: `pos` is the cursor column's value in epoch
 * microseconds and `seq` 0. Sinks remove replayed changes by position and keep the
 * newest change of a key by it.
 */

/** Debezium's operation codes: create, update, delete, read (a snapshot row). */
export type ChangeOp = 'c' | 'u' | 'd' | 'r';

export type CaptureFormat = 'flat' | 'envelope';

/** A column of a captured table, as PostgreSQL describes it. */
export interface ChangeColumn {
  name: string;
  /** The type's OID (pg_type.oid): how the text value becomes JSON. */
  typeOid: number;
}

/** A row image: one text value (PostgreSQL's output form) or null per column. */
export type RowImage = ReadonlyArray<string | null>;

export interface ChangeEvent {
  op: ChangeOp;
  schema: string;
  table: string;
  /** The table's columns when the change was made (a column added later is absent). */
  columns: readonly ChangeColumn[];
  /** The key columns' names (the primary key, or what the capture is told). */
  key: readonly string[];
  /** Null for an insert, a snapshot row and every polled row. */
  before: RowImage | null;
  /** Null for a delete. */
  after: RowImage | null;
  pos: bigint;
  seq: number;
  /** Logical replication: the transaction id. */
  txid?: number;
  /** Logical replication: the commit LSN as PostgreSQL prints it (`16/B374D848`). */
  lsn?: string;
  /** When the change was committed (ms since the epoch); polling: the cursor column's value (a row read again carries the same). */
  commitTime: number;
  snapshot: boolean;
}

/** `X/Y` (PostgreSQL's LSN text) as a number; `lsnText` the other way. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m) throw new Error(`not an LSN: '${text}' (expected hex 'X/Y', e.g. '16/B374D848')`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function lsnText(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

// Type OIDs (pg_type.oid, fixed for built-in types).
const BOOL = 16;
const INT8 = 20;
const INT2 = 21;
const INT4 = 23;
const OID = 26;
const FLOAT4 = 700;
const FLOAT8 = 701;
const NUMERIC = 1700;
const JSON_OID = 114;
const JSONB = 3802;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;

const NUMBER_TEXT = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/**
 * A column's text value as a JSON fragment. Numbers keep their digits exactly (a
 * `numeric` 350.00 is written 350.00, never through a double); NaN and infinities, which
 * JSON has no number for, are strings. Timestamps become ISO 8601 with a `T`: a
 * `timestamptz` in UTC with `Z` (the capture's session runs in UTC), a `timestamp`
 * without an offset (UTC by the contract's reading). json/jsonb are embedded as they are.
 */
export function jsonValue(typeOid: number, text: string | null): string {
  if (text === null) return 'null';
  switch (typeOid) {
    case BOOL:
      return text === 't' || text === 'true' ? 'true' : 'false';
    case INT2:
    case INT4:
    case INT8:
    case OID:
    case FLOAT4:
    case FLOAT8:
    case NUMERIC:
      return NUMBER_TEXT.test(text) ? text : JSON.stringify(text);
    case JSON_OID:
    case JSONB:
      return text;
    case TIMESTAMP:
      return JSON.stringify(isoTimestamp(text, false));
    case TIMESTAMPTZ:
      return JSON.stringify(isoTimestamp(text, true));
    default:
      return JSON.stringify(text);
  }
}

/**
 * PostgreSQL's ISO output (`2025-11-18 10:00:00.123+00`, `2025-11-18 10:00:00`) as
 * `2025-11-18T10:00:00.123Z` / `2025-11-18T10:00:00`. An offset other than UTC is kept
 * as `±HH:MM`. `infinity` and BC dates are left as PostgreSQL wrote them.
 */
export function isoTimestamp(text: string, withZone: boolean): string {
  const m = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d(?::?\d\d)?(?::\d\d)?)?$/.exec(text);
  if (!m) return text;
  const [, date, time, zone] = m;
  if (!withZone || zone === undefined) return `${date}T${time}`;
  if (/^[+-]00(:?00)?$/.test(zone)) return `${date}T${time}Z`;
  const z =
    zone.length === 3 ? `${zone}:00` : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  return `${date}T${time}${z}`;
}

/** A row image as a JSON object's members (`"a":1,"b":"x"`), without the braces. */
function members(columns: readonly ChangeColumn[], row: RowImage): string {
  const parts: string[] = [];
  for (let i = 0; i < columns.length; i++) {
    parts.push(`${JSON.stringify(columns[i].name)}:${jsonValue(columns[i].typeOid, row[i] ?? null)}`);
  }
  return parts.join(',');
}

function rowObject(columns: readonly ChangeColumn[], row: RowImage | null): string {
  return row === null ? 'null' : `{${members(columns, row)}}`;
}

/** The record key: the key columns of the row (after, or before for a delete) as a JSON object, as Debezium keys. */
export function changeKey(e: ChangeEvent): string {
  const row = e.after ?? e.before;
  if (row === null) throw new Error('a change event without a row image');
  const parts: string[] = [];
  for (const k of e.key) {
    const i = e.columns.findIndex((c) => c.name === k);
    if (i < 0) throw new Error(`key column '${k}' is not a column of ${e.schema}.${e.table}`);
    parts.push(`${JSON.stringify(k)}:${jsonValue(e.columns[i].typeOid, row[i] ?? null)}`);
  }
  return `{${parts.join(',')}}`;
}

/** The record value in `format`. `now` is the capture's time (envelope `ts_ms`). */
export function encodeChange(e: ChangeEvent, format: CaptureFormat, now: number): string {
  const commitTs = new Date(e.commitTime).toISOString();
  if (format === 'flat') {
    const row = e.after ?? e.before;
    if (row === null) throw new Error('a change event without a row image');
    const meta =
      `"__op":"${e.op}","__pos":${e.pos},"__seq":${e.seq},` +
      `"__lsn":${e.lsn === undefined ? 'null' : JSON.stringify(e.lsn)},` +
      `"__txid":${e.txid ?? 'null'},"__commit_ts":"${commitTs}",` +
      `"__snapshot":${e.snapshot},"__deleted":${e.op === 'd'}`;
    const cols = members(e.columns, row);
    return cols === '' ? `{${meta}}` : `{${cols},${meta}}`;
  }
  const source =
    `{"connector":"tributary","schema":${JSON.stringify(e.schema)},"table":${JSON.stringify(e.table)},` +
    `"pos":${e.pos},"seq":${e.seq},"lsn":${e.lsn === undefined ? 'null' : JSON.stringify(e.lsn)},` +
    `"txId":${e.txid ?? 'null'},"ts_ms":${e.commitTime},"snapshot":"${e.snapshot}"}`;
  return (
    `{"before":${rowObject(e.columns, e.before)},"after":${rowObject(e.columns, e.after)},` +
    `"op":"${e.op}","ts_ms":${now},"source":${source}}`
  );
}
