/**
 * Fetching a partition's records as one contiguous buffer of values (`Log.fetchValues`),
 * bytes unchanged: `ends` marks where each value ends, so a value may hold newlines. The
 * strict check (batch-file.ts) decides whether such a value is JSON (a newline between
 * tokens) or not (a newline inside a string), and the dead-letter queue gets the
 * original bytes either way.
 */
import type { FetchOptions, Log, ValueBatch } from '../log/log.ts';

export function fetchBatch(
  log: Log,
  topic: string,
  partition: number,
  offset: number,
  opts: FetchOptions,
): Promise<ValueBatch> {
  return log.fetchValues(topic, partition, offset, opts);
}
