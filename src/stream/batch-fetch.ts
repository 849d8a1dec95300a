/**
 * The fetch of one micro-batch: which offsets each partition is read up to, and the reads.
 *
 * - A replayed batch plan (stateful.ts) reads each partition exactly to the plan's end.
 * - Otherwise, when the source can give every partition's end at one instant (the
 *   embedded log, Source.endsNow), each partition is read only up to there: no partition
 *   gets ahead of the others in event time while this process produces (docs/runtime.md).
 * - The batch's limits are shared among the partitions by their backlog (batch-limits.ts);
 *   without such an instant the ends are asked once, then known from each fetch.
 */
import { batchLimits } from './batch-limits.ts';
import { fetchUpTo } from './sources/exact-fetch.ts';
import type { BatchPlan } from './stateful.ts';
import type { Source, SourceBatch } from './types.ts';

export interface BatchFetch {
  source: Source;
  /** Per partition, the first offset to read. */
  positions: readonly number[];
  /** Whether this worker reads the partition (a group worker owns some). */
  owns: (partition: number) => boolean;
  replay: BatchPlan | undefined;
  /** Each partition's end as last known (empty: not known yet). */
  ends: readonly number[];
  maxRecords: number;
  maxBytes: number;
}

/** A partition read for nothing (another worker's, or nothing there): `end` its end. */
const nothing = (partition: number, offset: number, end = offset): SourceBatch => ({
  partition,
  count: 0,
  lastOffset: offset - 1,
  nextOffset: offset,
  highWatermark: end,
});

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/** Reads the batch's records of every partition; returns them and the ends known afterwards. */
export async function fetchBatch(f: BatchFetch): Promise<{ fetched: SourceBatch[]; ends: number[] }> {
  const { source, positions, owns, replay } = f;
  const owned = positions.flatMap((_, p) => (owns(p) ? [p] : []));
  const snapshot = !replay && source.endsNow ? source.endsNow(owned) : undefined;
  const until = new Map<number, number>();
  let ends = [...f.ends];
  if (snapshot) {
    for (const [i, p] of owned.entries()) until.set(p, snapshot[i] - 1);
    ends = positions.map((o, p) => (until.has(p) ? until.get(p)! + 1 : o));
  } else if (!replay && ends.length < positions.length) {
    ends = await Promise.all(positions.map((o, p) => (owns(p) ? source.latest(p) : o)));
  }
  const limits = batchLimits(positions, ends, f.maxRecords, f.maxBytes);
  // One partition per turn of the event loop: a log may read synchronously (the embedded
  // one reads from the page cache), and a batch read ahead must not hold up the
  // current batch's work for the time of every partition's read.
  const fetched = await Promise.all(
    positions.map(async (offset, p) => {
      if (!owns(p)) return nothing(p, offset);
      for (let i = 0; i <= p; i++) await nextTurn();
      if (replay) return fetchUpTo(source, p, offset, replay.ends[p] ?? -1);
      const last = until.get(p);
      if (last === undefined) return source.fetch(p, offset, limits[p]);
      if (last < offset) return nothing(p, offset, last + 1);
      return source.fetch(p, offset, { ...limits[p], lastOffset: last });
    }),
  );
  for (const b of fetched) ends[b.partition] = Math.max(ends[b.partition] ?? 0, b.highWatermark);
  return { fetched, ends };
}
