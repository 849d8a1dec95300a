/**
 * Writing one commit file, `_delta_log/N.json`, and finding out for certain whose commit
 * is there when storage answers anything but success (the rules are in commit.ts).
 *
 * Every commit carries a unique `commitInfo.txnId`. After a put-if-absent that fails —
 * already exists, or an error that may have come after the write landed (a lost
 * response, a timeout, an error after the SDK's own retries) — version N is read back:
 * our txnId there means the commit is ours; another commit there means the race is lost;
 * nothing there means the put is tried again. When that cannot be settled within the
 * attempts, TABLE_COMMIT_OUTCOME_UNKNOWN: the caller must keep the files the commit
 * references, because the commit may stand (or, from a write still in flight, land later).
 */
import { isTributaryError, TributaryError } from '../core/errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { commitPath } from './log-files.ts';
import { readCommitAt, type TailCommit } from './snapshot-load.ts';

/** How hard a commit tries to settle an ambiguous storage answer. */
export interface OutcomeCheckOptions {
  /** Puts of one version, and reads of it back after each, before giving up (default 5). */
  attempts?: number;
  /** Wait before the second attempt, doubled for each later one (default 100 ms). */
  backoffMs?: number;
  /** Waits `ms`; injectable so tests do not wait. */
  sleep?: (ms: number) => Promise<void>;
}

export type PutOutcome = { ours: true } | { ours: false; winner: TailCommit };

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The txnId in a commit's commitInfo, if it has one (Spark and Tributary write it). */
export function commitTxnId(c: { commitInfo?: Record<string, unknown> }): string | undefined {
  const id = c.commitInfo?.txnId;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Put-if-absent of `body` (whose commitInfo holds `txnId`) at `version`. Resolves with
 * `{ ours: true }` once the commit there is certainly ours, or with the other writer's
 * commit there. Throws the store's error when the store refused the write (a
 * `user`-domain error such as an invalid path or denied access) and nothing is there,
 * or TABLE_COMMIT_OUTCOME_UNKNOWN.
 */
export async function putCommit(
  store: ObjectStore,
  table: string,
  version: number,
  body: Uint8Array,
  txnId: string,
  operation: string,
  opts: OutcomeCheckOptions = {},
): Promise<PutOutcome> {
  const attempts = Math.max(1, opts.attempts ?? 5);
  const backoff = opts.backoffMs ?? 100;
  const sleep = opts.sleep ?? realSleep;
  const path = commitPath(version);
  const unknown = (why: string, cause: unknown): TributaryError =>
    new TributaryError(
      'TABLE_COMMIT_OUTCOME_UNKNOWN',
      `table ${table}: cannot tell whether ${operation} committed version ${version} (commitInfo.txnId ${txnId}): ${why}. The files it references were kept. Read the table again before running the operation again: if version ${version} holds txnId ${txnId} (history() shows it), the commit stands`,
      { table, version, txnId, operation, path },
      cause,
    );
  for (let put = 1; ; put++) {
    let putErr: unknown;
    try {
      await store.putIfAbsent(path, body);
      return { ours: true };
    } catch (err) {
      if (isTributaryError(err) && err.domain === 'user') {
        // Refused (invalid path, access denied): nothing was written, unless an earlier
        // attempt inside the store's client landed. One look settles that.
        const there = await readCommitAt(store, table, version).catch(() => undefined);
        if (there === undefined) throw err;
        return commitTxnId(there) === txnId ? { ours: true } : { ours: false, winner: there };
      }
      putErr = err;
    }
    let found: TailCommit | undefined;
    for (let read = 1; ; read++) {
      try {
        found = await readCommitAt(store, table, version);
        break;
      } catch (err) {
        if (read >= attempts || (isTributaryError(err) && !err.retryable)) {
          throw unknown(
            `the write of ${path} failed (${message(putErr)}) and reading it back failed too (${message(err)})`,
            err,
          );
        }
        await sleep(backoff * 2 ** (read - 1));
      }
    }
    if (found !== undefined)
      return commitTxnId(found) === txnId ? { ours: true } : { ours: false, winner: found };
    if (put >= attempts) {
      throw unknown(
        `${put} writes of ${path} failed (last: ${message(putErr)}) and it was not there when read back, but a write still in flight may land later`,
        putErr,
      );
    }
    await sleep(backoff * 2 ** (put - 1));
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
