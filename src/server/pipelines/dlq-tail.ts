/**
 * A dead-letter topic as a status page shows it: how many records it holds, and its
 * most recent records (the tail of each partition, newest first), decoded as
 * stream/dead-letter.ts wrote them.
 */
import { isTributaryError } from '../../core/errors.ts';
import type { Log, LogRecord } from '../../log/log.ts';
import { type DecodedDeadLetter, decodeDeadLetter } from '../../stream/dead-letter.ts';

export interface DlqRecord extends DecodedDeadLetter {
  /** Where the DLQ record is in the DLQ topic. */
  partition: number;
  offset: number;
}

export interface DlqTail {
  topic: string;
  /**
   * Records the topic holds now (what retention kept), over all partitions, from its
   * offsets: on Kafka an upper bound, since transaction markers (one per partition of each
   * batch that had rejects) and aborted records take offsets too.
   */
  records: number;
  /** The newest `limit` records, newest first (by rejection time, then partition and offset). */
  recent: DlqRecord[];
  /** Records of the tail that were not dead letters (another writer's): skipped. */
  unreadable: number;
}

/** Reads the last `limit` records of each partition of `topic`; a topic not created yet holds none. */
export async function readDlqTail(log: Log, topic: string, limit: number): Promise<DlqTail> {
  let partitions: number;
  try {
    partitions = (await log.describeTopic(topic)).partitions;
  } catch (err) {
    if (isTributaryError(err, 'LOG_TOPIC_NOT_FOUND')) return { topic, records: 0, recent: [], unreadable: 0 };
    throw err;
  }
  let records = 0;
  let unreadable = 0;
  const recent: DlqRecord[] = [];
  await Promise.all(
    Array.from({ length: partitions }, async (_, p) => {
      const { earliest, latest } = await log.offsets(topic, p);
      records += Math.max(0, latest - earliest);
      if (limit === 0 || latest <= earliest) return;
      for (const r of await lastRecords(log, topic, p, earliest, latest, limit)) {
        if (r.value === null) continue;
        try {
          recent.push({ ...decodeDeadLetter(r.value), partition: p, offset: r.offset });
        } catch {
          unreadable++;
        }
      }
    }),
  );
  recent.sort((a, b) => b.rejected_at - a.rejected_at || b.partition - a.partition || b.offset - a.offset);
  return { topic, records, recent: recent.slice(0, limit), unreadable };
}

/**
 * The last `limit` records below `latest`: offsets without records (Kafka's transaction
 * markers, aborted records) are stepped over by reading further back.
 */
async function lastRecords(
  log: Log,
  topic: string,
  p: number,
  earliest: number,
  latest: number,
  limit: number,
): Promise<LogRecord[]> {
  let found: LogRecord[] = [];
  let end = latest;
  for (let span = limit; end > earliest && found.length < limit; span *= 2) {
    const from = Math.max(earliest, end - span);
    const window: LogRecord[] = [];
    for (let at = from; at < end; ) {
      const res = await log.fetch(topic, p, at, { maxRecords: end - at });
      for (const r of res.records) if (r.offset < end) window.push(r);
      if (res.nextOffset <= at || res.nextOffset >= end) break;
      at = res.nextOffset;
    }
    found = [...window, ...found];
    end = from;
  }
  return found.slice(-limit);
}
