/**
 * Batch visitors that turn validated batches into fetch results: LogRecord objects for
 * `fetch`, and for `fetchValues` one contiguous newline-separated buffer with parallel
 * typed arrays, filled without creating an object per record.
 */
import type { LogRecord } from '../log.ts';
import { decodeRecord, firstRecord, RECORD_HEADER } from './batch-format.ts';
import type { BatchVisitor } from './segment-scan.ts';

const EMPTY = Buffer.alloc(0);

export interface Limits {
  from: number;
  maxRecords: number;
  maxBytes: number;
}

/** Collects LogRecords (sharing the read buffers) from `limits.from` on. */
export function recordCollector(limits: Limits): {
  records: LogRecord[];
  next: () => number;
  visit: BatchVisitor;
} {
  const records: LogRecord[] = [];
  let bytes = 0;
  let next = limits.from;
  const visit: BatchVisitor = (buf, pos, batch) => {
    let p = firstRecord(pos);
    for (let k = 0; k < batch.count; k++) {
      const offset = batch.baseOffset + k;
      if (offset < limits.from) {
        p = skipRecord(buf, p);
        continue;
      }
      p = decodeRecord(buf, p, offset, records);
      next = offset + 1;
      bytes += records[records.length - 1].value?.length ?? 0;
      if (records.length >= limits.maxRecords || bytes >= limits.maxBytes) return false;
    }
    return true;
  };
  return { records, next: () => next, visit };
}

function skipRecord(buf: Buffer, p: number): number {
  const keyLen = buf.readInt32LE(p + 8);
  const valueLen = buf.readInt32LE(p + 12);
  return p + RECORD_HEADER + Math.max(keyLen, 0) + Math.max(valueLen, 0) + buf.readUInt32LE(p + 16);
}

export class ValueCollector {
  count = 0;
  length = 0;
  values: Buffer;
  offsets: Float64Array;
  timestamps: Float64Array;
  ends: Uint32Array;
  private readonly limits: Limits;
  readonly visit: BatchVisitor;

  private readonly initialBytes: number;

  /** Nothing is allocated until the first value arrives: an empty long-poll attempt costs nothing. */
  constructor(limits: Limits, initialBytes: number) {
    this.limits = limits;
    this.initialBytes = initialBytes;
    this.values = EMPTY;
    this.offsets = new Float64Array(0);
    this.timestamps = new Float64Array(0);
    this.ends = new Uint32Array(0);
    this.visit = (buf, pos, batch) => this.take(buf, pos, batch.baseOffset, batch.count);
  }

  get next(): number {
    return this.count === 0 ? this.limits.from : this.offsets[this.count - 1] + 1;
  }

  private take(buf: Buffer, pos: number, baseOffset: number, count: number): boolean {
    const { from, maxRecords, maxBytes } = this.limits;
    let p = firstRecord(pos);
    for (let k = 0; k < count; k++) {
      const timestamp = buf.readDoubleLE(p);
      const keyLen = buf.readInt32LE(p + 8);
      const valueLen = buf.readInt32LE(p + 12);
      const vStart = p + RECORD_HEADER + Math.max(keyLen, 0);
      const vLen = Math.max(valueLen, 0);
      p = vStart + vLen + buf.readUInt32LE(p + 16);
      const offset = baseOffset + k;
      if (offset < from) continue;
      if (this.count === this.offsets.length) this.growArrays();
      if (this.length + vLen + 1 > this.values.length) this.growValues(this.length + vLen + 1);
      buf.copy(this.values, this.length, vStart, vStart + vLen);
      this.length += vLen;
      this.ends[this.count] = this.length;
      this.values[this.length++] = 0x0a;
      this.offsets[this.count] = offset;
      this.timestamps[this.count] = timestamp;
      this.count++;
      if (this.count >= maxRecords || this.length - this.count >= maxBytes) return false;
    }
    return true;
  }

  private growArrays(): void {
    const n = Math.max(this.offsets.length * 2, Math.min(this.limits.maxRecords, 65_536));
    const o = new Float64Array(n);
    o.set(this.offsets);
    this.offsets = o;
    const t = new Float64Array(n);
    t.set(this.timestamps);
    this.timestamps = t;
    const e = new Uint32Array(n);
    e.set(this.ends);
    this.ends = e;
  }

  private growValues(min: number): void {
    const v = Buffer.allocUnsafe(Math.max(min, this.values.length * 2, this.initialBytes));
    this.values.copy(v, 0, 0, this.length);
    this.values = v;
  }
}
