/**
 * Record batches of a Kafka fetch response → our LogRecord[] or ValueBatch, cut to the
 * requested offset and bounds. Pure functions: no client, no I/O.
 *
 * Kafka returns whole record batches (protocol "Record Batch" format, magic 2), so the
 * first batch may start before the requested offset (a compressed batch is one unit)
 * and the last may run past what the caller wants; both ends are trimmed here.
 *
 * Fetches are read_committed (fetcher.ts): the broker sends nothing past the last stable
 * offset, but it does send the records of aborted transactions, with the list of those
 * transactions (producer id, first offset) overlapping the response. They are dropped
 * here as Kafka's own consumer does: from an aborted transaction's first offset, that
 * producer's transactional batches are skipped until its abort marker (a control batch).
 * Control batches carry no data and are always skipped.
 */
import type { KafkaRecord, RecordsBatch } from '@platformatic/kafka';
import type { Headers, LogRecord } from '../log.ts';

/** Batch attribute bits (Kafka protocol, RecordBatch `attributes`). */
const TIMESTAMP_LOG_APPEND_TIME = 0x08;
const IS_TRANSACTIONAL = 0x10;
const IS_CONTROL_BATCH = 0x20;
/** Control record key: version (int16) then type (int16), 0 = ABORT, 1 = COMMIT. */
const ABORT_MARKER = 0;
const NEWLINE = 0x0a;

/** An aborted transaction overlapping a fetch response (Fetch response `aborted_transactions`). */
export interface AbortedTxn {
  producerId: bigint;
  firstOffset: bigint;
}

export interface Bounds {
  offset: number;
  maxRecords: number;
  maxBytes: number;
}

type Visit = (offset: number, timestamp: number, record: KafkaRecord) => boolean;

/**
 * Calls `visit` for each committed data record at or after `offset`, in offset order,
 * until it returns false. Returns the offset to read next: past the last record visited
 * when `visit` stopped, else past the last batch the broker sent, so a reader steps over
 * control batches (transaction markers) and aborted records, which carry no data for it.
 */
function scan(
  batches: RecordsBatch[] | undefined,
  offset: number,
  aborted: readonly AbortedTxn[],
  visit: Visit,
): number {
  let scannedTo = offset;
  const pending =
    aborted.length < 2 ? aborted : [...aborted].sort((a, b) => Number(a.firstOffset - b.firstOffset));
  let nextAborted = 0;
  const abortedProducers = new Set<bigint>();
  for (const batch of batches ?? []) {
    const first = Number(batch.firstOffset);
    const batchEnd = first + batch.lastOffsetDelta + 1;
    if ((batch.attributes & IS_CONTROL_BATCH) !== 0) {
      const key = batch.records[0]?.key;
      if (key && key.length >= 4 && key.readInt16BE(2) === ABORT_MARKER)
        abortedProducers.delete(batch.producerId);
    } else {
      while (nextAborted < pending.length && Number(pending[nextAborted].firstOffset) < batchEnd) {
        abortedProducers.add(pending[nextAborted++].producerId);
      }
      const skip = (batch.attributes & IS_TRANSACTIONAL) !== 0 && abortedProducers.has(batch.producerId);
      if (!skip) {
        const logAppend = (batch.attributes & TIMESTAMP_LOG_APPEND_TIME) !== 0;
        const base = Number(batch.firstTimestamp);
        for (const record of batch.records) {
          const at = first + record.offsetDelta;
          if (at < offset) continue;
          const ts = logAppend ? Number(batch.maxTimestamp) : base + Number(record.timestampDelta);
          if (!visit(at, ts, record)) return at + 1;
        }
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
  aborted: readonly AbortedTxn[] = [],
): { records: LogRecord[]; nextOffset: number } {
  const records: LogRecord[] = [];
  let bytes = 0;
  const scannedTo = scan(batches, bounds.offset, aborted, (offset, timestamp, r) => {
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
  return { records, nextOffset: scannedTo };
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
export function collectValues(
  batches: RecordsBatch[] | undefined,
  bounds: Bounds,
  aborted: readonly AbortedTxn[] = [],
): CollectedValues {
  const picked: (Buffer | null)[] = [];
  const offsets: number[] = [];
  const timestamps: number[] = [];
  let bytes = 0;
  const scannedTo = scan(batches, bounds.offset, aborted, (offset, timestamp, r) => {
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
    nextOffset: scannedTo,
  };
}
