/**
 * Table history: the commitInfo of each commit still in the log, newest first
 * (PROTOCOL.md, "Commit Provenance Information"). Versions whose commit files were
 * removed by log clean-up are no longer listed.
 */
import type { ObjectStore } from '../storage/object-store.ts';
import { listLog, mapLimit } from './log-files.ts';
import { commitTimestamp, parseCommit } from './log-replay.ts';

export interface HistoryEntry {
  version: number;
  /** Commit timestamp (ms): commitInfo.timestamp, else the commit file's modification time. */
  timestamp: number;
  operation: string;
  operationParameters: Record<string, unknown>;
  operationMetrics?: Record<string, unknown>;
  readVersion?: number;
  isolationLevel?: string;
  isBlindAppend?: boolean;
  engineInfo?: string;
  /** The commit's unique id (commitInfo.txnId), when its writer recorded one. */
  txnId?: string;
}

export async function readHistory(
  store: ObjectStore,
  table: string,
  limit?: number,
): Promise<HistoryEntry[]> {
  const listing = await listLog(store, 0);
  let versions = [...listing.commits.keys()].sort((a, b) => b - a);
  if (limit !== undefined) versions = versions.slice(0, Math.max(0, limit));
  return mapLimit(versions, 32, async (version) => {
    const meta = listing.commits.get(version)!;
    const { commitInfo: info } = parseCommit(await store.get(meta.path), meta.path, table);
    const entry: HistoryEntry = {
      version,
      timestamp: commitTimestamp(info, meta.lastModified),
      operation: typeof info?.operation === 'string' ? info.operation : 'UNKNOWN',
      operationParameters: info?.operationParameters ?? {},
    };
    if (info?.operationMetrics !== undefined) entry.operationMetrics = info.operationMetrics;
    if (typeof info?.readVersion === 'number') entry.readVersion = info.readVersion;
    if (info?.isolationLevel !== undefined) entry.isolationLevel = info.isolationLevel;
    if (info?.isBlindAppend !== undefined) entry.isBlindAppend = info.isBlindAppend;
    if (info?.engineInfo !== undefined) entry.engineInfo = info.engineInfo;
    if (typeof info?.txnId === 'string') entry.txnId = info.txnId;
    return entry;
  });
}
