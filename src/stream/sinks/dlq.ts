/**
 * The dead-letter sink: rejected records go to a DLQ topic, each DLQ partition holding
 * the rejects of the source partition with the same number, in source-offset order.
 *
 * Exactly-once: the DLQ's progress per source partition is the larger of
 * - the source offset of the last record in its DLQ partition (the tail), and
 * - the `txn` version the pipeline commits for the DLQ in a Delta sink's table, after
 *   the batch's rejects were acknowledged (so progress also advances through batches
 *   without rejects, and a restart need not re-read them).
 * A batch's rejects are written before that commit; after a crash in between, the tail
 * shows they were written, and the re-run batch skips them.
 *
 * On Kafka with several workers, the source partition is the unit that moves between
 * workers, so each source partition's dead letters are written by a fenced writer of its
 * own (`Log.fencedWriter`: a Kafka transactional id `tributary/<pipeline>/dlq/<dlq
 * topic>/<source topic>/<p>`), one transaction per partition per batch. A worker given
 * partition p claims p's writer before it reads p's tail: the claim aborts whatever the
 * previous owner had in flight (a frozen worker's produce) and fails its later writes, so
 * the tail read next is final. A writer (re)claimed lazily at a write, or settled after a
 * failed write, reads its tail again before deciding what to write. One transaction for
 * the whole batch would need one transactional id for all of a worker's partitions, and
 * no id then stays with a partition when it moves. The partitions' transactions run side
 * by side; each partition's progress stands on its own, so one that committed while
 * another failed is skipped by the retry.
 *
 * The embedded log has one writer process per partition: records are produced as they
 * are, without transactions.
 */
import type { Clock } from '../../core/clock.ts';
import { crashPoint } from '../../core/crash-points.ts';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import type { FencedWriter, Log, LogRecord, ProduceRecord } from '../../log/log.ts';
import { decodeDeadLetter, encodeDeadLetter } from '../dead-letter.ts';
import type { BatchView, Progress, RejectedRecord } from '../types.ts';

export interface DlqSinkOptions {
  log: Log;
  /** The dead-letter topic, e.g. `orders.dlq`. */
  topic: string;
  sourceTopic: string;
  sourcePartitions: number;
  contract: string;
  clock: Clock;
  /** The pipeline's name: part of each partition's writer id. */
  pipeline: string;
}

export class DlqSink {
  readonly topic: string;
  private readonly opts: DlqSinkOptions;
  /** Per source partition, its fenced writer (logs with `fencedWriter` only). */
  private readonly writers = new Map<number, FencedWriter>();

  constructor(opts: DlqSinkOptions) {
    this.opts = opts;
    this.topic = opts.topic;
  }

  /** The fenced writer id of source partition `p`'s dead letters. */
  writerId(p: number): string {
    return `tributary/${this.opts.pipeline}/dlq/${this.topic}/${this.opts.sourceTopic}/${p}`;
  }

  /**
   * Creates the topic if needed; returns the progress the tails of `partitions` (default:
   * all) show.
   */
  async open(partitions?: Iterable<number>): Promise<Progress> {
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
    const which = partitions ? [...partitions] : Array.from({ length: sourcePartitions }, (_, p) => p);
    for (const p of which) {
      const tail = await this.tail(p);
      if (tail !== undefined) progress.set(p, tail);
    }
    return progress;
  }

  /**
   * The source offset of the last dead letter of partition `p` readers see (committed
   * ones), if any. The partition may end with transaction markers and aborted records,
   * which take offsets: the read steps back until it finds a record.
   */
  private async tail(p: number): Promise<number | undefined> {
    const { log, topic } = this.opts;
    const { earliest, latest } = await log.offsets(topic, p);
    let end = latest;
    for (let span = 4; end > earliest; span *= 4) {
      const from = Math.max(earliest, end - span);
      let last: LogRecord | undefined;
      for (let at = from; at < end; ) {
        const res = await log.fetch(topic, p, at, { maxRecords: 1_000 });
        for (const r of res.records) if (r.offset < end) last = r;
        if (res.nextOffset <= at || res.records.some((r) => r.offset >= end)) break;
        at = res.nextOffset;
      }
      if (last) {
        if (!last.value) return undefined;
        const d = decodeDeadLetter(last.value);
        return d.source_topic === this.opts.sourceTopic && d.source_partition === p
          ? d.source_offset
          : undefined;
      }
      end = from;
    }
    return undefined;
  }

  /**
   * A worker now owns `owned` (a consumer group's assignment): the writers of the other
   * partitions are dropped, and those of `owned` not ready are claimed, before their tails
   * are read (`open`). Nothing to do on a log without fenced writers.
   */
  async own(owned: ReadonlySet<number>): Promise<void> {
    if (!this.opts.log.fencedWriter) return;
    for (const [p, w] of this.writers) {
      if (!owned.has(p)) {
        this.writers.delete(p);
        await w.close();
      }
    }
    const claims = await Promise.allSettled(
      [...owned].map(async (p) => {
        const w = this.writer(p);
        if (w.state !== 'ready') await w.claim();
      }),
    );
    const failed = claims.find((c) => c.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /**
   * For a process that owns every partition (no consumer group), after a failed batch:
   * fenced writers are forgotten, so the next write claims them again, as a restarted
   * process would. A group's worker instead releases its partitions (`own` claims them
   * when they are given back).
   */
  unfence(): void {
    for (const [p, w] of this.writers) {
      if (w.state === 'fenced') {
        this.writers.delete(p);
        void w.close();
      }
    }
  }

  /**
   * Writes the batch's rejects past `progress` (advanced when a writer had to be claimed
   * or settled first and its partition's tail shows more); resolves once all are
   * committed, or rejects once every partition's write has settled.
   */
  async write(batch: BatchView, progress: Progress): Promise<number> {
    const now = this.opts.clock.now();
    const byPartition = new Map<number, RejectedRecord[]>();
    for (const r of batch.rejected) {
      if (r.offset <= (progress.get(r.partition) ?? -1)) continue;
      const list = byPartition.get(r.partition);
      if (list) list.push(r);
      else byPartition.set(r.partition, [r]);
    }
    if (byPartition.size === 0) return 0;
    const toRecord = (r: RejectedRecord): ProduceRecord => ({
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
    let written = 0;
    if (!this.opts.log.fencedWriter) {
      const records = [...byPartition.values()].flat().map(toRecord);
      await this.opts.log.produce(records);
      written = records.length;
    } else {
      const results = await Promise.allSettled(
        [...byPartition].map(async ([p, rejects]) => {
          const w = await this.ready(p, progress);
          const past = rejects.filter((r) => r.offset > (progress.get(p) ?? -1));
          if (past.length === 0) return;
          try {
            await w.write(past.map(toRecord));
          } catch (err) {
            throw this.explain(err, p);
          }
          written += past.length;
        }),
      );
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    if (written > 0) crashPoint('dlq.produced');
    return written;
  }

  /** Partition `p`'s writer, claimed or settled (and its tail read again) if it was not ready. */
  private async ready(p: number, progress: Progress): Promise<FencedWriter> {
    const w = this.writer(p);
    if (w.state === 'ready') return w;
    try {
      if (w.state === 'unclaimed') await w.claim();
      else await w.settle();
    } catch (err) {
      throw this.explain(err, p);
    }
    const tail = await this.tail(p);
    if (tail !== undefined && tail > (progress.get(p) ?? -1)) progress.set(p, tail);
    return w;
  }

  private writer(p: number): FencedWriter {
    let w = this.writers.get(p);
    if (!w) {
      w = this.opts.log.fencedWriter!(this.writerId(p));
      this.writers.set(p, w);
    }
    return w;
  }

  /** A fenced writer's error, said in the pipeline's terms. */
  private explain(err: unknown, p: number): unknown {
    if (!isTributaryError(err, 'LOG_WRITER_FENCED')) return err;
    return new TributaryError(
      'LOG_WRITER_FENCED',
      `pipeline ${this.opts.pipeline}: the dead-letter writer of ${this.opts.sourceTopic} partition ${p} was fenced (another worker took the partition over and claimed '${this.writerId(p)}'): the batch's dead letters for it are not written (its new owner writes them); the worker releases its partitions and joins its group again`,
      { ...err.details, pipeline: this.opts.pipeline, partition: p },
      err,
    );
  }

  async close(): Promise<void> {
    const writers = [...this.writers.values()];
    this.writers.clear();
    await Promise.allSettled(writers.map((w) => w.close()));
  }
}
