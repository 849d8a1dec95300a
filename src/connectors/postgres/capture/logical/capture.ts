/**
 * Change capture by logical replication (pgoutput through a publication and a persistent
 * slot), in three stages recorded in the state directory (state.ts):
 *
 * 1. snapshotting: the slot is created with an exported snapshot, the table is read in a
 *    transaction that imported it, the rows staged to a file (snapshot.ts);
 * 2. snapshot-staged: the staged rows are published as `r` events at the slot's
 *    consistent point (position consistent point − 1, seq = row index: below every
 *    streamed commit, which may start at the consistent point itself);
 * 3. streaming: the slot's changes from the consistent point on (stream.ts), the slot
 *    acknowledged only up to what is durable in the topic.
 *
 * A crash repeats at most what was not yet recorded as done: the snapshot is taken again
 * if it was not completely staged (nothing of it published yet), the staged file is
 * published again from the last recorded row, the slot replays from its
 * confirmed_flush_lsn. Repeated events carry the same positions and are removed
 * downstream (change.ts). PostgreSQL unavailable while streaming is waited out; at
 * start it is an error, as every bad input is, each saying what to do (setup.ts).
 */
import { crashPoint } from '../../../../core/crash-points.ts';
import { TributaryError } from '../../../../core/errors.ts';
import { type PgSession, PostgresPool } from '../../client.ts';
import { isUnavailable, postgresError } from '../../errors.ts';
import { displayName } from '../../tables.ts';
import { type ChangeEvent, lsnText, parseLsn } from '../change.ts';
import { ChangePublisher } from '../publish.ts';
import type { CaptureMetrics, CaptureOptions, ChangeCapture } from '../types.ts';
import { ReplicationConnection, slotInUseError } from './replication.ts';
import {
  checkName,
  checkServer,
  checkSlotIsOurs,
  checkTable,
  defaultName,
  ensurePublication,
  type SlotInfo,
  slotInfo,
} from './setup.ts';
import { readStaged, stageSnapshot } from './snapshot.ts';
import { type LogicalState, readState, removeSnapshotFiles, writeState } from './state.ts';
import { streamChanges } from './stream.ts';

export interface LogicalCaptureOptions extends CaptureOptions {
  /** The replication slot (default `tributary_<name>`, reduced to a valid slot name). */
  slot?: string;
  /** The publication (default like the slot); created for the table when missing and permitted. */
  publication?: string;
  /** `initial` (default): the table's rows first, then its changes; `never`: only changes from the slot's creation on. */
  snapshot?: 'initial' | 'never';
  /** Ask the server for its position this often (ms), and give a silent connection up after 2× + 10 s. */
  heartbeatMs?: number;
  /** How long a slot held by another process is waited for before failing (default 10 s). */
  slotWaitMs?: number;
  /** How often the acknowledged position is sent besides after each publish (default 10 s). */
  statusIntervalMs?: number;
  /** Change events per publish at most (default 20,000; a larger transaction goes alone). */
  maxBatchEvents?: number;
}

const SNAPSHOT_CHUNK = 5_000;
/** Reconnecting after an outage: a slot the old connection still holds is waited for this long at least. */
const RECONNECT_SLOT_WAIT_MS = 70_000;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

function slotLost(target: string, slot: string, dir: string, why: string): TributaryError {
  return new TributaryError(
    'CAPTURE_SLOT_LOST',
    `the replication slot '${slot}' this capture streams from on ${target} ${why}: changes made since it last ran cannot be captured. To start over with a new snapshot, delete the capture's state directory ${dir} (and drop the slot if it is still listed: SELECT pg_drop_replication_slot('${slot}')).`,
    { target, slot },
  );
}

export class LogicalCapture implements ChangeCapture {
  readonly mode = 'logical' as const;
  readonly metrics: CaptureMetrics = { published: 0, batches: 0 };
  readonly slot: string;
  readonly publication: string;
  private readonly opts: LogicalCaptureOptions;
  private readonly report: (line: string) => void;
  private readonly appName: string;
  private readonly stop = new AbortController();
  private running: Promise<void> | undefined;

  private readonly publisher: ChangePublisher;

  constructor(opts: LogicalCaptureOptions) {
    this.opts = opts;
    this.slot = checkName('slot', opts.slot ?? defaultName(opts.name));
    this.publication = checkName('publication', opts.publication ?? defaultName(opts.name));
    this.report = opts.report ?? (() => {});
    this.appName = `tributary-capture-${opts.name}`.slice(0, 63);
    this.publisher = new ChangePublisher(opts);
  }

  run(options: { signal?: AbortSignal; untilCaughtUp?: boolean } = {}): Promise<void> {
    if (this.running) throw new Error('the capture is already running');
    const signal = options.signal ? AbortSignal.any([options.signal, this.stop.signal]) : this.stop.signal;
    this.running = this.capture(signal, options.untilCaughtUp === true).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.running?.catch(() => {});
  }

  private async capture(signal: AbortSignal, untilCaughtUp: boolean): Promise<void> {
    const o = this.opts;
    const dir = o.stateDir;
    const table = displayName(o.table);
    const pool = new PostgresPool(o.url, { max: 1, applicationName: this.appName });
    const target = pool.target;
    let state: LogicalState;
    let tableOid: number;
    let key: string[];
    let untilLsn: bigint | undefined;
    let info: SlotInfo | undefined;
    try {
      const session = await pool.connect();
      try {
        await checkServer(session, target, pool.pglite);
        const t = await checkTable(session, target, o.table, o.key);
        key = t.key;
        tableOid = t.oid;
        if (await ensurePublication(session, target, o.table, this.publication, t.role)) {
          this.report(`created publication ${this.publication} for ${table}`);
        }
        if (untilCaughtUp) {
          const rows = await session
            .query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')
            .then((r) => r.rows)
            .catch((err: unknown) => {
              throw postgresError(err, target, 'reading the WAL position');
            });
          untilLsn = parseLsn(rows[0].l);
        }
        const saved = readState(dir);
        if (saved !== undefined && (saved.table !== table || saved.slot !== this.slot)) {
          throw new TributaryError(
            'CAPTURE_STATE_INVALID',
            `the state directory ${dir} belongs to a capture of ${saved.table} through slot '${saved.slot}', not of ${table} through '${this.slot}': give this capture its own name (or state directory), or delete ${dir} to start it over`,
            { dir },
          );
        }
        info = await this.slotFree(session, target, Date.now() + (o.slotWaitMs ?? 10_000));
        if (info !== undefined) checkSlotIsOurs(info, this.slot, target);
        if (saved?.stage === 'streaming' || saved?.stage === 'snapshot-staged') {
          if (info === undefined) throw slotLost(target, this.slot, dir, 'no longer exists');
          if (info.walStatus === 'lost') {
            throw slotLost(target, this.slot, dir, 'was invalidated: the server removed WAL it still needed');
          }
        }
        if (saved === undefined && info !== undefined) {
          if (o.snapshot !== 'never') {
            throw new TributaryError(
              'CAPTURE_SLOT_IN_USE',
              `a replication slot named '${this.slot}' already exists on ${target}, and this capture has no state for it (${dir}): if it is left from an earlier capture of ${table} whose state was deleted, drop it (SELECT pg_drop_replication_slot('${this.slot}')) to start over with a snapshot, or set snapshot: never to go on streaming from it; otherwise give this capture another slot name`,
              { target, slot: this.slot },
            );
          }
          this.report(
            `streaming from the existing replication slot ${this.slot} (from ${info.confirmedFlush})`,
          );
          state = { stage: 'streaming', table, slot: this.slot, publication: this.publication };
          writeState(dir, state);
        } else {
          state = saved ?? { stage: 'snapshotting', table, slot: this.slot, publication: this.publication };
        }
        if (state.stage === 'snapshotting') {
          state = await this.createSlot(state, info !== undefined, target, key);
          info = await slotInfo(session, target, this.slot);
        }
      } finally {
        session.release();
      }
      await o.log.ensureTopic(o.topic, { partitions: o.partitions });
      // A crash between recording the streaming stage and removing the staged file leaves it behind.
      if (state.stage === 'streaming') removeSnapshotFiles(dir);
      if (state.stage === 'snapshot-staged') {
        if (!(await this.publishSnapshot(state, signal))) return;
        state = { stage: 'streaming', table, slot: this.slot, publication: this.publication };
        writeState(dir, state);
        removeSnapshotFiles(dir);
      }
    } finally {
      await pool.end().catch(() => {});
    }
    const durable = info?.confirmedFlush ? parseLsn(info.confirmedFlush) : 0n;
    await this.stream(signal, target, tableOid, key, durable, untilLsn);
  }

  /** The slot's row once no other process streams from it (waits until `deadline`). */
  private async slotFree(
    session: PgSession,
    target: string,
    deadline: number,
  ): Promise<SlotInfo | undefined> {
    for (;;) {
      const info = await slotInfo(session, target, this.slot);
      if (info === undefined || info.activePid === null) return info;
      if (Date.now() >= deadline) {
        throw slotInUseError(target, this.slot, info.activePid);
      }
      await sleep(200);
    }
  }

  /** Creates the slot (dropping one a crashed start left), then stages the snapshot or skips it. */
  private async createSlot(
    state: LogicalState,
    exists: boolean,
    target: string,
    key: string[],
  ): Promise<LogicalState> {
    const o = this.opts;
    const initial = o.snapshot !== 'never';
    if (initial) writeState(o.stateDir, state);
    const repl = await ReplicationConnection.open(o.url, target, { applicationName: this.appName });
    try {
      if (exists) {
        this.report(
          `dropping replication slot ${this.slot}, left by a start that did not finish its snapshot`,
        );
        await repl.dropSlot(this.slot);
      }
      const created = await repl.createSlot(this.slot, initial);
      crashPoint('capture.logical.slot-created');
      const base = { table: state.table, slot: this.slot, publication: this.publication };
      if (!initial || created.snapshotName === null) {
        const next: LogicalState = { stage: 'streaming', ...base };
        writeState(o.stateDir, next);
        return next;
      }
      const snapshotTime = Date.now();
      // The replication connection stays open (idle) until the snapshot is imported and read.
      const staged = await stageSnapshot(
        o.url,
        target,
        o.table,
        created.snapshotName,
        o.stateDir,
        this.appName,
      );
      const next: LogicalState = {
        stage: 'snapshot-staged',
        ...base,
        consistentPoint: lsnText(created.consistentPoint),
        snapshotTime,
        columns: staged.columns,
        key,
        rows: staged.rows,
        published: 0,
      };
      writeState(o.stateDir, next);
      this.report(
        `snapshot of ${state.table} staged: ${staged.rows} rows at ${next.consistentPoint} (slot ${this.slot})`,
      );
      crashPoint('capture.logical.snapshot-staged');
      return next;
    } finally {
      await repl.close();
    }
  }

  /** Publishes the staged snapshot from its recorded progress; false if stopped before the end. */
  private async publishSnapshot(
    state: LogicalState & { stage: 'snapshot-staged' },
    signal: AbortSignal,
  ): Promise<boolean> {
    const o = this.opts;
    const pos = parseLsn(state.consistentPoint) - 1n;
    for await (const { start, rows } of readStaged(o.stateDir, state.published, SNAPSHOT_CHUNK)) {
      const events: ChangeEvent[] = rows.map((after, i) => ({
        op: 'r',
        schema: o.table.schema,
        table: o.table.name,
        columns: state.columns,
        key: state.key,
        before: null,
        after,
        pos,
        seq: start + i,
        lsn: state.consistentPoint,
        commitTime: state.snapshotTime,
        snapshot: true,
      }));
      if (!(await this.publish(events, signal))) return false;
      crashPoint('capture.logical.snapshot-published');
      state.published = start + rows.length;
      writeState(o.stateDir, state);
      this.metrics.position = `${state.consistentPoint} snapshot row ${state.published} of ${state.rows}`;
      if (signal.aborted) return false;
    }
    this.report(`snapshot of ${state.table} published: ${state.rows} rows`);
    return true;
  }

  /** Publishes `events`, retrying while the log is unavailable; false if stopped meanwhile. */
  private async publish(events: ChangeEvent[], signal: AbortSignal): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.publisher.publish(events);
        this.metrics.published += events.length;
        return true;
      } catch (err) {
        if (!(err instanceof TributaryError) || !err.retryable) throw err;
        if (signal.aborted) return false;
        const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
        this.report(`publishing to ${this.opts.topic} failed (${err.message}); retrying in ${delay} ms`);
        await sleep(delay, signal);
        if (signal.aborted) return false;
      }
    }
  }

  /** Streams, reconnecting while PostgreSQL is unavailable, until stopped or caught up. */
  private async stream(
    signal: AbortSignal,
    target: string,
    tableOid: number,
    key: string[],
    durable: bigint,
    untilLsn: bigint | undefined,
  ): Promise<void> {
    const o = this.opts;
    const progress = { durable };
    let slotDeadline = Date.now() + (o.slotWaitMs ?? 10_000);
    let attempt = 0;
    for (;;) {
      try {
        await streamChanges(
          {
            url: o.url,
            target,
            applicationName: this.appName,
            table: o.table,
            tableOid,
            key,
            slot: this.slot,
            publication: this.publication,
            publish: (events) => this.publish(events, signal),
            report: this.report,
            signal,
            untilLsn,
            heartbeatMs: o.heartbeatMs,
            statusIntervalMs: o.statusIntervalMs ?? 10_000,
            maxBatchEvents: o.maxBatchEvents ?? 20_000,
            highWater: Math.max(50_000, 2 * (o.maxBatchEvents ?? 20_000)),
            onBatch: (transactions, _events, lsn) => {
              this.metrics.batches += transactions;
              this.metrics.position = lsnText(lsn);
              attempt = 0;
            },
          },
          progress,
        );
        return;
      } catch (err) {
        if (signal.aborted) return;
        const text = (err as Error).message ?? String(err);
        if (
          err instanceof TributaryError &&
          err.code === 'CAPTURE_SLOT_IN_USE' &&
          Date.now() < slotDeadline
        ) {
          await sleep(200, signal);
          continue;
        }
        if (/replication slot .* does not exist/i.test(text)) {
          throw slotLost(target, this.slot, o.stateDir, 'no longer exists');
        }
        if (/publication .* does not exist/i.test(text)) {
          throw new TributaryError(
            'CAPTURE_PUBLICATION_INVALID',
            `the publication '${this.publication}' on ${target} did not exist when changes the slot still has to send were made (it was dropped, or dropped and created again): PostgreSQL cannot decode them. Start the capture over with a new snapshot: delete its state directory ${o.stateDir} and drop the slot (SELECT pg_drop_replication_slot('${this.slot}'))`,
            { target, publication: this.publication },
            err,
          );
        }
        if (!isUnavailable(err)) throw postgresError(err, target, 'streaming changes');
        const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt++, 6));
        this.report(`PostgreSQL at ${target} is unavailable (${text}); reconnecting in ${delay} ms`);
        await sleep(delay, signal);
        if (signal.aborted) return;
        slotDeadline = Date.now() + Math.max(o.slotWaitMs ?? 10_000, RECONNECT_SLOT_WAIT_MS);
      }
    }
  }
}
