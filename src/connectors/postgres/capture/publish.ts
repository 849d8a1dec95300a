/**
 * Publishing change events to a topic of the log, for both capture modes: one record per
 * change, its key the row's key columns (`changeKey`: `{"order_id":1}`), so the log's
 * murmur2 partitioner keeps the changes of one key in one partition, in order; its value
 * `encodeChange` in the capture's format; its timestamp the time it was published (not
 * the commit time: a topic's time-based retention, Kafka's 7 days by default, would
 * delete at once the records of rows committed long ago, such as an old table's first
 * poll or snapshot). A list is sent in one `produce` call, which resolves once every
 * record is durable: only then may a capture save its position.
 *
 * Before a list is sent, `onColumns` hears of every column list in it that differs from
 * the last one it heard of (CaptureOptions.onColumns): a change with a new column is
 * published only once whatever reads the topic knows the column.
 */
import type { Log, ProduceResult } from '../../../log/log.ts';
import {
  type CaptureFormat,
  type ChangeColumn,
  type ChangeEvent,
  changeKey,
  encodeChange,
} from './change.ts';

export interface PublisherOptions {
  log: Log;
  topic: string;
  /** Partitions to create the topic with when it does not exist. */
  partitions: number;
  format: CaptureFormat;
  /** The capture's clock, for the envelope's `ts_ms` (default Date.now). */
  now?: () => number;
  /** See CaptureOptions.onColumns. */
  onColumns?: (columns: readonly ChangeColumn[]) => Promise<void>;
}

/** A column list's names and types, to tell lists apart. */
function columnsSignature(columns: readonly ChangeColumn[]): string {
  return columns.map((c) => `${c.name}:${c.typeOid}`).join(',');
}

export class ChangePublisher {
  private readonly opts: PublisherOptions;
  private ensured = false;
  /** The column list last seen (events of one poll or relation share it), and the last one announced. */
  private lastColumns?: readonly ChangeColumn[];
  private announced?: string;

  constructor(opts: PublisherOptions) {
    this.opts = opts;
  }

  get topic(): string {
    return this.opts.topic;
  }

  /** Creates the topic with `partitions` if it does not exist (an existing one is left as it is). */
  async ensureTopic(): Promise<void> {
    if (this.ensured) return;
    await this.opts.log.ensureTopic(this.opts.topic, { partitions: this.opts.partitions });
    this.ensured = true;
  }

  /** Publishes `events` in order; resolves once all are durable. */
  async publish(events: readonly ChangeEvent[]): Promise<ProduceResult[]> {
    if (events.length === 0) return [];
    await this.announceColumns(events);
    await this.ensureTopic();
    const now = (this.opts.now ?? Date.now)();
    const records = events.map((e) => ({
      topic: this.opts.topic,
      key: Buffer.from(changeKey(e)),
      value: Buffer.from(encodeChange(e, this.opts.format, now)),
      timestamp: now,
    }));
    return this.opts.log.produce(records);
  }

  private async announceColumns(events: readonly ChangeEvent[]): Promise<void> {
    const hook = this.opts.onColumns;
    if (!hook) return;
    for (const e of events) {
      if (e.columns === this.lastColumns) continue;
      const signature = columnsSignature(e.columns);
      if (signature !== this.announced) {
        await hook(e.columns);
        this.announced = signature;
      }
      this.lastColumns = e.columns;
    }
  }
}

/** One-off form: ensures the topic, then publishes `events` (one `produce` call). */
export async function publishChanges(
  opts: PublisherOptions,
  events: readonly ChangeEvent[],
): Promise<ProduceResult[]> {
  const p = new ChangePublisher(opts);
  await p.ensureTopic();
  return p.publish(events);
}
