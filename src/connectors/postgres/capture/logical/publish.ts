/**
 * Publishing change events to the capture's topic: key = changeKey (the row's key as
 * JSON, so the log's partitioner keeps a key's changes in one partition, in order),
 * value = encodeChange in the capture's format. Resolves once the log holds them
 * durably (Log.produce's contract). Polling publishes the same way (capture/publish.ts
 * where it exists; this is the logical capture's own until the two are merged).
 */
import type { Log, ProduceRecord } from '../../../../log/log.ts';
import { type CaptureFormat, type ChangeEvent, changeKey, encodeChange } from '../change.ts';

export async function publishChanges(
  log: Log,
  topic: string,
  format: CaptureFormat,
  events: readonly ChangeEvent[],
  now: number = Date.now(),
): Promise<void> {
  if (events.length === 0) return;
  const records: ProduceRecord[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    records[i] = {
      topic,
      key: Buffer.from(changeKey(e)),
      value: Buffer.from(encodeChange(e, format, now)),
    };
  }
  await log.produce(records);
}
