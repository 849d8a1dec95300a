/**
 * Log replay: turning actions into table state (PROTOCOL.md, "Action Reconciliation").
 * - the newest protocol and metaData replace older ones;
 * - per path, the newest add or remove wins: an add makes the file active and drops its
 *   tombstone, a remove drops the file and leaves a tombstone (for VACUUM);
 * - per appId, only the newest txn is kept.
 * Deletion vectors need reader 3, which we refuse, so a file is identified by its path.
 */
import { TributaryError } from '../core/errors.ts';
import type { Action, Add, CommitInfo, Metadata, Protocol, Remove, Txn } from './actions.ts';

export interface LogState {
  version: number;
  protocol?: Protocol;
  metadata?: Metadata;
  files: Map<string, Add>;
  tombstones: Map<string, Remove>;
  txns: Map<string, Txn>;
}

export function emptyState(): LogState {
  return { version: -1, files: new Map(), tombstones: new Map(), txns: new Map() };
}

/** A copy that can be advanced without changing `s` (snapshots are immutable). */
export function cloneState(s: LogState): LogState {
  return { ...s, files: new Map(s.files), tombstones: new Map(s.tombstones), txns: new Map(s.txns) };
}

export function applyActions(state: LogState, actions: Iterable<Action>): void {
  for (const a of actions) {
    if ('add' in a) {
      state.files.set(a.add.path, a.add);
      state.tombstones.delete(a.add.path);
    } else if ('remove' in a) {
      state.files.delete(a.remove.path);
      state.tombstones.set(a.remove.path, a.remove);
    } else if ('txn' in a) {
      state.txns.set(a.txn.appId, a.txn);
    } else if ('metaData' in a) {
      state.metadata = a.metaData;
    } else if ('protocol' in a) {
      state.protocol = a.protocol;
    }
  }
}

export interface ParsedCommit {
  actions: Action[];
  commitInfo?: CommitInfo;
}

const decoder = new TextDecoder();

/**
 * Parses one commit file (newline-delimited JSON actions). Any line that is not a JSON
 * object, or a file action without a path, makes the whole log unreadable: a partial
 * snapshot would silently lose or resurrect files.
 */
export function parseCommit(bytes: Uint8Array, file: string, table: string): ParsedCommit {
  const text = decoder.decode(bytes);
  const actions: Action[] = [];
  let commitInfo: CommitInfo | undefined;
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    if (line.trim() === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw corruptLine(table, file, lineNo, `not valid JSON (${(err as Error).message})`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw corruptLine(table, file, lineNo, 'not a JSON object');
    }
    const o = obj as Record<string, unknown>;
    const fileAction = (o.add ?? o.remove) as { path?: unknown } | undefined;
    if (fileAction !== undefined && (fileAction === null || typeof fileAction.path !== 'string')) {
      throw corruptLine(table, file, lineNo, 'a file action without a string path');
    }
    if (o.commitInfo !== undefined) commitInfo = o.commitInfo as CommitInfo;
    else actions.push(o as Action);
  }
  return { actions, commitInfo };
}

function corruptLine(table: string, file: string, line: number, why: string): TributaryError {
  return new TributaryError(
    'TABLE_CORRUPT_LOG',
    `table ${table}: ${file} line ${line} is ${why}; the log cannot be replayed. Restore the file from a backup or repair it by hand`,
    { table, file, line },
  );
}

/** The commit's timestamp: commitInfo.timestamp, else the file's modification time (PROTOCOL.md, "Commit Provenance Information"). */
export function commitTimestamp(info: CommitInfo | undefined, fileModified: number): number {
  const t = info?.timestamp;
  return typeof t === 'number' && Number.isFinite(t) ? t : fileModified;
}

export function fileActionsOf(actions: Action[]): { adds: Add[]; removes: Remove[] } {
  const adds: Add[] = [];
  const removes: Remove[] = [];
  for (const a of actions) {
    if ('add' in a) adds.push(a.add);
    else if ('remove' in a) removes.push(a.remove);
  }
  return { adds, removes };
}
