/**
 * Record batches of a Kafka fetch response → our LogRecord[] or ValueBatch, cut to the
 * requested offset and bounds. Pure functions: no client, no I/O.
 *
 * Kafka returns whole record batches (protocol "Record Batch" format, magic 2), so the
 * first batch may start before the requested offset (a compressed batch is one unit)
 * and the last may run past what the caller wants; both ends are trimmed here.
 */
import type { KafkaRecord, RecordsBatch } from '@platformatic/kafka';
import type { Headers, LogRecord } from '../log.ts';

/** Batch attribute bits (Kafka protocol, RecordBatch `attributes`). */
const TIMESTAMP_LOG_APPEND_TIME = 0x08;
const IS_CONTROL_BATCH = 0x20;
const NEWLINE = 0x0a;

export interface Bounds {
  offset: number;
  maxRecords: number;
  maxBytes: number;
}

type Visit = (offset: number, timestamp: number, record: KafkaRecord) => boolean;

/**
 * Calls `visit` for each data record at or after `bounds.offset`, in offset order, until
 * it returns false. Returns the offset just past the last record the broker sent, so a
 * reader can step over control batches (transaction markers) that carry no data.
 */
function scan(batches: RecordsBatch[] | undefined, offset: number, visit: Visit): number {
  let scannedTo = offset;
  for (const batch of batches ?? []) {
    const first = Number(batch.firstOffset);
    const batchEnd = first + batch.lastOffsetDelta + 1;
    if ((batch.attributes & IS_CONTROL_BATCH) === 0) {
      const logAppend = (batch.attributes & TIMESTAMP_LOG_APPEND_TIME) !== 0;
      const base = Number(batch.firstTimestamp);
      for (const record of batch.records) {
        const at = first + record.offsetDelta;
        if (at < offset) continue;
        const ts = logAppend ? Number(batch.maxTimestamp) : base + Number(record.timestampDelta);
        if (!visit(at, ts, record)) return at + 1;
      }
    }
    if (batchEnd > scannedTo) scannedTo = batchEnd;
  }
  return scannedTo;
}

function toHeaders(pairs: KafkaRecord['headers']): Headers {
  const headers: Headers = {};
  for (const [k, v] of pairs) {
    if (k === null) continue;
    headers[k.toString('utf8')] = v ?? new Uint8Array(0);
  }
  return headers;
}

export function collectRecords(
  batches: RecordsBatch[] | undefined,
  bounds: Bounds,
): { records: LogRecord[]; nextOffset: number } {
  const records: LogRecord[] = [];
  let bytes = 0;
  const scannedTo = scan(batches, bounds.offset, (offset, timestamp, r) => {
    records.push({
      offset,
      timestamp,
      key: r.key ?? null,
      value: r.value ?? null,
      headers: toHeaders(r.headers),
    });
    bytes += r.value?.length ?? 0;
    // At least one record, then stop once the bounds are reached (Log.FetchOptions).
    return records.length < bounds.maxRecords && bytes < bounds.maxBytes;
  });
  const nextOffset = records.length > 0 ? records[records.length - 1].offset + 1 : scannedTo;
  return { records, nextOffset };
}

export interface CollectedValues {
  count: number;
  values: Uint8Array;
  offsets: Float64Array;
  timestamps: Float64Array;
  ends: Uint32Array;
  nextOffset: number;
}

/** Values as one buffer, each followed by a newline, with their ends (see ValueBatch in log.ts). */
export function collectValues(batches: RecordsBatch[] | undefined, bounds: Bounds): CollectedValues {
  const picked: (Buffer | null)[] = [];
  const offsets: number[] = [];
  const timestamps: number[] = [];
  let bytes = 0;
  const scannedTo = scan(batches, bounds.offset, (offset, timestamp, r) => {
    const value = r.value ?? null;
    picked.push(value);
    offsets.push(offset);
    timestamps.push(timestamp);
    bytes += value?.length ?? 0;
    return picked.length < bounds.maxRecords && bytes < bounds.maxBytes;
  });
  const count = picked.length;
  const values = new Uint8Array(bytes + count);
  const ends = new Uint32Array(count);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const v = picked[i];
    if (v !== null) {
      values.set(v, pos);
      pos += v.length;
    }
    ends[i] = pos;
    values[pos++] = NEWLINE;
  }
  return {
    count,
    values,
    offsets: Float64Array.from(offsets),
    timestamps: Float64Array.from(timestamps),
    ends,
    nextOffset: count > 0 ? offsets[count - 1] + 1 : scannedTo,
  };
}
