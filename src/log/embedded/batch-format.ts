/**
 * The on-disk record batch of the embedded log (docs/log.md, "On-disk format").
 *
 * A segment file is a sequence of batches; one produce call writes one or more whole
 * batches with one write. Like Kafka's record batch, the checksum covers the whole batch,
 * so a reader validates ~256 KiB with one CRC call instead of one per record, and a
 * batch that was torn by a crash fails as a unit.
 *
 *   batch  := length u32 | crc u32 | body               (little-endian)
 *   body   := baseOffset f64 | count u32 | maxTimestamp f64 | record{count}
 *   record := timestamp f64 | keyLen i32 | valueLen i32 | headersLen u32 | key | value | headers
 *   headers:= (nameLen u16 | name utf-8 | valueLen u32 | value)*
 *
 * `length` counts the body; `crc` is CRC-32 (zlib) of the body. keyLen / valueLen of -1
 * mean null. Offsets are stored as doubles: exact up to 2^53.
 */
import { crc32 } from 'node:zlib';
import type { Headers, LogRecord } from '../log.ts';

export const BATCH_PREFIX = 8;
export const BODY_HEADER = 20;
export const RECORD_HEADER = 20;
/** A batch larger than this is treated as corrupt framing (a record is at most ~64 MiB). */
export const MAX_BATCH_BYTES = 128 * 1024 * 1024;
/** Produce calls are cut into batches of about this size, so a seek reads at most one. */
export const TARGET_BATCH_BYTES = 256 * 1024;

/** A record to append (ProduceRecord fits); a missing timestamp takes the batch default. */
export interface EncodableRecord {
  key?: Uint8Array | null;
  value: Uint8Array | null;
  headers?: Headers;
  timestamp?: number;
}

function headersSize(headers: Headers | undefined): number {
  if (headers === undefined) return 0;
  let n = 0;
  for (const name in headers) n += 6 + Buffer.byteLength(name) + headers[name].length;
  return n;
}

/** Bytes one record takes inside a batch. */
export function recordSize(r: EncodableRecord): number {
  return RECORD_HEADER + (r.key?.length ?? 0) + (r.value?.length ?? 0) + headersSize(r.headers);
}

/**
 * Encodes `records[from, to)` as one batch starting at `baseOffset` into `out` at `pos`;
 * `bodyBytes` is the sum of their recordSize plus BODY_HEADER. Returns the end position.
 * Records without a timestamp get `defaultTimestamp`.
 */
export function encodeBatch(
  out: Buffer,
  pos: number,
  records: EncodableRecord[],
  from: number,
  to: number,
  baseOffset: number,
  bodyBytes: number,
  defaultTimestamp: number,
): number {
  const body = pos + BATCH_PREFIX;
  let p = body + BODY_HEADER;
  let maxTs = -Infinity;
  for (let i = from; i < to; i++) {
    const r = records[i];
    const ts = r.timestamp ?? defaultTimestamp;
    if (ts > maxTs) maxTs = ts;
    out.writeDoubleLE(ts, p);
    const key = r.key ?? null;
    const value = r.value;
    out.writeInt32LE(key === null ? -1 : key.length, p + 8);
    out.writeInt32LE(value === null ? -1 : value.length, p + 12);
    const hBytes = headersSize(r.headers);
    out.writeUInt32LE(hBytes, p + 16);
    p += RECORD_HEADER;
    if (key !== null) {
      out.set(key, p);
      p += key.length;
    }
    if (value !== null) {
      out.set(value, p);
      p += value.length;
    }
    if (hBytes > 0) {
      for (const name in r.headers) {
        const hv = r.headers[name];
        const nameLen = out.write(name, p + 2, 'utf8');
        out.writeUInt16LE(nameLen, p);
        p += 2 + nameLen;
        out.writeUInt32LE(hv.length, p);
        out.set(hv, p + 4);
        p += 4 + hv.length;
      }
    }
  }
  out.writeDoubleLE(baseOffset, body);
  out.writeUInt32LE(to - from, body + 8);
  out.writeDoubleLE(maxTs, body + 12);
  out.writeUInt32LE(bodyBytes, pos);
  out.writeUInt32LE(crc32(out.subarray(body, body + bodyBytes)), pos + 4);
  if (p !== body + bodyBytes) throw new Error(`batch encoder size mismatch: ${p - body} != ${bodyBytes}`);
  return p;
}

/** What a scan found at one position of a segment buffer. */
export type BatchCheck =
  /** A whole batch with a valid checksum; `end` is the position after it. */
  | { kind: 'ok'; baseOffset: number; count: number; maxTimestamp: number; end: number }
  /** The buffer ends before the batch does (more may be on disk, or being written). */
  | { kind: 'short'; needed: number }
  /** Framing or checksum is wrong. */
  | { kind: 'bad'; reason: string };

/** Checks the batch at `pos` of `buf[0, limit)`. */
export function checkBatch(buf: Buffer, pos: number, limit: number, verifyCrc = true): BatchCheck {
  if (limit - pos < BATCH_PREFIX + BODY_HEADER) return { kind: 'short', needed: BATCH_PREFIX + BODY_HEADER };
  const len = buf.readUInt32LE(pos);
  if (len < BODY_HEADER || len > MAX_BATCH_BYTES) return { kind: 'bad', reason: `batch length ${len}` };
  const end = pos + BATCH_PREFIX + len;
  if (end > limit) return { kind: 'short', needed: BATCH_PREFIX + len };
  const body = pos + BATCH_PREFIX;
  if (verifyCrc && crc32(buf.subarray(body, end)) !== buf.readUInt32LE(pos + 4)) {
    return { kind: 'bad', reason: 'checksum mismatch' };
  }
  const count = buf.readUInt32LE(body + 8);
  if (count === 0 || count * RECORD_HEADER > len - BODY_HEADER)
    return { kind: 'bad', reason: `record count ${count}` };
  return {
    kind: 'ok',
    baseOffset: buf.readDoubleLE(body),
    count,
    maxTimestamp: buf.readDoubleLE(body + 12),
    end,
  };
}

/**
 * Looks for any valid batch after a bad one, to tell corruption in the middle of a
 * segment (valid data follows: report it) from a torn tail (nothing valid follows:
 * the end of the data). Only batches whose base offset is plausible count.
 */
export function validBatchFollows(buf: Buffer, from: number, limit: number, minOffset: number): boolean {
  for (let p = from; p + BATCH_PREFIX + BODY_HEADER <= limit; p++) {
    const base = buf.readDoubleLE(p + BATCH_PREFIX);
    if (!Number.isInteger(base) || base < minOffset || base > minOffset + limit) continue;
    if (checkBatch(buf, p, limit).kind === 'ok') return true;
  }
  return false;
}

/** Position of the first record of the batch at `pos`. */
export function firstRecord(pos: number): number {
  return pos + BATCH_PREFIX + BODY_HEADER;
}

/** Decodes the record at `p` into a LogRecord whose buffers share `buf`; returns the next position. */
export function decodeRecord(buf: Buffer, p: number, offset: number, into: LogRecord[]): number {
  const timestamp = buf.readDoubleLE(p);
  const keyLen = buf.readInt32LE(p + 8);
  const valueLen = buf.readInt32LE(p + 12);
  const hBytes = buf.readUInt32LE(p + 16);
  let q = p + RECORD_HEADER;
  const key = keyLen < 0 ? null : buf.subarray(q, q + keyLen);
  q += Math.max(keyLen, 0);
  const value = valueLen < 0 ? null : buf.subarray(q, q + valueLen);
  q += Math.max(valueLen, 0);
  const headers: Headers = {};
  const hEnd = q + hBytes;
  while (q < hEnd) {
    const nameLen = buf.readUInt16LE(q);
    const name = buf.toString('utf8', q + 2, q + 2 + nameLen);
    q += 2 + nameLen;
    const vLen = buf.readUInt32LE(q);
    headers[name] = buf.subarray(q + 4, q + 4 + vLen);
    q += 4 + vLen;
  }
  into.push({ offset, timestamp, key, value, headers });
  return hEnd;
}
