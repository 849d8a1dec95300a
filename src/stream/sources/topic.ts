/**
 * A topic of the log as a source. Each partition's records come as one contiguous buffer
 * of values (`Log.fetchValues`), bytes unchanged: `ends` marks where each value ends, so
 * a value may hold newlines. The decoder decides what the bytes are, and the dead-letter
 * queue gets the original bytes whatever they are.
 */
import type { Log } from '../../log/log.ts';
import type { Source, SourceBatch } from '../types.ts';

export class TopicSource implements Source {
  readonly name: string;
  readonly log: Log;

  constructor(log: Log, topic: string) {
    this.log = log;
    this.name = topic;
  }

  async partitions(): Promise<number> {
    return (await this.log.describeTopic(this.name)).partitions;
  }

  async fetch(
    partition: number,
    offset: number,
    limits: { maxRecords: number; maxBytes: number },
  ): Promise<SourceBatch> {
    const values = await this.log.fetchValues(this.name, partition, offset, limits);
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
