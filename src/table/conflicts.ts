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
 *
 * A MERGE states its read at file level (FileScope): the files holding rows it matched
 * (rules 4 and 5 apply to those files only) and a test of whether a winner's added file
 * holds a row it would have matched (rule 6 applies to files that pass it). Two MERGEs on
 * disjoint keys then commit side by side even when their keys interleave in one
 * unpartitioned table, as workers owning different Kafka partitions produce; a MERGE
 * whose matched files another writer rewrote, or whose keys another writer inserted,
 * still conflicts and is re-planned (ops/retry.ts).
 */
import { TributaryError } from '../core/errors.ts';
import type { Action, Add, CommitInfo } from './actions.ts';
import type { Snapshot } from './snapshot.ts';

export type ReadScope = 'none' | 'all' | { partitions: Array<Record<string, string | null>> } | FileScope;

/** What a commit read, at file level. */
export interface FileScope {
  /** Paths (as in add actions) of the files whose rows the commit read. */
  files: ReadonlySet<string>;
  /**
   * Of a winner's data-changing adds, the first that holds a row the commit's read
   * predicate matches (undefined: none does). May open the files.
   */
  matches(adds: Add[]): Promise<Add | undefined>;
}

const isFileScope = (s: ReadScope): s is FileScope => typeof s === 'object' && 'files' in s;

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
export async function checkConflict(
  ours: PendingCommit,
  winner: WinningCommit,
  table: string,
): Promise<void> {
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
  const fileScope = isFileScope(scope) ? scope : undefined;
  const addsToTest: Add[] = [];
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
      const read = fileScope
        ? fileScope.files.has(path)
        : inScope(a.remove.partitionValues ?? ours.readSnapshot.file(path)?.partitionValues, scope);
      if (read) fail(`file ${path}, which this commit read, was removed concurrently`, { path });
    } else if ('add' in a) {
      if (!a.add.dataChange || blindWinner) continue;
      if (fileScope) addsToTest.push(a.add);
      else if (inScope(a.add.partitionValues, scope))
        fail(`file ${a.add.path} was added concurrently in data this commit read`, { path: a.add.path });
    }
  }
  if (fileScope && addsToTest.length > 0) {
    const hit = await fileScope.matches(addsToTest);
    if (hit !== undefined)
      fail(`file ${hit.path} was added concurrently with rows this commit would have matched`, {
        path: hit.path,
      });
  }
}

const norm = (v: string | null | undefined): string | null => (v === undefined || v === '' ? null : v);

/** Whether a file with these partition values lies in the read scope (unknown values: yes). */
export function inScope(pv: Record<string, string | null> | undefined, scope: ReadScope): boolean {
  if (scope === 'none') return false;
  if (scope === 'all' || pv === undefined || isFileScope(scope)) return true;
  return scope.partitions.some((p) => Object.entries(p).every(([k, v]) => norm(pv[k]) === norm(v)));
}
