/**
 * Re-running a copy-on-write operation after a logical conflict. The commit (table.ts)
 * already retries at the next version when a race is lost without a conflict; a
 * TABLE_COMMIT_CONFLICT means what this operation read has changed (a file it rewrites
 * was removed, rows it read were added), so its result is stale: delete the files it
 * wrote, take a fresh snapshot and compute the operation again (Delta's optimistic
 * concurrency, PROTOCOL.md "Optimistic Concurrency Control").
 */
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import type { Action, Add } from '../actions.ts';
import { commitMayHaveLanded } from '../commit.ts';
import type { Snapshot } from '../snapshot.ts';
import type { CommitOutcome, CommitRequest, TableHandle } from '../write/table-handle.ts';
import { deleteWrittenFiles } from '../write/write-files.ts';

export interface Plan<M> {
  actions: Action[];
  /** Files this attempt wrote (deleted if the commit certainly did not happen). */
  written: Add[];
  commit: Omit<CommitRequest, 'readSnapshot'>;
  metrics: M;
}

export interface OpResult<M> {
  /** The committed version; undefined when there was nothing to commit. */
  version?: number;
  attempts: number;
  /** Tries of the last attempt's commit (more than 1: races lost to other writers, without conflict). */
  commitAttempts?: number;
  metrics: M;
}

export const DEFAULT_OP_RETRIES = 3;

export async function runWithRetries<M>(
  table: TableHandle,
  operation: string,
  maxRetries: number,
  plan: (snapshot: Snapshot) => Promise<Plan<M> | { nothing: M }>,
): Promise<OpResult<M>> {
  let lastConflict: unknown;
  for (let attempt = 1; attempt <= maxRetries + 1; attempt++) {
    const snapshot = await table.snapshot();
    const p = await plan(snapshot);
    if ('nothing' in p) return { version: undefined, attempts: attempt, metrics: p.nothing };
    let out: CommitOutcome;
    try {
      out = await table.commit(p.actions, { ...p.commit, readSnapshot: snapshot });
    } catch (err) {
      // Files of a commit that may stand (outcome unknown) are kept: see commit.ts.
      if (commitMayHaveLanded(err)) throw err;
      await deleteWrittenFiles(table.store, p.written);
      if (isTributaryError(err, 'TABLE_COMMIT_CONFLICT')) {
        lastConflict = err;
        continue;
      }
      throw err;
    }
    return { version: out.version, attempts: attempt, commitAttempts: out.attempts, metrics: p.metrics };
  }
  throw new TributaryError(
    'TABLE_COMMIT_CONFLICT',
    `${operation} on table ${table.store.url} conflicted with concurrent commits ${maxRetries + 1} times in a row: ${(lastConflict as Error).message}. Retry later, or reduce concurrent writes to the same partitions`,
    { table: table.store.url, operation, attempts: maxRetries + 1 },
    lastConflict,
  );
}
