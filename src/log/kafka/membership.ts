/**
 * Membership of a Kafka consumer group with the KIP-848 "consumer" protocol
 * (ConsumerGroupHeartbeat, Kafka 4.0+): the broker assigns the topic's partitions to the
 * members (its `uniform` assignor, incremental: a rebalance moves only the partitions that
 * change owner, the others keep working) and hands a partition to its new owner only once
 * the previous owner has said it released it.
 *
 * The client's own Consumer acknowledges a revocation as soon as it learns of it; a worker
 * must first finish or drop its batch for those partitions. So this class speaks the
 * protocol itself (the client's protocol layer: connections and the heartbeat API) and
 * lets the runtime decide when to acknowledge:
 *
 * - `pending()` says what the worker should own now, when that differs from what it owns
 *   (partitions revoked or assigned by the broker; nothing after fencing or when the
 *   session may have expired);
 * - the runtime stops work on what it loses and takes up what it gains, then calls
 *   `acknowledge(owned)`, which reports the new ownership to the broker at once.
 *
 * Heartbeats run on a timer at the interval the broker asks. A member that has had no
 * successful heartbeat for its session timeout counts as fenced locally (its partitions
 * may already be someone else's): `pending()` then gives the empty set, and the member
 * joins again once the broker answers. Nothing here stops a paused process from writing
 * after that; the sinks' commits are fenced by their progress (docs/scale-out.md).
 */
import { randomUUID } from 'node:crypto';
import {
  Admin,
  ConfigResourceTypes,
  type Connection,
  ConnectionPool,
  Consumer,
  consumerGroupHeartbeatV1,
  IncrementalAlterConfigOperationTypes,
  offsetCommitV9,
} from '@platformatic/kafka';
import { type Clock, systemClock } from '../../core/clock.ts';
import { TributaryError } from '../../core/errors.ts';
import { translateError } from './errors.ts';

export interface GroupMemberOptions {
  brokers: string[];
  group: string;
  topic: string;
  clientId?: string;
  /**
   * Longest time the worker may take to release revoked partitions (finish its batch,
   * flush its sinks) before the broker removes it from the group (default 60 s).
   */
  rebalanceTimeoutMs?: number;
  /**
   * When set, the group's `consumer.session.timeout.ms` is set to this before joining (the
   * broker bounds it by `group.consumer.min/max.session.timeout.ms`; default 45 s). The
   * member also counts itself fenced after this long without a successful heartbeat.
   */
  sessionTimeoutMs?: number;
  /** When set, the group's `consumer.heartbeat.interval.ms` (default 5 s on the broker). */
  heartbeatIntervalMs?: number;
  clock?: Clock;
  /** A heartbeat failed (the member keeps trying); default: a line on stderr. */
  onError?: (err: unknown) => void;
}

/** What a member owns and wants, for status pages. */
export interface MemberStatus {
  group: string;
  memberId: string;
  epoch: number;
  /** Partitions the worker owns (acknowledged to the broker). */
  owned: number[];
  /** Partitions the broker's last answer assigned. */
  assigned: number[];
  /** Milliseconds since the last successful heartbeat (undefined: none yet). */
  sinceHeartbeatMs?: number;
}

const FENCED_MEMBER_EPOCH = 110;
const UNKNOWN_MEMBER_ID = 25;
const DEFAULT_SESSION_MS = 45_000;

const sorted = (s: Iterable<number>) => [...s].sort((a, b) => a - b);
const same = (a: ReadonlySet<number>, b: ReadonlySet<number>) =>
  a.size === b.size && [...a].every((p) => b.has(p));

export class GroupMember {
  readonly group: string;
  readonly topic: string;
  readonly memberId = randomUUID();
  readonly #opts: GroupMemberOptions;
  readonly #clock: Clock;
  readonly #consumer: Consumer;
  readonly #pool: ConnectionPool;
  #topicId = '';
  #epoch = 0;
  /** What the worker owns, as last acknowledged. */
  #owned = new Set<number>();
  /** What the broker's last answer assigned (undefined: no answer yet since joining). */
  #assigned: Set<number> | undefined;
  #lastOk: number | undefined;
  #intervalMs = 5_000;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #again = false;
  #closed = false;
  /** Fenced by the broker: no heartbeat (no joining again) until the worker released everything. */
  #mustRelease = false;
  /** Fenced as seen by the worker itself (`lost()`), until it released everything. */
  #lost = false;
  #listeners = new Set<() => void>();
  #lastCommit = 0;
  #committing: Promise<void> | undefined;

  constructor(opts: GroupMemberOptions) {
    if (!opts.group)
      throw new TributaryError('CONFIG_INVALID', 'a consumer group name must be a non-empty string');
    this.#opts = opts;
    this.group = opts.group;
    this.topic = opts.topic;
    this.#clock = opts.clock ?? systemClock;
    const clientId = opts.clientId ?? 'tributary';
    this.#consumer = new Consumer({
      clientId,
      bootstrapBrokers: opts.brokers,
      groupId: opts.group,
      retries: 3,
    });
    this.#pool = new ConnectionPool(clientId);
  }

  /** Sets the group's timeouts when asked, joins, and keeps heartbeating until `leave`. */
  async join(): Promise<void> {
    await this.#configureGroup();
    const meta = await this.#consumer.metadata({ topics: [this.topic] });
    const t = meta.topics.get(this.topic);
    if (!t) {
      throw new TributaryError(
        'LOG_TOPIC_NOT_FOUND',
        `topic '${this.topic}' does not exist on ${this.#opts.brokers.join(',')}`,
        {
          topic: this.topic,
        },
      );
    }
    this.#topicId = t.id;
    await this.#heartbeat();
    this.#schedule();
  }

  /**
   * The partitions the worker should own now, when they differ from what it owns: the
   * broker's assignment, or nothing when the member was fenced or its session may have
   * expired. Undefined: nothing to change.
   */
  pending(): ReadonlySet<number> | undefined {
    const want = this.valid() ? (this.#assigned ?? this.#owned) : new Set<number>();
    return same(want, this.#owned) ? undefined : want;
  }

  /** True while the last successful heartbeat is within the session timeout (and the worker did not find itself fenced). */
  valid(): boolean {
    if (this.#lastOk === undefined || this.#lost) return false;
    return this.#clock.now() - this.#lastOk < (this.#opts.sessionTimeoutMs ?? DEFAULT_SESSION_MS);
  }

  /**
   * The worker found its partitions taken (another worker claimed one of its DLQ
   * writers): it counts as fenced until it has released everything; then it joins again.
   * Heartbeats stop meanwhile, so no answer revives the old assignment.
   */
  lost(): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#mustRelease = true;
    this.#notify();
  }

  /** The worker stopped work on every partition outside `owned` and took up those in it. */
  acknowledge(owned: ReadonlySet<number>): void {
    this.#owned = new Set(owned);
    if (!this.valid() && owned.size === 0) {
      // Released everything after being fenced (or losing the session, or finding itself
      // fenced): join again. A member the broker still has at a later epoch may join
      // again with epoch 0 under its id (test/log/kafka-membership.test.ts).
      this.#epoch = 0;
      this.#mustRelease = false;
      this.#lost = false;
      this.#lastOk = undefined;
      this.#assigned = undefined;
    }
    this.#kick();
  }

  /**
   * Records the worker's positions (per owned partition, the next offset every sink still
   * needs) as the group's committed offsets, at most once a second, so Kafka's tools show
   * the group's lag per partition. Informative only: a worker resumes from its tables.
   * Failures are ignored (the next call tries again).
   */
  committed(positions: ReadonlyMap<number, number>): void {
    const now = this.#clock.now();
    if (this.#committing || now - this.#lastCommit < 1_000) return;
    const parts = [...positions].filter(([p, o]) => this.#owned.has(p) && o >= 0);
    if (parts.length === 0 || !this.valid() || this.#epoch <= 0) return;
    this.#lastCommit = now;
    this.#committing = this.commitOffsets(new Map(parts))
      .catch(() => {})
      .finally(() => {
        this.#committing = undefined;
      });
  }

  /** Commits these offsets for the group as this member (OffsetCommit v9: member id and epoch). */
  async commitOffsets(offsets: ReadonlyMap<number, number>): Promise<void> {
    const conn = await this.#coordinator();
    const res = await offsetCommitV9.api.async(conn, this.group, this.#epoch, this.memberId, null, [
      {
        name: this.topic,
        partitions: [...offsets].map(([partitionIndex, o]) => ({
          partitionIndex,
          committedOffset: BigInt(o),
          committedLeaderEpoch: -1,
          committedMetadata: null,
        })),
      },
    ]);
    const failed = res.topics.flatMap((t) => t.partitions).filter((p) => p.errorCode !== 0);
    if (failed.length > 0) {
      throw new TributaryError(
        'LOG_BROKER',
        `committing group '${this.group}' offsets failed for partitions ${failed.map((p) => `${p.partitionIndex} (error ${p.errorCode})`).join(', ')}`,
      );
    }
  }

  /** Calls `fn` whenever `pending()` may have changed (a heartbeat answered). */
  onChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  status(): MemberStatus {
    return {
      group: this.group,
      memberId: this.memberId,
      epoch: this.#epoch,
      owned: sorted(this.#owned),
      assigned: sorted(this.#assigned ?? []),
      ...(this.#lastOk !== undefined && { sinceHeartbeatMs: this.#clock.now() - this.#lastOk }),
    };
  }

  /** Leaves the group (the broker reassigns at once); call once the worker released everything. */
  async leave(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#inFlight?.catch(() => {});
    await this.#committing;
    try {
      await this.#send(-1, []);
    } catch {
      // The session expires on its own.
    }
    await this.close();
  }

  /** Stops heartbeating without leaving (the session expires on the broker). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#inFlight?.catch(() => {});
    await this.#pool.close().catch(() => {});
    await this.#consumer.close().catch(() => {});
  }

  async #configureGroup(): Promise<void> {
    const configs: Array<{ name: string; value: string }> = [];
    if (this.#opts.sessionTimeoutMs !== undefined)
      configs.push({ name: 'consumer.session.timeout.ms', value: String(this.#opts.sessionTimeoutMs) });
    if (this.#opts.heartbeatIntervalMs !== undefined)
      configs.push({ name: 'consumer.heartbeat.interval.ms', value: String(this.#opts.heartbeatIntervalMs) });
    if (configs.length === 0) return;
    const admin = new Admin({
      clientId: this.#opts.clientId ?? 'tributary',
      bootstrapBrokers: this.#opts.brokers,
    });
    try {
      await admin.incrementalAlterConfigs({
        resources: [
          {
            resourceType: ConfigResourceTypes.GROUP,
            resourceName: this.group,
            configs: configs.map((c) => ({
              ...c,
              configOperation: IncrementalAlterConfigOperationTypes.SET,
            })),
          },
        ],
      });
    } catch (err) {
      throw translateError(err, {
        brokers: this.#opts.brokers.join(','),
        operation: `set the session timeout and heartbeat interval of group '${this.group}' (the broker bounds them by group.consumer.min/max.session.timeout.ms and group.consumer.min/max.heartbeat.interval.ms)`,
        group: this.group,
      });
    } finally {
      await admin.close().catch(() => {});
    }
  }

  /** A heartbeat now (or right after the one in flight). */
  #kick(): void {
    if (this.#closed || this.#mustRelease) return;
    if (this.#inFlight) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#inFlight = this.#heartbeat()
      .catch((err) =>
        (this.#opts.onError ?? ((e) => console.error(`group ${this.group}: heartbeat failed: ${String(e)}`)))(
          err,
        ),
      )
      .finally(() => {
        this.#inFlight = undefined;
        if (this.#again) {
          this.#again = false;
          this.#kick();
        } else this.#schedule();
      });
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#kick(), this.#intervalMs);
  }

  async #heartbeat(): Promise<void> {
    const joining = this.#epoch === 0;
    let res: consumerGroupHeartbeatV1.ConsumerGroupHeartbeatResponse;
    try {
      res = await this.#send(this.#epoch, joining ? [] : sorted(this.#owned));
    } catch (err) {
      const code = (err as { response?: { errorCode?: number } }).response?.errorCode;
      if (code === FENCED_MEMBER_EPOCH || code === UNKNOWN_MEMBER_ID) {
        // The broker gave our partitions away: release everything, then join again.
        this.#assigned = new Set();
        this.#lastOk = undefined;
        this.#epoch = 0;
        this.#mustRelease = this.#owned.size > 0;
        this.#notify();
      }
      if (!this.#closed) this.#schedule();
      throw err;
    }
    this.#lastOk = this.#clock.now();
    this.#epoch = res.memberEpoch;
    if (res.heartbeatIntervalMs > 0) this.#intervalMs = res.heartbeatIntervalMs;
    if (res.assignment) {
      const mine = new Set<number>();
      for (const tp of res.assignment.topicPartitions) {
        if (tp.topicId === this.#topicId) for (const p of tp.partitions) mine.add(p);
      }
      this.#assigned = mine;
    } else if (joining) {
      this.#assigned ??= new Set();
    }
    this.#notify();
  }

  #notify(): void {
    for (const fn of this.#listeners) fn();
  }

  async #send(
    epoch: number,
    owned: number[],
  ): Promise<consumerGroupHeartbeatV1.ConsumerGroupHeartbeatResponse> {
    const conn = await this.#coordinator();
    try {
      return await consumerGroupHeartbeatV1.api.async(
        conn,
        this.group,
        this.memberId,
        epoch,
        null,
        null,
        this.#opts.rebalanceTimeoutMs ?? 60_000,
        epoch === -1 ? null : [this.topic],
        null,
        null,
        epoch <= 0 || owned.length === 0 ? [] : [{ topicId: this.#topicId, partitions: owned }],
      );
    } catch (err) {
      const code = (err as { response?: { errorCode?: number } }).response?.errorCode;
      // NOT_COORDINATOR (16), COORDINATOR_NOT_AVAILABLE (15): look it up again next time.
      if (code === 16 || code === 15 || code === undefined) this.#coordinatorConn = undefined;
      throw err;
    }
  }

  #coordinatorConn: Promise<Connection> | undefined;

  #coordinator(): Promise<Connection> {
    this.#coordinatorConn ??= (async () => {
      const node = await this.#consumer.findGroupCoordinator();
      const meta = await this.#consumer.metadata({ topics: [this.topic] });
      const broker = meta.brokers.get(node);
      if (!broker)
        throw new TributaryError(
          'LOG_BROKER',
          `group coordinator ${node} of '${this.group}' is not in the cluster metadata`,
        );
      return this.#pool.get(broker);
    })();
    const p = this.#coordinatorConn;
    p.catch(() => {
      if (this.#coordinatorConn === p) this.#coordinatorConn = undefined;
    });
    return p;
  }
}
