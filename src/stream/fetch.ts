/**
 * Fetching a partition's records as one contiguous NDJSON buffer (`Log.fetchValues`).
 * A batch holding a value with a newline byte cannot travel that way (the log refuses
 * it with INPUT_INVALID); then the records are fetched one by one and each newline is
 * replaced by a space — JSON allows a newline only as whitespace between tokens, where
 * a space means the same.
 */
import { isTributaryError } from '../core/errors.ts';
import type { FetchOptions, Log, ValueBatch } from '../log/log.ts';

export async function fetchBatch(
  log: Log,
  topic: string,
  partition: number,
  offset: number,
  opts: FetchOptions,
): Promise<ValueBatch> {
  try {
    return await log.fetchValues(topic, partition, offset, opts);
  } catch (err) {
    if (!isTributaryError(err, 'INPUT_INVALID')) throw err;
  }
  const res = await log.fetch(topic, partition, offset, opts);
  const n = res.records.length;
  let size = 0;
  for (const r of res.records) size += (r.value?.length ?? 0) + 1;
  const values = Buffer.allocUnsafe(size);
  const offsets = new Float64Array(n);
  const timestamps = new Float64Array(n);
  const ends = new Uint32Array(n);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const r = res.records[i];
    if (r.value) {
      values.set(r.value, pos);
      for (let j = pos; j < pos + r.value.length; j++) if (values[j] === 0x0a) values[j] = 0x20;
      pos += r.value.length;
    }
    ends[i] = pos;
    values[pos++] = 0x0a;
    offsets[i] = r.offset;
    timestamps[i] = r.timestamp;
  }
  return {
    topic,
    partition,
    count: n,
    values,
    offsets,
    timestamps,
    ends,
    nextOffset: res.nextOffset,
    highWatermark: res.highWatermark,
  };
}
