/**
 * Fetching a partition's records as one contiguous NDJSON buffer (`Log.fetchValues`).
 * A batch holding a value with a newline byte cannot travel that way (the log refuses
 * it with INPUT_INVALID); then the records are fetched one by one and laid out the same
 * way, bytes unchanged: `ends` marks where each value ends, so a value may hold newlines.
 * The strict check (batch-file.ts) decides whether such a value is JSON (a newline
 * between tokens) or not (a newline inside a string), and the dead-letter queue gets
 * the original bytes either way.
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
