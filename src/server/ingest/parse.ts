/**
 * An ingest request's body as records: NDJSON (one JSON value a line) or a JSON array
 * (one value an element). Each record's value is its JSON text exactly as sent (bytes,
 * digits and key order unchanged, surrounding spaces dropped). With `envelope`, each
 * line or element is instead `{"value": ..., "key": ..., "headers": {...},
 * "partition": n, "timestamp": ms}` (only `value` required), and the record's value is
 * the text of its `value` member.
 *
 * Every record is checked; the problems come back by position (`index` from 0 among the
 * records, and for NDJSON the `line` from 1), so one request says everything wrong with
 * a batch at once.
 */
import { isUtf8 } from 'node:buffer';
import type { Headers } from '../../log/log.ts';
import { arrayElements, isSpace, memberValue } from './json-scan.ts';

export type BodyFormat = 'ndjson' | 'array';

export interface IngestRecord {
  value: Uint8Array;
  key?: Uint8Array | null;
  headers?: Headers;
  partition?: number;
  timestamp?: number;
}

export interface RecordProblem {
  /** The record's position among the body's records, from 0. */
  index: number;
  /** NDJSON: its line, from 1. */
  line?: number;
  message: string;
}

export interface ParsedBody {
  records: IngestRecord[];
  problems: RecordProblem[];
  /** Problems beyond those listed (the list stops at `maxProblems`). */
  moreProblems: number;
}

export interface ParseOptions {
  format: BodyFormat;
  envelope: boolean;
  /** The topic's partitions (an envelope's `partition` must be one of them). */
  partitions: number;
  /** At most this many problems listed (default 100); the rest are counted. */
  maxProblems?: number;
}

/** Header names the server writes itself (idempotency keys). */
export const RESERVED_HEADER_PREFIX = 'tributary-';

const ENVELOPE_MEMBERS = new Set(['value', 'key', 'headers', 'partition', 'timestamp']);
const encoder = new TextEncoder();

/** What JSON.parse said about a record's text. */
function jsonError(err: unknown): string {
  return `not JSON (${(err as Error).message})`;
}

class Collector {
  readonly records: IngestRecord[] = [];
  readonly problems: RecordProblem[] = [];
  moreProblems = 0;
  private readonly max: number;
  private readonly opts: ParseOptions;
  /** Set when the whole body is valid UTF-8 (then no record needs checking). */
  private readonly utf8: boolean;
  private readonly decoder = new TextDecoder();

  constructor(opts: ParseOptions, body: Uint8Array) {
    this.opts = opts;
    this.max = opts.maxProblems ?? 100;
    this.utf8 = isUtf8(body);
  }

  problem(index: number, line: number | undefined, message: string): void {
    if (this.problems.length >= this.max) {
      this.moreProblems++;
      return;
    }
    this.problems.push({ index, ...(line !== undefined && { line }), message });
  }

  /** One record's text, buf[start, end) with no surrounding spaces. */
  add(buf: Uint8Array, start: number, end: number, index: number, line?: number): void {
    const bytes = buf.subarray(start, end);
    if (!this.utf8 && !isUtf8(bytes)) {
      this.problem(index, line, 'not UTF-8 text');
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.decoder.decode(bytes));
    } catch (err) {
      this.problem(index, line, jsonError(err));
      return;
    }
    if (!this.opts.envelope) {
      this.records.push({ value: bytes });
      return;
    }
    const rec = this.envelope(parsed, buf, start, end);
    if (typeof rec === 'string') this.problem(index, line, rec);
    else this.records.push(rec);
  }

  /** An envelope's record, or what is wrong with it. */
  private envelope(parsed: unknown, buf: Uint8Array, start: number, end: number): IngestRecord | string {
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return 'with envelope=true each record must be an object {"value": ..., "key": ..., "headers": {...}, "partition": n, "timestamp": ms}';
    }
    const o = parsed as Record<string, unknown>;
    for (const name of Object.keys(o)) {
      if (!ENVELOPE_MEMBERS.has(name)) {
        return `unknown member "${name}" (an envelope has value, key, headers, partition, timestamp)`;
      }
    }
    const at = memberValue(buf, start, end, 'value');
    if (at === undefined) return 'the envelope has no "value"';
    const rec: IngestRecord = { value: buf.subarray(at[0], at[1]) };
    const key = o.key;
    if (typeof key === 'string') rec.key = encoder.encode(key);
    else if (key !== undefined && key !== null) rec.key = encoder.encode(JSON.stringify(key));
    if (o.headers !== undefined && o.headers !== null) {
      if (typeof o.headers !== 'object' || Array.isArray(o.headers)) {
        return '"headers" must be an object of strings';
      }
      const headers: Headers = {};
      for (const [name, v] of Object.entries(o.headers as Record<string, unknown>)) {
        if (typeof v !== 'string') return `header "${name}" must be a string`;
        if (name.toLowerCase().startsWith(RESERVED_HEADER_PREFIX)) {
          return `header "${name}": names starting with ${RESERVED_HEADER_PREFIX} are the server's`;
        }
        headers[name] = encoder.encode(v);
      }
      rec.headers = headers;
    }
    if (o.partition !== undefined && o.partition !== null) {
      const p = o.partition;
      if (!Number.isInteger(p) || (p as number) < 0 || (p as number) >= this.opts.partitions) {
        return `"partition" must be a whole number from 0 to ${this.opts.partitions - 1} (the topic has ${this.opts.partitions})`;
      }
      rec.partition = p as number;
    }
    if (o.timestamp !== undefined && o.timestamp !== null) {
      const t = o.timestamp;
      if (!Number.isSafeInteger(t) || (t as number) < 0) {
        return '"timestamp" must be milliseconds since the epoch (a whole number ≥ 0)';
      }
      rec.timestamp = t as number;
    }
    return rec;
  }
}

function parseNdjson(buf: Uint8Array, c: Collector): void {
  let line = 0;
  let index = 0;
  let pos = 0;
  const n = buf.length;
  while (pos < n) {
    line++;
    let nl = buf.indexOf(0x0a, pos);
    if (nl === -1) nl = n;
    let s = pos;
    let e = nl;
    while (s < e && isSpace(buf[s])) s++;
    while (e > s && isSpace(buf[e - 1])) e--;
    // Blank lines (a trailing newline among them) hold no record.
    if (e > s) c.add(buf, s, e, index++, line);
    pos = nl + 1;
  }
}

function parseArray(buf: Uint8Array, c: Collector): void {
  const scan = arrayElements(buf);
  scan.elements.forEach(([s, e], index) => {
    c.add(buf, s, e, index);
  });
  if (scan.error) {
    c.problem(scan.elements.length, undefined, `${scan.error.message} (byte ${scan.error.at} of the body)`);
  }
}

export function parseBody(body: Uint8Array, opts: ParseOptions): ParsedBody {
  // A byte order mark some editors write is not part of the first record.
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) body = body.subarray(3);
  const c = new Collector(opts, body);
  if (opts.format === 'ndjson') parseNdjson(body, c);
  else parseArray(body, c);
  return { records: c.records, problems: c.problems, moreProblems: c.moreProblems };
}
