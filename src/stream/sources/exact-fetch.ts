/**
 * Reading a partition up to an exact offset: a replayed batch plan (stateful.ts) must see
 * the same records as the first time, so the fetch continues until it reaches the plan's
 * last offset, and a source that cannot give them fails the batch (it is retried).
 */
import { TributaryError } from '../../core/errors.ts';
import type { Source, SourceBatch } from '../types.ts';

/** Fetches `partition` from `offset` through `last` exactly (a replayed batch plan), in as many fetches as the source needs. */
export async function fetchUpTo(
  source: Source,
  partition: number,
  offset: number,
  last: number,
): Promise<SourceBatch> {
  const want = last - offset + 1;
  let first = await source.fetch(partition, offset, {
    maxRecords: Math.max(0, want),
    maxBytes: 1 << 30,
    lastOffset: last,
  });
  if (want <= 0) return { ...first, count: 0, lastOffset: offset - 1, nextOffset: offset };
  while (first.count > 0 && first.lastOffset < last && first.nextOffset < first.highWatermark) {
    const more = await source.fetch(partition, first.nextOffset, {
      maxRecords: last - first.lastOffset,
      maxBytes: 1 << 30,
      lastOffset: last,
    });
    if (more.count === 0) break;
    first = concatBatches(first, more);
  }
  if (first.count === 0 || first.lastOffset !== last) {
    throw new TributaryError(
      'STORAGE_IO',
      `partition ${partition}: a replayed batch ends at offset ${last}, but the source gave records up to ${first.count === 0 ? 'none' : first.lastOffset}; retrying`,
      { partition },
    );
  }
  return first;
}

/** Two consecutive fetches of one partition as one. */
function concatBatches(a: SourceBatch, b: SourceBatch): SourceBatch {
  const av = a.values!;
  const bv = b.values!;
  const values = new Uint8Array(av.values.length + bv.values.length);
  values.set(av.values, 0);
  values.set(bv.values, av.values.length);
  const cat = (x: Float64Array, y: Float64Array) => {
    const out = new Float64Array(x.length + y.length);
    out.set(x, 0);
    out.set(y, x.length);
    return out;
  };
  const ends = new Uint32Array(av.count + bv.count);
  ends.set(av.ends.subarray(0, av.count), 0);
  for (let i = 0; i < bv.count; i++) ends[av.count + i] = bv.ends[i] + av.values.length;
  return {
    partition: a.partition,
    count: a.count + b.count,
    lastOffset: b.lastOffset,
    nextOffset: b.nextOffset,
    highWatermark: b.highWatermark,
    values: {
      ...av,
      count: av.count + bv.count,
      values,
      offsets: cat(av.offsets.subarray(0, av.count), bv.offsets.subarray(0, bv.count)),
      timestamps: cat(av.timestamps.subarray(0, av.count), bv.timestamps.subarray(0, bv.count)),
      ends,
      nextOffset: bv.nextOffset,
      highWatermark: bv.highWatermark,
    },
  };
}
