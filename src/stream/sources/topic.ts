/**
 * A topic of the log as a source. Each partition's records come as one contiguous buffer
 * of values (`Log.fetchValues`), bytes unchanged: `ends` marks where each value ends, so
 * a value may hold newlines. The decoder decides what the bytes are, and the dead-letter
 * queue gets the original bytes whatever they are.
 */
import type { Log, ValueBatch } from '../../log/log.ts';
import type { FetchLimits, Source, SourceBatch } from '../types.ts';

export class TopicSource implements Source {
  readonly name: string;
  readonly log: Log;

  readonly endsNow?: (partitions: readonly number[]) => number[];

  constructor(log: Log, topic: string) {
    this.log = log;
    this.name = topic;
    const endsNow = log.endsNow?.bind(log);
    if (endsNow) this.endsNow = (partitions) => endsNow(topic, partitions);
  }

  async partitions(): Promise<number> {
    return (await this.log.describeTopic(this.name)).partitions;
  }

  async fetch(partition: number, offset: number, limits: FetchLimits): Promise<SourceBatch> {
    let values = await this.log.fetchValues(this.name, partition, offset, limits);
    // A stretch without records (Kafka: aborted transactions, transaction markers, as in a
    // DLQ written in transactions): read on from where the fetch stopped, or the batch
    // would find nothing and the partition never get past it.
    let from = offset;
    const skipped = (v: ValueBatch) =>
      v.count === 0 &&
      v.nextOffset > from &&
      v.nextOffset < v.highWatermark &&
      (limits.lastOffset === undefined || v.nextOffset <= limits.lastOffset);
    while (skipped(values)) {
      from = values.nextOffset;
      values = await this.log.fetchValues(this.name, partition, from, limits);
    }
    if (
      limits.lastOffset !== undefined &&
      values.count > 0 &&
      values.offsets[values.count - 1] > limits.lastOffset
    ) {
      values = trim(values, limits.lastOffset);
    }
    return {
      partition,
      count: values.count,
      lastOffset: values.count > 0 ? values.offsets[values.count - 1] : offset - 1,
      nextOffset: values.nextOffset,
      highWatermark: values.highWatermark,
      values,
    };
  }

  async latest(partition: number): Promise<number> {
    return (await this.log.offsets(this.name, partition)).latest;
  }
}

/** The values of `b` up to offset `last` (offsets may have gaps: a compacted or transactional Kafka topic). */
function trim(b: ValueBatch, last: number): ValueBatch {
  let n = 0;
  while (n < b.count && b.offsets[n] <= last) n++;
  const end = n === 0 ? 0 : b.ends[n - 1] + 1;
  return {
    ...b,
    count: n,
    values: b.values.subarray(0, end),
    offsets: b.offsets.subarray(0, n),
    timestamps: b.timestamps.subarray(0, n),
    ends: b.ends.subarray(0, n),
    nextOffset: n === b.count ? b.nextOffset : b.offsets[n],
  };
}
