/**
 * Optimistic commits (PROTOCOL.md, "Requirements for Writers", "Creation of New Log
 * Entries"). A commit is one put-if-absent of `_delta_log/%020d.json` at the version after
 * the newest one we know. Needs from the store: put-if-absent that exactly one of
 * several concurrent writers (in any process) wins, a get that sees a completed put, and
 * atomic visibility (a commit file is read whole or not at all).
 *
 * When the race is lost, the winning commits are read and checked against what this
 * commit read and writes (conflicts.ts). Without a logical conflict the same actions are
 * tried again at the next version, up to `maxAttempts`.
 *
 * The outcome of a commit is checked, never guessed (commit-put.ts):
 * - Every commit carries a unique `commitInfo.txnId` (a UUID, as Spark writes it), the
 *   same for every version it tries.
 * - When the put-if-absent of version N fails in any way other than a refusal (already
 *   exists, an I/O error, a timeout: the write may have landed), N is read back. Our
 *   txnId there: the commit succeeded. Another commit there: the race is lost (the
 *   conflict path above; a write of ours still in flight can no longer land at N).
 *   Nothing there: the put is tried again, with back-off, a bounded number of times.
 * - When that cannot be settled — N cannot be read, or stays absent while the puts keep
 *   failing (a write still in flight may land later) — TABLE_COMMIT_OUTCOME_UNKNOWN.
 * - Callers delete the files a commit references only when it certainly did not land:
 *   on any error but TABLE_COMMIT_OUTCOME_UNKNOWN (see `commitMayHaveLanded`). Files of
 *   an unknown outcome stay; if the commit never lands, VACUUM removes them after the
 *   retention, which must exceed the longest time a storage write can stay in flight.
 * - A version is only passed over once another writer's commit is seen there, so a
 *   commit lands at most once, whatever the retries.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import { crashPoint } from '../core/crash-points.ts';
import { isTributaryError, TributaryError } from '../core/errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { Action, CommitInfo, Metadata, Protocol } from './actions.ts';
import { type OutcomeCheckOptions, putCommit } from './commit-put.ts';
import { tableConfig } from './config.ts';
import { checkConflict, type ReadScope, type WinningCommit } from './conflicts.ts';
import { applyActions, cloneState } from './log-replay.ts';
import { checkWritable, ENGINE_INFO } from './protocol.ts';
import { parseSchema, validateSchema } from './schema-json.ts';
import { Snapshot } from './snapshot.ts';
import { readCommitsFrom } from './snapshot-load.ts';

export interface CommitOptions {
  readSnapshot: Snapshot;
  operation: string;
  operationParameters?: Record<string, unknown>;
  operationMetrics?: Record<string, unknown>;
  /**
   * What the transaction read, for conflict checking (see conflicts.ts). Default: 'none'
   * when the commit holds only adds and txns (an append), else 'all'.
   */
  readScope?: ReadScope;
  /** Attempts at later versions when the race is lost without a logical conflict (default 100). */
  maxAttempts?: number;
  /** How ambiguous storage answers are settled (commit-put.ts). */
  outcomeCheck?: OutcomeCheckOptions;
  /**
   * A fence for stream writers: per appId, the txn version the table must hold at the read
   * snapshot (undefined: none yet), i.e. the progress this writer last saw. Otherwise the
   * commit fails with TABLE_PROGRESS_FENCED; a winner after the read snapshot with the same
   * appId is a conflict (conflicts.ts), so together they make the progress a
   * compare-and-set: a worker that lost a partition to another cannot commit its rows.
   */
  txnFence?: ReadonlyMap<string, number | undefined>;
}

/** Throws TABLE_PROGRESS_FENCED when the read snapshot's txn versions are not the fence's. */
export function checkTxnFence(
  read: Snapshot,
  fence: ReadonlyMap<string, number | undefined> | undefined,
  table: string,
): void {
  if (!fence) return;
  for (const [appId, expected] of fence) {
    const found = read.txnVersion(appId);
    if (found === expected) continue;
    throw new TributaryError(
      'TABLE_PROGRESS_FENCED',
      `table ${table}: the progress of '${appId}' is ${found ?? 'none'} at version ${read.version}, but this writer last saw ${expected ?? 'none'}: another writer (a worker that took over this source partition) committed it meanwhile, so this commit is dropped; the worker reloads its progress and its partitions from the group`,
      { table, appId, found, expected, readVersion: read.version },
    );
  }
}

export interface CommitResult {
  version: number;
  attempts: number;
}

export interface CommitOutcome extends CommitResult {
  /** The table right after this commit (read snapshot + winners + ours). */
  snapshot: Snapshot;
}

const encoder = new TextEncoder();

/** Newline-delimited JSON of the actions, commitInfo first (as Spark and delta-rs write it). */
export function serializeCommit(actions: Action[], commitInfo: CommitInfo): Uint8Array {
  const lines = [JSON.stringify({ commitInfo }), ...actions.map((a) => JSON.stringify(a))];
  return encoder.encode(`${lines.join('\n')}\n`);
}

/**
 * Whether a failed commit may still stand, so that the files it references must be
 * kept: only when its outcome is unknown. Any other error means it did not land.
 */
export function commitMayHaveLanded(err: unknown): boolean {
  return isTributaryError(err, 'TABLE_COMMIT_OUTCOME_UNKNOWN');
}

export function isAppendOnly(actions: Action[]): boolean {
  return actions.every((a) => ('add' in a && a.add.dataChange) || 'txn' in a);
}

export async function commit(
  store: ObjectStore,
  table: string,
  clock: Clock,
  actions: Action[],
  opts: CommitOptions,
): Promise<CommitOutcome> {
  const read = opts.readSnapshot;
  validateActions(actions, read, table);
  const readScope: ReadScope = opts.readScope ?? (isAppendOnly(actions) ? 'none' : 'all');
  const blind = readScope === 'none' && isAppendOnly(actions);
  const maxAttempts = opts.maxAttempts ?? 100;
  const winners: WinningCommit[] = [];
  const txnId = randomUUID();
  let version = read.version + 1;
  let prevTimestamp = read.timestamp;
  for (let attempt = 1; ; attempt++) {
    // Strictly increasing commit timestamps make time travel by timestamp unambiguous.
    const timestamp = Math.max(clock.now(), prevTimestamp + 1);
    const info: CommitInfo = {
      timestamp,
      operation: opts.operation,
      operationParameters: opts.operationParameters ?? {},
      ...(opts.operationMetrics === undefined ? {} : { operationMetrics: opts.operationMetrics }),
      // A table's first commit (first-commit.ts) read no version.
      ...(read.version >= 0 ? { readVersion: read.version } : {}),
      isolationLevel: 'WriteSerializable',
      isBlindAppend: blind,
      engineInfo: ENGINE_INFO,
      txnId,
    };
    const body = serializeCommit(actions, info);
    crashPoint('commit.before-put');
    const put = await putCommit(store, table, version, body, txnId, opts.operation, opts.outcomeCheck);
    crashPoint('commit.after-put');
    if (put.ours) {
      const state = cloneState(read.state);
      for (const w of winners) applyActions(state, w.actions);
      applyActions(state, actions);
      state.version = version;
      return { version, attempts: attempt, snapshot: new Snapshot(state, timestamp, table) };
    }
    // Lost the race for `version`: check every commit we have not seen yet. Ours cannot
    // be among the later ones (we never wrote past `version`), and any error from here on
    // means this commit did not land.
    for (const c of [put.winner, ...(await readCommitsFrom(store, table, version + 1))]) {
      const w: WinningCommit = { version: c.version, actions: c.actions, commitInfo: c.commitInfo };
      await checkConflict({ actions, readScope, readSnapshot: read }, w, table);
      winners.push(w);
      prevTimestamp = Math.max(prevTimestamp, c.timestamp);
      version = c.version + 1;
    }
    if (attempt >= maxAttempts) {
      throw new TributaryError(
        'TABLE_COMMIT_CONFLICT',
        `table ${table}: gave up committing ${opts.operation} after ${attempt} attempts lost to concurrent writers (last tried version ${version}); retry later or raise maxAttempts`,
        { table, attempts: attempt, version },
      );
    }
  }
}

/** Rules a single commit must meet before it is written (PROTOCOL.md, "Delta Log Entries"). */
function validateActions(actions: Action[], read: Snapshot, table: string): void {
  const bad = (msg: string, extra: Record<string, unknown> = {}): never => {
    throw new TributaryError('TABLE_INVALID_ARGUMENT', `table ${table}: ${msg}`, { table, ...extra });
  };
  checkWritable(read.protocol, table);
  let metadata: Metadata | undefined;
  let protocol: Protocol | undefined;
  const txns = new Set<string>();
  const paths = new Set<string>();
  for (const a of actions) {
    if ('commitInfo' in a) bad('pass commitInfo fields through the commit options, not as an action');
    else if ('metaData' in a) {
      if (metadata !== undefined) bad('a commit may hold only one metaData action');
      metadata = a.metaData;
    } else if ('protocol' in a) {
      if (protocol !== undefined) bad('a commit may hold only one protocol action');
      protocol = a.protocol;
    } else if ('txn' in a) {
      if (txns.has(a.txn.appId))
        bad(`two txn actions for application '${a.txn.appId}'`, { appId: a.txn.appId });
      txns.add(a.txn.appId);
    } else if ('add' in a || 'remove' in a) {
      const path = 'add' in a ? a.add.path : a.remove.path;
      if (typeof path !== 'string' || path === '') bad('a file action has no path');
      if (paths.has(path))
        bad(`file ${path} appears in more than one add/remove action of one commit`, { path });
      paths.add(path);
    } else if ('cdc' in a || 'domainMetadata' in a) {
      bad(`${Object.keys(a)[0]} actions need writer features Tributary does not implement`);
    }
  }
  if (protocol !== undefined) checkWritable(protocol, table);
  const meta = metadata ?? read.metadata;
  if (metadata !== undefined) {
    const schema = parseSchema(metadata.schemaString, `table ${table} new metaData`);
    validateSchema(schema, metadata.partitionColumns ?? [], table);
  }
  // Strict for properties this commit sets; lenient for ones already in the table.
  const config = tableConfig(meta.configuration ?? {}, { lenient: metadata === undefined });
  const partitionColumns = meta.partitionColumns ?? [];
  for (const a of actions) {
    if ('remove' in a && a.remove.dataChange && config.appendOnly) {
      bad(
        `delta.appendOnly is true, so ${a.remove.path} cannot be removed with dataChange; set delta.appendOnly=false first`,
        {
          path: a.remove.path,
        },
      );
    }
    if ('add' in a) {
      // "Values for all partition columns present in the schema MUST be present for all files."
      const keys = Object.keys(a.add.partitionValues ?? {});
      if (keys.length !== partitionColumns.length || !partitionColumns.every((c) => keys.includes(c))) {
        bad(
          `add ${a.add.path} has partition values for [${keys.join(', ')}] but the table is partitioned by [${partitionColumns.join(', ')}]`,
          { path: a.add.path },
        );
      }
    }
  }
}
