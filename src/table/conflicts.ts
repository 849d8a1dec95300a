/**
 * Conflict checking for optimistic commits, at the WriteSerializable isolation level of
 * the Delta reference implementation (its ConflictChecker). When our put-if-absent of
 * version N loses, each winning commit between our read version and now is checked:
 *
 * 1. a protocol change by the winner is fatal (we may no longer be allowed to write);
 * 2. a metaData change by the winner is fatal (schema or partitioning may differ);
 * 3. a txn for an appId we also write: the application's progress moved (exactly-once);
 * 4. a file we remove was also removed by the winner (concurrent delete);
 * 5. a file in our read scope was removed by the winner (we read data that changed or moved);
 * 6. a dataChange add in our read scope by a winner that was not a blind append (it
 *    could have produced rows our operation should have seen).
 *
 * Blind appends (read scope 'none') therefore never conflict with adds, and compaction
 * (dataChange=false adds) never conflicts except through the files it removes.
 */
import { TributaryError } from '../core/errors.ts';
import type { Action, CommitInfo } from './actions.ts';
import type { Snapshot } from './snapshot.ts';

export type ReadScope = 'none' | 'all' | { partitions: Array<Record<string, string | null>> };

export interface WinningCommit {
  version: number;
  actions: Action[];
  commitInfo?: CommitInfo;
}

export interface PendingCommit {
  actions: Action[];
  readScope: ReadScope;
  readSnapshot: Snapshot;
}

/** Throws TABLE_COMMIT_CONFLICT if `winner` invalidates what `ours` read or writes. */
export function checkConflict(ours: PendingCommit, winner: WinningCommit, table: string): void {
  const fail = (reason: string, extra: Record<string, unknown> = {}): never => {
    throw new TributaryError(
      'TABLE_COMMIT_CONFLICT',
      `table ${table}: commit based on version ${ours.readSnapshot.version} conflicts with version ${winner.version} (${winner.commitInfo?.operation ?? 'unknown operation'}): ${reason}; re-read the table and run the operation again`,
      { table, readVersion: ours.readSnapshot.version, winningVersion: winner.version, reason, ...extra },
    );
  };
  const ourTxns = new Set<string>();
  const ourRemoves = new Set<string>();
  for (const a of ours.actions) {
    if ('txn' in a) ourTxns.add(a.txn.appId);
    else if ('remove' in a) ourRemoves.add(a.remove.path);
  }
  const scope = ours.readScope;
  const blindWinner = winner.commitInfo?.isBlindAppend === true;
  for (const a of winner.actions) {
    if ('protocol' in a) fail('the table protocol changed');
    else if ('metaData' in a) fail('the table metadata (schema, partitioning or properties) changed');
    else if ('txn' in a) {
      if (ourTxns.has(a.txn.appId))
        fail(`application '${a.txn.appId}' committed transaction version ${a.txn.version} concurrently`, {
          appId: a.txn.appId,
        });
    } else if ('remove' in a) {
      const path = a.remove.path;
      if (ourRemoves.has(path))
        fail(`file ${path} was removed concurrently (it is also removed by this commit)`, { path });
      const pv = a.remove.partitionValues ?? ours.readSnapshot.file(path)?.partitionValues;
      if (inScope(pv, scope))
        fail(`file ${path}, which this commit read, was removed concurrently`, { path });
    } else if ('add' in a) {
      if (a.add.dataChange && !blindWinner && inScope(a.add.partitionValues, scope)) {
        fail(`file ${a.add.path} was added concurrently in data this commit read`, { path: a.add.path });
      }
    }
  }
}

const norm = (v: string | null | undefined): string | null => (v === undefined || v === '' ? null : v);

/** Whether a file with these partition values lies in the read scope (unknown values: yes). */
export function inScope(pv: Record<string, string | null> | undefined, scope: ReadScope): boolean {
  if (scope === 'none') return false;
  if (scope === 'all' || pv === undefined) return true;
  return scope.partitions.some((p) => Object.entries(p).every(([k, v]) => norm(pv[k]) === norm(v)));
}
