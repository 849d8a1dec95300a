/**
 * The dead-letter sink: rejected records go to a DLQ topic, each DLQ partition holding
 * the rejects of the source partition with the same number, in source-offset order.
 *
 * Exactly-once without transactions on the topic: the DLQ's progress per source
 * partition is the larger of
 * - the source offset of the last record in its DLQ partition (the tail), and
 * - the `txn` version the pipeline commits for the DLQ in a Delta sink's table, after
 *   the batch's rejects were acknowledged (so progress also advances through batches
 *   without rejects, and a restart need not re-read them).
 * A batch's rejects are produced before that commit; after a crash in between, the tail
 * shows they were written, and the re-run batch skips them.
 */
import type { Clock } from '../../core/clock.ts';
import { crashPoint } from '../../core/crash-points.ts';
import { TributaryError } from '../../core/errors.ts';
import type { Log, ProduceRecord } from '../../log/log.ts';
import { decodeDeadLetter, encodeDeadLetter } from '../dead-letter.ts';
import type { BatchView, Progress } from '../types.ts';

export interface DlqSinkOptions {
  log: Log;
  /** The dead-letter topic, e.g. `orders.dlq`. */
  topic: string;
  sourceTopic: string;
  sourcePartitions: number;
  contract: string;
  clock: Clock;
}

export class DlqSink {
  readonly topic: string;
  private readonly opts: DlqSinkOptions;

  constructor(opts: DlqSinkOptions) {
    this.opts = opts;
    this.topic = opts.topic;
  }

  /** Creates the topic if needed; returns the progress its tail shows. */
  async open(): Promise<Progress> {
    const { log, topic, sourcePartitions } = this.opts;
    let info = await log.ensureTopic(topic, { partitions: sourcePartitions });
    // The source gained partitions (Kafka): its DLQ gains as many, one per source partition.
    if (info.partitions < sourcePartitions && log.addPartitions) {
      info = await log.addPartitions(topic, sourcePartitions);
    }
    if (info.partitions < sourcePartitions) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `dead-letter topic '${topic}' has ${info.partitions} partitions but source topic '${this.opts.sourceTopic}' has ${sourcePartitions}; the DLQ needs one partition per source partition (delete it or add partitions)`,
        { topic, partitions: info.partitions, sourcePartitions },
      );
    }
    const progress: Progress = new Map();
    for (let p = 0; p < sourcePartitions; p++) {
      const { earliest, latest } = await log.offsets(topic, p);
      if (latest <= earliest) continue;
      const res = await log.fetch(topic, p, latest - 1, { maxRecords: 1 });
      const last = res.records.at(-1);
      if (last?.value) {
        const d = decodeDeadLetter(last.value);
        if (d.source_topic === this.opts.sourceTopic && d.source_partition === p)
          progress.set(p, d.source_offset);
      }
    }
    return progress;
  }

  /** Produces the batch's rejects past `progress`; resolves once all are acknowledged. */
  async write(batch: BatchView, progress: Progress): Promise<number> {
    const now = this.opts.clock.now();
    const records: ProduceRecord[] = [];
    for (const r of batch.rejected) {
      if (r.offset <= (progress.get(r.partition) ?? -1)) continue;
      records.push({
        topic: this.topic,
        partition: r.partition,
        key: Buffer.from(`${batch.topic}/${r.partition}/${r.offset}`),
        value: Buffer.from(
          encodeDeadLetter({
            sourceTopic: batch.topic,
            sourcePartition: r.partition,
            sourceOffset: r.offset,
            sourceTimestamp: r.timestamp,
            contract: this.opts.contract,
            field: r.field,
            rule: r.rule,
            reason: r.message,
            value: r.value,
            rejectedAt: now,
          }),
        ),
        timestamp: now,
      });
    }
    if (records.length > 0) {
      await this.opts.log.produce(records);
      crashPoint('dlq.produced');
    }
    return records.length;
  }
}
