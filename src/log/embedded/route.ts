/**
 * Routes the records of one produce call to partitions: an explicit partition, else
 * Kafka's murmur2 partition of the key, else round-robin per topic. Records keep their
 * call order within each partition.
 */
import { TributaryError } from '../../core/errors.ts';
import type { ProduceRecord, TopicInfo } from '../log.ts';
import { partitionForKey } from '../partitioner.ts';
import type { EncodableRecord } from './batch-format.ts';

export interface ProduceGroup {
  info: TopicInfo;
  partition: number;
  /** Indexes of the group's records in the produce call. */
  at: number[];
  recs: EncodableRecord[];
}

export function checkPartition(info: TopicInfo, partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= info.partitions) {
    throw new TributaryError(
      'LOG_PARTITION_NOT_FOUND',
      `topic '${info.name}' has partitions 0 to ${info.partitions - 1}; partition ${partition} does not exist`,
      { topic: info.name, partition, partitions: info.partitions },
    );
  }
}

export function routeRecords(
  records: ProduceRecord[],
  topicOf: (name: string) => TopicInfo,
  roundRobin: Map<string, number>,
): Map<string, ProduceGroup> {
  const groups = new Map<string, ProduceGroup>();
  // Consecutive records usually share topic and partition: skip the map lookup then.
  let last: ProduceGroup | undefined;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (r.value !== null && !(r.value instanceof Uint8Array)) {
      throw new TributaryError(
        'INPUT_INVALID',
        `record ${i} of the produce call (topic '${r.topic}') has a value that is neither bytes nor null`,
        { topic: r.topic, index: i },
      );
    }
    const info = last !== undefined && last.info.name === r.topic ? last.info : topicOf(r.topic);
    let partition: number;
    if (r.partition !== undefined) {
      checkPartition(info, r.partition);
      partition = r.partition;
    } else if (r.key != null) {
      partition = partitionForKey(r.key, info.partitions);
    } else {
      const n = roundRobin.get(r.topic) ?? 0;
      roundRobin.set(r.topic, n + 1);
      partition = n % info.partitions;
    }
    let g = last;
    if (g === undefined || g.info !== info || g.partition !== partition) {
      const key = `${r.topic}/${partition}`;
      g = groups.get(key);
      if (g === undefined) {
        g = { info, partition, at: [], recs: [] };
        groups.set(key, g);
      }
      last = g;
    }
    g.at.push(i);
    g.recs.push(r);
  }
  return groups;
}
