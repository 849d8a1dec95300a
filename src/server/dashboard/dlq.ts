/**
 * A pipeline's dead-letter topic as the dashboard shows it: how many records it holds,
 * how many of each reason (the contract rule and the field it broke), and the newest
 * few. Read from the log, so it works whether or not the pipeline runs in this process;
 * each refresh reads only the records produced since the last one.
 */
import { isTributaryError } from '../../core/errors.ts';
import type { Log } from '../../log/log.ts';
import { type DecodedDeadLetter, decodeDeadLetter } from '../../stream/dead-letter.ts';

/** Records read per refresh at most (the rest on the next refresh). */
const MAX_READ_PER_REFRESH = 50_000;
const RECENT = 10;

export interface DlqRecent {
  partition: number;
  offset: number;
  rejectedAt: string;
  rule: string;
  field: string;
  reason: string;
}

export interface DlqState {
  topic: string;
  /** False until the topic exists (no record was rejected yet, or the pipeline never ran). */
  exists: boolean;
  /**
   * Records the topic holds: those read and still kept, plus the offsets not read yet
   * (on Kafka, transaction markers and aborted records take offsets too: the unread part
   * is an upper bound until read).
   */
  total: number;
  /** Records read, by `rule` and `field`, most first. */
  byReason: Array<{ rule: string; field: string; records: number }>;
  /** The newest records read, newest first. */
  recent: DlqRecent[];
}

export class DlqReader {
  readonly topic: string;
  private readonly log: Log;
  private readonly next = new Map<number, number>();
  /** Per partition: records read that retention has not removed yet, and the earliest offset then. */
  private readonly held = new Map<number, { records: number; earliest: number }>();
  private readonly counts = new Map<string, { rule: string; field: string; records: number }>();
  private recent: DlqRecent[] = [];
  private total = 0;
  private exists = false;

  constructor(log: Log, topic: string) {
    this.log = log;
    this.topic = topic;
  }

  /** Reads what was produced since the last refresh; true when something changed. */
  async refresh(): Promise<boolean> {
    let partitions: number;
    try {
      partitions = (await this.log.describeTopic(this.topic)).partitions;
    } catch (err) {
      if (isTributaryError(err, 'LOG_TOPIC_NOT_FOUND')) return false;
      throw err;
    }
    const wasTotal = this.total;
    const wasExists = this.exists;
    this.exists = true;
    let total = 0;
    let budget = MAX_READ_PER_REFRESH;
    let read = 0;
    for (let p = 0; p < partitions; p++) {
      const { earliest, latest } = await this.log.offsets(this.topic, p);
      // Records removed by retention before they were read are counted in no reason.
      let offset = Math.max(this.next.get(p) ?? earliest, earliest);
      const held = this.held.get(p) ?? { records: 0, earliest };
      // Retention removed records already read: as many as the offsets it dropped, at most.
      if (earliest > held.earliest) held.records = Math.max(0, held.records - (earliest - held.earliest));
      held.earliest = earliest;
      if (this.next.get(p) !== undefined && this.next.get(p)! < earliest) held.records = 0;
      while (offset < latest && budget > 0) {
        const batch = await this.log.fetch(this.topic, p, offset, { maxRecords: Math.min(budget, 5_000) });
        for (const r of batch.records) {
          if (r.value !== null) this.count(p, r.offset, r.value);
        }
        budget -= batch.records.length;
        read += batch.records.length;
        held.records += batch.records.length;
        // Nothing more, or only offsets without records (transaction markers) stepped over.
        if (batch.nextOffset <= offset) break;
        offset = batch.nextOffset;
      }
      this.held.set(p, held);
      this.next.set(p, offset);
      total += held.records + Math.max(0, latest - offset);
    }
    this.total = total;
    this.trimRecent();
    return read > 0 || total !== wasTotal || !wasExists;
  }

  private count(partition: number, offset: number, value: Uint8Array): void {
    let d: DecodedDeadLetter;
    try {
      d = decodeDeadLetter(value);
    } catch {
      d = { rule: 'unreadable', field: '', reason: 'not a DLQ record of ours' } as DecodedDeadLetter;
    }
    const rule = String(d.rule ?? '');
    const field = String(d.field ?? '');
    const key = `${rule}\u0000${field}`;
    const c = this.counts.get(key);
    if (c) c.records++;
    else this.counts.set(key, { rule, field, records: 1 });
    this.recent.push({
      partition,
      offset,
      rejectedAt: new Date(Number(d.rejected_at ?? 0)).toISOString(),
      rule,
      field,
      reason: String(d.reason ?? ''),
    });
    if (this.recent.length > 1_000) this.trimRecent();
  }

  private trimRecent(): void {
    this.recent = this.recent
      .sort((a, b) => byText(b.rejectedAt, a.rejectedAt) || b.partition - a.partition || b.offset - a.offset)
      .slice(0, RECENT);
  }

  state(): DlqState {
    return {
      topic: this.topic,
      exists: this.exists,
      total: this.total,
      byReason: [...this.counts.values()].sort(
        (a, b) => b.records - a.records || byText(a.rule, b.rule) || byText(a.field, b.field),
      ),
      recent: [...this.recent],
    };
  }
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
