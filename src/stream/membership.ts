/**
 * What the runtime needs from a consumer group's membership (src/log/kafka/membership.ts
 * implements it): which partitions this worker should own, and a way to say it has
 * released the others. The runtime asks between batches; a partition is acknowledged as
 * released only once nothing of this worker's is in flight for it, so its next owner
 * never overlaps (docs/scale-out.md).
 */
export interface Membership {
  /** The partitions to own now, when they differ from what the worker owns (undefined: no change). */
  pending(): ReadonlySet<number> | undefined;
  /** The worker stopped work on every partition outside `owned` and took up those in it. */
  acknowledge(owned: ReadonlySet<number>): void;
  /**
   * False once the worker may have lost its partitions without being told (no answer from
   * the group for its session timeout): it must not write anything more for them.
   */
  valid(): boolean;
  /**
   * The worker learnt it lost its partitions without being told (another worker claimed
   * one of its DLQ writers): count as expired, so that the worker releases everything and
   * joins again, as after a lost session.
   */
  lost?(): void;
  /**
   * The worker's positions after a batch (per owned partition, the next offset every sink
   * still needs), to record as the group's committed offsets: informative only.
   */
  committed?(positions: ReadonlyMap<number, number>): void;
}
