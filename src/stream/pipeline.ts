/**
 * The streaming runtime: micro-batches over the partitions of one source topic, feeding
 * several sinks from one decode + validate pass.
 *
 * One batch: fetch each partition from the lowest offset any sink still needs (at most
 * `maxRecordsPerBatch` in all, so a burst is absorbed over several batches and memory
 * stays bounded) → decode and validate in DuckDB (decode.ts) → rejected records to the
 * DLQ → each sink writes the records past its own progress and commits them with that
 * progress (exactly-once: types.ts, sinks/). Sinks run one after the other on the
 * pipeline's DuckDB connection, where the batch's temp tables live.
 *
 * While the source is backlogged, the next batch is fetched and decoded (on a connection
 * of its own, into a table of its own) while the sinks write the current one: decoding
 * is mostly JSON parsing, the sinks mostly Parquet encoding, and together they use both
 * cores. Commits keep their order: the next batch's sinks start only after the current
 * batch's committed. A failed batch drops the batch read ahead (its records start where
 * the failed one ended) and everything restarts from what the sinks committed — once
 * every piece of the failed batch's work has settled (`settleFailedBatch`).
 *
 * Between batches, every `maintenanceIntervalMs` of the clock, each sink's `maintain()`
 * runs (compaction, vacuum, checkpoints) in the same process.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { type Clock, systemClock } from '../core/clock.ts';
import { TributaryError } from '../core/errors.ts';
import type { Log } from '../log/log.ts';
import type { FileRef } from '../table/index.ts';
import { openConnection } from '../table/index.ts';
import { fetchBatch } from './batch-fetch.ts';
import { BatchLatency, type LatencyInputs, latencyInputs } from './batch-latency.ts';
import { lateRejects, loadRows, validRows } from './batch-rows.ts';
import { type DlqOptions, type DlqProgressSink, DlqStage } from './dlq-stage.ts';
import type { Membership } from './membership.ts';
import { PipelineMetrics } from './metrics.ts';
import { type OnRetry, type RetryPolicy, runLoop } from './run-loop.ts';
import { sweepStaleScratch } from './scratch.ts';
import type { BatchPlan, StatefulSteps } from './stateful.ts';
import type {
  BatchView,
  Decoder,
  DeferredDecodedBatch,
  Progress,
  RejectedRecord,
  Sink,
  SinkResult,
  Source,
  SourceBatch,
  StepCheck,
} from './types.ts';

export interface PipelineOptions {
  /** Pipeline name: the first part of every txn appId. */
  name: string;
  /** Where the records come from (a topic: sources/topic.ts). */
  source: Source;
  /** Turns the source's record bytes into rows (the JSON decoder with a contract: connectors/json). */
  decoder?: Decoder;
  /**
   * Keep records that break a rule of the contract as rows, with a status column
   * (`SUCCESS` / `FAILED`) and a reason column (seed 003's `validation_status`), instead of
   * sending them to the DLQ; records that are not JSON objects of the contract's types
   * still go to the DLQ.
   */
  tagFailures?: { statusColumn: string; reasonColumn: string };
  /** For a source of rows (a Delta table): SQL reading those files as the table's rows. */
  rowsRelation?: (conn: DuckDBConnection, files: readonly FileRef[]) => Promise<string>;
  sinks: Sink[];
  /**
   * Dead-letter topic (on `log`), and the Delta sink whose commits also record the DLQ's
   * progress.
   */
  dlq?: DlqOptions;
  /** SQL over a valid record: its event time in ms (for event-time latency). */
  eventTimeMs?: string;
  /** Minimum time between batch starts when the source is not backlogged (default 200 ms). */
  triggerMs?: number;
  /** At most this many records per batch over all partitions (default 200,000). */
  maxRecordsPerBatch?: number;
  /** At most about this many value bytes per batch (default 64 MiB). */
  maxBytesPerBatch?: number;
  /** Read the next batch ahead while the sinks write the current one, when backlogged (default true). */
  readAhead?: boolean;
  /**
   * Threads of the process's DuckDB instance, set on open (default 1). The runtime runs
   * several statements at once — the next batch's decode, the sinks, the background
   * MERGE — and DuckDB's parallelism within a statement then costs more CPU than it
   * saves (drain of 2,000,000 order events on 2 cores: 30.0 → 23.7 CPU-seconds, 119k →
   * 144k events/s; p99 at 50,000 events/s 1.7 → 1.5 s). The setting is the instance's:
   * it applies to every connection of the process.
   */
  duckdbThreads?: number;
  /**
   * Windows and their state (stateful.ts), and the sinks that read them: the state is
   * kept consistent with those sinks' progress.
   */
  stateful?: { keeper: StatefulSteps; sinks: Sink[] };
  /** Run each sink's `maintain()` this often (clock time); undefined: never. */
  maintenanceIntervalMs?: number;
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
  /** Counters to add to (default: new ones): a pipeline replacing another keeps counting in its metrics. */
  metrics?: PipelineMetrics;
  /**
   * A consumer group's worker (run with a membership): it owns no partition until the
   * group assigns some, so opening loads no partition's window state or DLQ tail.
   */
  grouped?: boolean;
}

export type { DlqProgressSink };

export interface BatchReport {
  records: number;
  valid: number;
  rejected: number;
  durationMs: number;
  caughtUp: boolean;
  /** Milliseconds spent per stage: fetch, decode, prepare, explain (waiting for the rejects' reasons), dlq, and one entry per sink. */
  stages: Record<string, number>;
}

export interface PipelineDescription {
  name: string;
  /** The source's name (a topic's, a table's). */
  source: string;
  /** The source's partitions (0 until the pipeline is open). */
  partitions: number;
  sinks: string[];
  /** Where rejected records go, when the pipeline has a DLQ. */
  dlq?: { log: Log; topic: string };
}

/** A batch fetched and decoded, not yet written by the sinks. */
interface ReadBatch {
  fetched: SourceBatch[];
  /** Per partition, where the next batch starts. */
  next: number[];
  records: number;
  backlog: boolean;
  decoded?: DeferredDecodedBatch;
  /** The batch plan this batch replays exactly (stateful.ts), if any. */
  replay?: BatchPlan;
  latency?: LatencyInputs;
  startedAt: number;
  stages: Record<string, number>;
}

let pipelines = 0;

/** The records of a topic's batch past `progress` (by their offsets: a log may leave gaps); a table's rows are not records. */
function recordsPast(batches: readonly SourceBatch[], progress: Progress): number {
  let n = 0;
  for (const b of batches) {
    const done = progress.get(b.partition) ?? -1;
    if (b.values) {
      const offsets = b.values.offsets;
      // Offsets ascend: the first past `done`, by bisection.
      let lo = 0;
      let hi = b.values.count;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (offsets[mid] <= done) lo = mid + 1;
        else hi = mid;
      }
      n += b.values.count - lo;
    }
  }
  return n;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Pipeline {
  readonly metrics: PipelineMetrics;
  private readonly opts: PipelineOptions;
  private readonly clock: Clock;
  private readonly sleep: (ms: number) => Promise<void>;
  private conn?: DuckDBConnection;
  /** Where batches are decoded, alongside the sinks' work on `conn`. */
  private decodeConn?: DuckDBConnection;
  /** Where rejected records are explained, one per batch slot (two batches can be alive). */
  private explainConns: DuckDBConnection[] = [];
  /** Names of the two shared tables decoded batches alternate between. */
  private readonly rawTables: string[];
  private slot = 0;
  /** The next batch, being read while the sinks write the current one. */
  private ahead?: Promise<ReadBatch>;
  private partitions = 0;
  /** Per partition, its end as last seen (for each partition's share of a batch). */
  private ends: number[] = [];
  private readonly progress = new Map<Sink, Progress>();
  private dlq?: DlqStage;
  private nextMaintenance = Number.POSITIVE_INFINITY;
  /** Latency inputs of batches some sink still buffers: recorded when the last sink commits them. */
  private readonly latency = new BatchLatency();
  private seq = 0;
  /** The failures of the last failed batch after its first (the one thrown). */
  private alsoFailed: unknown[] = [];
  /** The partitions this worker processes (undefined: all; a group member's: membership.ts). */
  private owned?: ReadonlySet<number>;
  private member?: Membership;

  constructor(opts: PipelineOptions) {
    this.opts = opts;
    this.metrics = opts.metrics ?? new PipelineMetrics();
    this.clock = opts.clock ?? systemClock;
    this.sleep = opts.sleep ?? realSleep;
    if (opts.grouped) this.owned = new Set();
    const id = `${process.pid}_${++pipelines}`;
    this.rawTables = [0, 1].map((i) => `__stream_raw_${id}_${i}`);
  }

  /** What the pipeline reads and writes, for status pages (the serving layer's pipelines API). */
  describe(): PipelineDescription {
    const dlq = this.opts.dlq;
    return {
      name: this.opts.name,
      source: this.opts.source.name,
      partitions: this.partitions,
      sinks: this.opts.sinks.map((s) => s.name),
      ...(dlq && { dlq: { log: dlq.log, topic: dlq.topic } }),
    };
  }

  /** Loads every sink's committed progress (and the dedup state derived from it). */
  async open(): Promise<void> {
    this.partitions = await this.opts.source.partitions();
    await sweepStaleScratch();
    this.conn = await openConnection();
    await this.conn.run(`SET threads = ${Math.max(1, Math.floor(this.opts.duckdbThreads ?? 1))}`);
    this.decodeConn = await openConnection();
    this.explainConns = [await openConnection(), await openConnection()];
    if (this.opts.dlq) {
      this.dlq = new DlqStage({
        ...this.opts.dlq,
        pipeline: this.opts.name,
        sourceTopic: this.opts.source.name,
        contract: this.opts.decoder?.contractName ?? this.opts.source.name,
        clock: this.clock,
      });
      await this.dlq.reset(this.partitions);
    }
    await this.loadProgress();
    if (this.opts.maintenanceIntervalMs !== undefined) {
      this.nextMaintenance = this.clock.now() + this.opts.maintenanceIntervalMs;
    }
  }

  /**
   * What every sink (and the DLQ) has durably committed, from their own storage. Run on
   * open and after a failed batch: a failure can leave a commit whose outcome is unknown
   * (e.g. the storage wrote it but the answer was lost), so memory is not trusted then.
   */
  private async loadProgress(): Promise<void> {
    await this.dropAhead();
    this.latency.reset();
    for (const sink of this.opts.sinks) this.progress.set(sink, await sink.open(this.conn!, this.partitions));
    const st = this.opts.stateful;
    if (st) {
      await st.keeper.open(
        this.conn!,
        this.partitions,
        st.sinks.map((s) => this.progress.get(s)!),
        this.owned,
      );
    }
    await this.dlq?.load(this.partitions, this.owned, this.member !== undefined);
  }

  /** Per partition: the first offset some sink (or the DLQ) has not committed. */
  positions(): number[] {
    const out: number[] = [];
    for (let p = 0; p < this.partitions; p++) {
      let min = Number.POSITIVE_INFINITY;
      for (const prog of this.progress.values()) min = Math.min(min, prog.get(p) ?? -1);
      if (this.dlq) min = Math.min(min, this.dlq.progress.get(p) ?? -1);
      out.push(min + 1);
    }
    return out;
  }

  /** Forgets the batch read ahead (after a failure, or when stopping), once its reads settled; returns its failure. */
  private async dropAhead(): Promise<unknown> {
    const ahead = this.ahead;
    this.ahead = undefined;
    try {
      await (await ahead)?.decoded?.rejected;
      return undefined;
    } catch (err) {
      return err;
    }
  }

  /**
   * After a batch failed: waits until everything the batch started has settled — the
   * rejects' explanations and the DLQ write, every sink's write, the sinks' background
   * commits, the batch read ahead — before anyone reloads progress. A reload while the
   * DLQ write is still in flight reads the DLQ's tail without the batch's rejects (the
   * retry sends them again), and a sink reset under a write still running loses or
   * mixes what that write buffers. Returns the first failure (the one reported); the
   * others are kept in `alsoFailed`, for `run()` to report.
   */
  private async settleFailedBatch(first: unknown, work: readonly Promise<unknown>[]): Promise<unknown> {
    const others = new Set<unknown>();
    for (const r of await Promise.allSettled(work)) if (r.status === 'rejected') others.add(r.reason);
    others.add(await this.dropAhead());
    for (const sink of this.opts.sinks) await sink.settle?.();
    others.delete(first);
    others.delete(undefined);
    this.alsoFailed = [...others];
    return first;
  }

  /** Fetches from `positions` and decodes into the next slot's table. */
  private async read(positions: number[]): Promise<ReadBatch> {
    const { source } = this.opts;
    const startedAt = this.clock.now();
    const stages: Record<string, number> = {};
    const replay = this.opts.stateful?.keeper.nextReplay();
    const { fetched, ends } = await fetchBatch({
      source,
      positions,
      owns: (p) => this.owned === undefined || this.owned.has(p),
      replay,
      ends: this.ends,
      maxRecords: this.opts.maxRecordsPerBatch ?? 200_000,
      maxBytes: this.opts.maxBytesPerBatch ?? 64 * 1024 * 1024,
    });
    this.ends = ends;
    let records = 0;
    let backlog = false;
    const next = [...positions];
    for (const b of fetched) {
      records += b.count;
      if (b.nextOffset < b.highWatermark) backlog = true;
      if (b.count > 0) next[b.partition] = b.lastOffset + 1;
    }
    if (replay) backlog = true;
    const batch: ReadBatch = { fetched, next, records, backlog, startedAt, stages, replay };
    if (records === 0) return batch;
    const mark = this.clock.now();
    stages.fetch = mark - startedAt;
    const slot = this.slot++ % 2;
    const withRows = fetched.filter((b) => b.count > 0 && b.rows);
    if (withRows.length > 0) {
      batch.decoded = await loadRows(
        this.decodeConn!,
        withRows,
        this.rawTables[slot],
        this.opts.rowsRelation!,
      );
    } else {
      const decoder = this.opts.decoder;
      if (!decoder)
        throw new Error(`pipeline ${this.opts.name}: the source gave record bytes but no decoder was given`);
      batch.decoded = await decoder.decode(
        this.decodeConn!,
        fetched.filter((b) => b.count > 0).map((b) => b.values!),
        this.explainConns[slot],
        { table: this.rawTables[slot], shared: true },
      );
    }
    try {
      batch.latency = await latencyInputs(this.decodeConn!, batch.decoded.rawTable, this.opts.eventTimeMs);
    } catch (err) {
      await batch.decoded.rejected.catch(() => {});
      throw err;
    }
    stages.decode = this.clock.now() - mark;
    return batch;
  }

  /**
   * Runs one micro-batch; `caughtUp` when there was nothing left to read. When it fails,
   * it rejects only once all of the batch's work has settled (`settleFailedBatch`).
   */
  async runBatch(): Promise<BatchReport> {
    this.alsoFailed = [];
    let read: ReadBatch;
    let waited = 0;
    if (this.ahead) {
      const t0 = this.clock.now();
      const ahead = this.ahead;
      this.ahead = undefined;
      read = await ahead;
      waited = this.clock.now() - t0;
    } else {
      read = await this.read(this.positions());
    }
    if (read.records === 0) {
      this.updateLag(read.fetched);
      // Caught up: sinks that buffer commit what is due rather than wait for a record.
      for (const sink of this.opts.sinks) {
        const res = await sink.tick?.();
        if (res) this.afterWrite(sink, res);
      }
      return { records: 0, valid: 0, rejected: 0, durationMs: 0, caughtUp: true, stages: read.stages };
    }
    // Everything the batch starts, to be settled if it fails.
    const work: Array<Promise<unknown>> = [read.decoded!.rejected];
    try {
      return await this.writeBatch(read, waited, work);
    } catch (err) {
      throw await this.settleFailedBatch(err, work);
    }
  }

  /** The DLQ and the sinks write a batch read (and decoded); `work` collects what they start. */
  private async writeBatch(
    read: ReadBatch,
    waited: number,
    work: Array<Promise<unknown>>,
  ): Promise<BatchReport> {
    const conn = this.conn!;
    const topic = this.opts.source.name;
    const { fetched, records, backlog } = read;
    const decoded = read.decoded!;
    // Read the next batch while this one is written (when there is more to read).
    if (backlog && this.opts.readAhead !== false) {
      this.ahead = this.read(read.next);
      // Awaited by the next runBatch, or dropped; a failure must not count as unhandled meanwhile.
      this.ahead.catch(() => {});
    }
    const started = read.startedAt;
    const stages: Record<string, number> = { ...read.stages };
    if (waited > 0) stages.wait = waited;
    let mark = this.clock.now();
    const lap = (name: string) => {
      const now = this.clock.now();
      stages[name] = now - mark;
      mark = now;
    };
    const batches = fetched.filter((b) => b.count > 0);
    // With `tagFailures`, rows that break a rule of the contract are kept, tagged.
    const { rows, tagged } = await validRows(conn, decoded, this.opts.tagFailures);
    await conn.run(`CREATE OR REPLACE TEMP VIEW ${decoded.validTable} AS ${rows}`);
    const lastOffsets = new Map<number, number>();
    for (const b of batches) lastOffsets.set(b.partition, b.lastOffset);
    const prepView: BatchView = {
      conn,
      topic,
      validTable: decoded.validTable,
      sharedValid: `(${rows})`,
      rejected: [],
      lastOffsets,
      startedAt: started,
      seq: ++this.seq,
    };
    const latency = read.latency!;

    // Sinks prepare (on the batch connection) while the rejected records are explained
    // on another; nothing is committed before the DLQ write below, so the order of
    // commits (DLQ, then the sinks with the DLQ's progress) is unchanged.
    // Windows first: their outputs are what some sinks write, their late rows go to the DLQ.
    let late: RejectedRecord[] = [];
    let steps: StepCheck[] = [];
    const st = this.opts.stateful;
    if (st) {
      const res = await st.keeper.process(conn, decoded.validTable, lastOffsets, read.replay, started);
      prepView.relations = res.outputs;
      prepView.plan = res.plan;
      steps = res.checks;
      this.metrics.lateDropped += res.dropped;
      this.metrics.late += res.routed;
      this.metrics.deduplicated += res.duplicates;
      late = lateRejects(res.late, fetched);
      this.metrics.late += res.dropped + late.length;
      lap('windows');
    }
    prepView.quality = {
      rejected: decoded.rejected,
      steps,
      rawTable: decoded.rawTable,
      recordsPast: (progress) => recordsPast(batches, progress),
    };
    for (const sink of this.opts.sinks) await sink.prepare?.(prepView, this.progress.get(sink)!);
    lap('prepare');
    // The rejects' explanations and the DLQ write run while the sinks write their files;
    // the sink that records the DLQ's progress commits it only once the DLQ write is done
    // (its `extraTxn`), so the order of commits (DLQ, then that sink) is unchanged.
    const dlqStart = this.clock.now();
    const dlqDone = (async () => {
      const explained = (await decoded.rejected).filter((r) => !tagged.has(`${r.partition}/${r.offset}`));
      const rejected =
        late.length === 0
          ? explained
          : [...explained, ...late].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
      stages.explain = this.clock.now() - dlqStart;
      let dlqTxn: Array<{ appId: string; version: number }> = [];
      if (this.dlq) {
        const t0 = this.clock.now();
        const r = await this.dlq.write({ ...prepView, rejected }, lastOffsets, this.member);
        this.metrics.dlqWritten += r.written;
        dlqTxn = r.txn;
        stages.dlq = this.clock.now() - t0;
      }
      return { rejected, dlqTxn };
    })();
    // Awaited below with the sinks; a failure must not count as unhandled meanwhile.
    dlqDone.catch(() => {});
    work.push(dlqDone);
    const view = prepView;
    this.latency.started(view.seq, this.opts.sinks, latency);
    const none = async () => [];
    const runSink = async (sink: Sink) => {
      const progress = this.progress.get(sink)!;
      const extra = this.opts.dlq?.progressIn === sink ? async () => (await dlqDone).dlqTxn : none;
      const t0 = this.clock.now();
      const res = await sink.write(view, progress, extra);
      stages[sink.name] = this.clock.now() - t0;
      this.afterWrite(sink, res);
      for (const [p, o] of lastOffsets) if ((progress.get(p) ?? -1) < o) progress.set(p, o);
    };
    // Sinks on the batch connection one after the other; the rest alongside them.
    const onConn = this.opts.sinks.filter((s) => s.usesBatchConnection);
    const others = this.opts.sinks.filter((s) => !s.usesBatchConnection);
    const writes = [
      (async () => {
        for (const s of onConn) await runSink(s);
      })(),
      ...others.map(runSink),
    ];
    work.push(...writes);
    // The first failure rejects this at once; the caller then waits for the rest.
    const [{ rejected }] = await Promise.all([dlqDone, ...writes]);
    if (st && view.seq % 10 === 0) await st.keeper.prune(st.sinks.map((x) => this.progress.get(x)!));
    const committed = this.clock.now();
    const durationMs = committed - started;
    this.metrics.batches++;
    this.metrics.recordsIn += records;
    this.metrics.invalid += rejected.length;
    this.metrics.tagged += tagged.size;
    this.metrics.batchMs.record(durationMs);
    this.metrics.lastBatchMs = durationMs;
    this.updateLag(fetched);
    return {
      records,
      valid: decoded.valid,
      rejected: rejected.length,
      durationMs,
      caughtUp: !backlog,
      stages,
    };
  }

  /** Counts a sink's result; once every sink has committed a batch, records its latency. */
  private afterWrite(sink: Sink, res: SinkResult): void {
    const c = this.metrics.sink(sink.name);
    c.rows += res.rows;
    c.duplicates += res.duplicates ?? 0;
    c.commits += res.commits ?? (res.version !== undefined ? 1 : 0);
    c.conflicts += res.conflicts ?? 0;
    if (res.durableThrough !== undefined) {
      this.latency.durable(this.metrics, sink, c, res.durableThrough, this.clock.now());
    }
  }

  /** Commits what sinks buffered or are still committing (end of a run, graceful stop). */
  async flush(): Promise<void> {
    for (const sink of this.opts.sinks) {
      const res = await sink.flush?.(this.conn!, this.seq);
      if (res) this.afterWrite(sink, res);
    }
  }

  /** Record timestamps and event times of the batch, bucketed to 10 ms (a few hundred rows). */
  private updateLag(fetched: SourceBatch[]): void {
    const positions = this.positions();
    for (const b of fetched) {
      if (this.owned && !this.owned.has(b.partition)) continue;
      this.metrics.lag.set(b.partition, Math.max(0, b.highWatermark - positions[b.partition]));
    }
  }

  /** Re-reads each partition's latest offset, so `metrics.lag` counts records produced since the last fetch. */
  async refreshLag(): Promise<void> {
    const positions = this.positions();
    for (let p = 0; p < this.partitions; p++) {
      if (this.owned && !this.owned.has(p)) continue;
      const latest = await this.opts.source.latest(p);
      this.metrics.lag.set(p, Math.max(0, latest - positions[p]));
    }
  }

  /** The partitions this worker processes (undefined: every partition). */
  ownedPartitions(): ReadonlySet<number> | undefined {
    return this.owned;
  }

  /**
   * Hands partitions over (a group's rebalance): the batch read ahead is dropped and
   * whatever the sinks buffered is committed while this worker still owns every partition
   * it had; then it works on `owned` only, from the progress its sinks' tables hold (a
   * partition taken over resumes where its previous owner committed). Call between batches.
   */
  async assign(owned: ReadonlySet<number>): Promise<void> {
    await this.dropAhead();
    await this.flush();
    const max = Math.max(-1, ...owned);
    if (max >= this.partitions) {
      // The topic gained partitions since this worker started: work on all of them (the
      // DLQ topic is grown to as many by DlqSink.open).
      this.partitions = await this.opts.source.partitions();
      await this.dlq?.reset(this.partitions);
      if (max >= this.partitions) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `pipeline ${this.opts.name}: partition ${max} of ${this.opts.source.name} was assigned, but the topic has ${this.partitions} partitions`,
          { partition: max, partitions: this.partitions },
        );
      }
    }
    this.owned = new Set(owned);
    this.ends = [];
    for (const p of [...this.metrics.lag.keys()]) if (!this.owned.has(p)) this.metrics.lag.delete(p);
    // The DLQ writers of the partitions gained are claimed before their tails are read:
    // whatever a previous owner still had in flight is aborted first.
    await this.dlq?.own(this.owned);
    await this.loadProgress();
  }

  /** Runs sinks' maintenance if it is due by the clock. */
  async maybeMaintain(): Promise<boolean> {
    if (this.clock.now() < this.nextMaintenance) return false;
    for (const sink of this.opts.sinks) await sink.maintain?.();
    this.nextMaintenance = this.clock.now() + (this.opts.maintenanceIntervalMs ?? Number.POSITIVE_INFINITY);
    return true;
  }

  /**
   * Runs batches until `signal` aborts, or (with `untilCaughtUp`) until a fetch finds
   * every partition drained and everything before it committed.
   *
   * Failures are handled by the shared loop (run-loop.ts): a retryable one is reported to
   * `onError`, progress is reloaded from the sinks' storage once all of the failed
   * batch's work has settled, and the batch is retried after a back-off; PostgreSQL
   * being down is waited out; other errors are thrown.
   */
  async run(
    opts: {
      untilCaughtUp?: boolean;
      signal?: AbortSignal;
      onBatch?: (r: BatchReport) => void;
      /**
       * A retryable failure, about to be retried in `retryInMs`; `others`: the batch's
       * further failures (first one is `err`). Default: a line on stderr, and one when a
       * batch succeeds again.
       */
      onError?: OnRetry;
      /**
       * A consumer group's membership (membership.ts): the worker processes only the
       * partitions it is assigned, and releases revoked ones between batches.
       */
      membership?: Membership;
      /**
       * With `untilCaughtUp` and a membership: whether every partition of the topic is
       * drained and committed by the group (asked at most once a second while this worker
       * owns none; a worker given nothing stops when it is true).
       */
      groupCaughtUp?: () => Promise<boolean>;
    } & RetryPolicy = {},
  ) {
    const member = opts.membership;
    this.member = member;
    if (member && this.owned === undefined) this.owned = new Set();
    let stopped = true;
    let askedGroupAt = Number.NEGATIVE_INFINITY;
    await runLoop({
      ...opts,
      label: 'pipeline',
      unit: 'batch',
      idleMs: this.opts.triggerMs ?? 200,
      clock: this.clock,
      sleep: this.sleep,
      onRetry: opts.onError,
      takeOthers: () => this.alsoFailed.splice(0),
      // After a failure, progress is reloaded inside the retried step: the reload reads
      // the same storage that just failed, and may fail (and be retried) too.
      step: async (afterFailure) => {
        if (afterFailure) await this.loadProgress();
        const want = member?.pending();
        if (want && member) {
          await this.assign(want);
          member.acknowledge(want);
        }
        if (this.owned?.size === 0) {
          if (opts.untilCaughtUp && opts.groupCaughtUp && this.clock.now() - askedGroupAt >= 1000) {
            askedGroupAt = this.clock.now();
            if (await opts.groupCaughtUp()) {
              stopped = false;
              return 'done';
            }
          }
          return 'idle';
        }
        const report = await this.runBatch();
        // Informative group offsets, at most once a second (also when idle, so the last ones land).
        if (member?.committed) {
          const at = this.positions();
          member.committed(new Map([...(this.owned ?? [])].map((p) => [p, at[p]])));
        }
        if (report.records > 0) opts.onBatch?.(report);
        await this.maybeMaintain();
        if (opts.untilCaughtUp && report.records === 0) {
          await this.flush();
          stopped = false;
          return 'done';
        }
        return report.caughtUp ? 'idle' : 'busy';
      },
    });
    if (!stopped) return;
    // Stopped on request: commit what sinks buffered, so a graceful stop leaves nothing to re-read.
    await this.dropAhead();
    await this.flush();
  }

  async close(): Promise<void> {
    await this.dropAhead();
    await this.dlq?.close();
    if (this.conn) await this.opts.stateful?.keeper.close(this.conn);
    for (const sink of this.opts.sinks) await sink.close?.();
    this.conn?.closeSync();
    this.conn = undefined;
    for (const table of this.rawTables) {
      await this.decodeConn?.run(`DROP TABLE IF EXISTS ${table}`);
      await this.decodeConn?.run(`DROP TABLE IF EXISTS ${table}_tags`);
    }
    this.decodeConn?.closeSync();
    this.decodeConn = undefined;
    for (const c of this.explainConns) c.closeSync();
    this.explainConns = [];
  }
}
