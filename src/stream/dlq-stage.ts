/**
 * A pipeline's dead-letter stage: each batch's rejected records (and late rows routed to
 * the DLQ) written to the DLQ topic, and the DLQ's progress per source partition.
 *
 * The DLQ is written before any sink commits; its progress is then committed by one sink
 * with its batch (`txn` markers `<pipeline>/dlq/<source topic>/<partition>`, the sink's
 * `extraTxn`). On a reload the progress is the later of that marker and the DLQ topic's
 * tail (DlqSink.open): a crash between the DLQ write and the sink's commit does not write
 * the dead letters twice. On Kafka each source partition's dead letters go through a
 * fenced writer (sinks/dlq.ts), so a worker that lost a partition cannot add them after
 * its new owner did.
 */
import type { Clock } from '../core/clock.ts';
import { isTributaryError, TributaryError } from '../core/errors.ts';
import type { Log } from '../log/log.ts';
import type { DeltaTable } from '../table/table.ts';
import type { Membership } from './membership.ts';
import { DlqSink } from './sinks/dlq.ts';
import { advancedProgress, type BatchView, type Progress, type Sink } from './types.ts';

/**
 * A sink that commits the DLQ's progress markers with its batches (`extraTxn`), and reads
 * them back: a Delta sink (txn actions of its table) or a database sink (`marker`).
 */
export type DlqProgressSink = Sink &
  ({ table: DeltaTable } | { marker(appId: string): Promise<number | undefined> });

export interface DlqOptions {
  log: Log;
  topic: string;
  /** The sink that commits the DLQ's progress with its batches. */
  progressIn: DlqProgressSink;
}

export class DlqStage {
  private readonly opts: DlqOptions & {
    pipeline: string;
    sourceTopic: string;
    contract: string;
    clock: Clock;
  };
  private sink?: DlqSink;
  private done: Progress = new Map();

  constructor(opts: DlqOptions & { pipeline: string; sourceTopic: string; contract: string; clock: Clock }) {
    this.opts = opts;
  }

  get topic(): string {
    return this.opts.topic;
  }

  get log(): Log {
    return this.opts.log;
  }

  get progressIn(): DlqProgressSink {
    return this.opts.progressIn;
  }

  /** Per source partition, the last offset whose dead letters are written. */
  get progress(): Progress {
    return this.done;
  }

  appId(partition: number): string {
    return `${this.opts.pipeline}/dlq/${this.opts.sourceTopic}/${partition}`;
  }

  /** A writer for `partitions` source partitions (again when the topic grew: it grows the DLQ topic to match). */
  async reset(partitions: number): Promise<void> {
    await this.sink?.close();
    this.sink = new DlqSink({
      log: this.opts.log,
      topic: this.opts.topic,
      sourceTopic: this.opts.sourceTopic,
      sourcePartitions: partitions,
      contract: this.opts.contract,
      clock: this.opts.clock,
      pipeline: this.opts.pipeline,
    });
  }

  /**
   * The DLQ's progress from its topic's tail and the markers its sink committed (the
   * later of the two). `owned`: a group worker's partitions, whose writers it claims; a
   * process without a group takes its fenced writers back, as a restart would.
   */
  async load(partitions: number, owned: ReadonlySet<number> | undefined, grouped: boolean): Promise<void> {
    const sink = this.sink;
    if (!sink)
      throw new Error(
        `pipeline ${this.opts.pipeline}: the DLQ stage was loaded before its writer was made (reset)`,
      );
    if (!grouped) sink.unfence();
    this.done = await sink.open(owned);
    const holder = this.opts.progressIn;
    const snap = 'table' in holder ? await holder.table.snapshot() : undefined;
    for (let p = 0; p < partitions; p++) {
      const appId = this.appId(p);
      const v = snap
        ? snap.txnVersion(appId)
        : await (holder as { marker(a: string): Promise<number | undefined> }).marker(appId);
      if (v !== undefined && v > (this.done.get(p) ?? -1)) this.done.set(p, v);
    }
  }

  /**
   * Claims the fenced writers of the partitions a group worker was given, before their
   * tails are read: whatever a previous owner still had in flight is aborted first.
   */
  async own(owned: ReadonlySet<number>): Promise<void> {
    await this.sink?.own(owned);
  }

  async close(): Promise<void> {
    await this.sink?.close();
  }

  /**
   * Writes a batch's rejected records (those past the DLQ's progress) and returns how many
   * it wrote and the progress markers for the sink that commits them. A group worker that
   * may have lost its partitions writes nothing (GROUP_MEMBERSHIP_LOST); one whose writer
   * another claimed (LOG_WRITER_FENCED) is told to release its partitions.
   */
  async write(
    view: BatchView,
    lastOffsets: ReadonlyMap<number, number>,
    member: Membership | undefined,
  ): Promise<{ written: number; txn: Array<{ appId: string; version: number }> }> {
    const rejected = view.rejected.length;
    if (rejected > 0 && member && !member.valid()) {
      throw new TributaryError(
        'GROUP_MEMBERSHIP_LOST',
        `pipeline ${this.opts.pipeline}: no answer from the consumer group for the session timeout; the batch's ${rejected} dead letters are not written, and the worker releases its partitions`,
      );
    }
    let written: number;
    try {
      written = await this.sink!.write(view, this.done);
    } catch (err) {
      // Another worker claimed a partition's DLQ writer: this one lost the partition
      // without being told. Like a lost session, it releases everything and joins again.
      if (isTributaryError(err, 'LOG_WRITER_FENCED')) member?.lost?.();
      throw err;
    }
    const txn = advancedProgress(this.done, lastOffsets).map((a) => ({
      appId: this.appId(a.partition),
      version: a.offset,
    }));
    for (const [p, o] of lastOffsets) if ((this.done.get(p) ?? -1) < o) this.done.set(p, o);
    return { written, txn };
  }
}
