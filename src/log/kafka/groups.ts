/**
 * Consumer-group offsets on Kafka: OffsetCommit with generation -1 and no member id (what
 * `kafka-consumer-groups --reset-offsets` and the Java AdminClient's
 * alterConsumerGroupOffsets send) and OffsetFetch. Kafka accepts such commits only while
 * the group has no active members; Tributary's runtime keeps its positions in the table
 * commits and uses group offsets for monitoring and hand-over, so that is the case.
 */
import type { Admin } from '@platformatic/kafka';
import { TributaryError } from '../../core/errors.ts';
import { translateError } from './errors.ts';

export class KafkaGroups {
  readonly #admin: Admin;
  readonly #brokers: string;

  constructor(admin: Admin, brokers: string) {
    this.#admin = admin;
    this.#brokers = brokers;
  }

  async commit(
    group: string,
    offsets: { topic: string; partition: number; offset: number }[],
  ): Promise<void> {
    if (offsets.length === 0) return;
    this.#checkGroup(group);
    const byTopic = new Map<string, { partition: number; offset: bigint }[]>();
    for (const o of offsets) {
      if (
        !Number.isSafeInteger(o.offset) ||
        o.offset < 0 ||
        !Number.isInteger(o.partition) ||
        o.partition < 0
      ) {
        throw new TributaryError(
          'INPUT_INVALID',
          `cannot commit offset ${o.offset} for topic '${o.topic}' partition ${o.partition} in group '${group}': partitions and offsets are integers from 0`,
          { group, topic: o.topic, partition: o.partition, offset: o.offset },
        );
      }
      const list = byTopic.get(o.topic) ?? [];
      // A later entry for the same partition wins, as it would in sequential commits.
      const existing = list.findIndex((x) => x.partition === o.partition);
      if (existing >= 0) list.splice(existing, 1);
      list.push({ partition: o.partition, offset: BigInt(o.offset) });
      byTopic.set(o.topic, list);
    }
    try {
      await this.#admin.alterConsumerGroupOffsets({
        groupId: group,
        topics: [...byTopic].map(([name, partitionOffsets]) => ({ name, partitionOffsets })),
      });
    } catch (err) {
      const topics = [...byTopic.keys()];
      throw translateError(err, {
        brokers: this.#brokers,
        operation: 'commit group offsets',
        group,
        topic: topics.length === 1 ? topics[0] : undefined,
      });
    }
  }

  async committed(group: string, topic: string): Promise<Map<number, number>> {
    this.#checkGroup(group);
    const out = new Map<number, number>();
    try {
      // topics: null asks for every committed offset of the group (OffsetFetch v8+).
      const groups = await this.#admin.listConsumerGroupOffsets({
        groups: [{ groupId: group, topics: null }],
      });
      for (const g of groups) {
        if (g.groupId !== group) continue;
        for (const t of g.topics) {
          if (t.name !== topic) continue;
          for (const p of t.partitions) {
            // -1: nothing committed for this partition.
            if (p.committedOffset >= 0n) out.set(p.partitionIndex, Number(p.committedOffset));
          }
        }
      }
    } catch (err) {
      throw translateError(err, { brokers: this.#brokers, operation: 'read group offsets', group, topic });
    }
    return out;
  }

  #checkGroup(group: string): void {
    if (typeof group !== 'string' || group.length === 0) {
      throw new TributaryError('INPUT_INVALID', 'a consumer group name must be a non-empty string', {
        group,
      });
    }
  }
}
