/**
 * How much a batch reads from each partition: in proportion to each partition's backlog,
 * so that a backlog drains at the same pace everywhere.
 *
 * Why: the partitions of a keyed topic are not equally busy (seed 002's clickstream,
 * keyed by user, puts ~43 / 32 / 25 % of its events on 3 partitions), and a watermark is
 * the newest event time seen on any partition less its delay. Equal shares per batch
 * would carry the quieter partitions ahead in event time while a backlog drains — by
 * minutes after a few batches — and the busier partitions' events would then fall behind
 * the watermark and count as late. Reading each partition's share of the backlog keeps
 * them level in event time, as long as each backlog spans the same stretch of time (a
 * topic produced in real time). (Spark's `maxOffsetsPerTrigger` splits its limit the same
 * way.) A partition whose backlog was not known yet, or when there is no backlog, gets
 * an equal share.
 */
export interface PartitionLimits {
  maxRecords: number;
  maxBytes: number;
}

/**
 * `positions`: where each partition's read starts; `ends`: each partition's end as last
 * seen (undefined: not known). `maxRecords` and `maxBytes` are the batch's, over all
 * partitions.
 */
export function batchLimits(
  positions: readonly number[],
  ends: readonly (number | undefined)[],
  maxRecords: number,
  maxBytes: number,
): PartitionLimits[] {
  const n = positions.length;
  const equal = {
    maxRecords: Math.max(1, Math.ceil(maxRecords / n)),
    maxBytes: Math.max(1, Math.floor(maxBytes / n)),
  };
  const backlog = positions.map((p, i) => {
    const end = ends[i];
    return end === undefined ? undefined : Math.max(0, end - p);
  });
  if (backlog.some((b) => b === undefined)) return positions.map(() => ({ ...equal }));
  const total = (backlog as number[]).reduce((a, b) => a + b, 0);
  if (total === 0) return positions.map(() => ({ ...equal }));
  const records = (backlog as number[]).map((b) =>
    total > maxRecords
      ? Math.max(1, Math.floor((maxRecords * b) / total))
      : // Everything known fits: all of it, and an equal share of the rest for what arrived since.
        Math.max(1, b + Math.floor((maxRecords - total) / n)),
  );
  const sum = records.reduce((a, b) => a + b, 0);
  return records.map((r) => ({ maxRecords: r, maxBytes: Math.max(1, Math.floor((maxBytes * r) / sum)) }));
}
