/**
 * The data a table's versions added, version by version: what a stream reading the
 * table consumes (a Delta table as a streaming source, as Spark's `readStream` of a
 * Delta table does by default). Versions that only rearrange data (OPTIMIZE: every
 * action `dataChange: false`) add nothing; a version that removes rows (MERGE, UPDATE,
 * DELETE, an overwrite) cannot be expressed as new rows, and is refused with a message
 * that names it.
 */
import { TributaryError } from '../../core/errors.ts';
import { fileActionsOf } from '../log-replay.ts';
import { readCommitAt } from '../snapshot-load.ts';
import type { DeltaTable } from '../table.ts';
import { localFiles, type ScanFile } from './scan.ts';

export interface VersionChanges {
  version: number;
  /** Commit time, ms since the epoch. */
  timestamp: number;
  operation?: string;
  /** The files the version added (readable where DuckDB runs). */
  files: ScanFile[];
  /** Rows in those files (from their statistics; undefined if a file has none). */
  rows: number | undefined;
}

/**
 * Versions `from`, `from + 1`, ... that exist, until their rows reach `maxRows` (at least
 * one version with rows, if any) or `maxVersions` versions were read.
 */
export async function readChanges(
  table: DeltaTable,
  name: string,
  from: number,
  limits: { maxRows: number; maxVersions?: number },
): Promise<VersionChanges[]> {
  const out: VersionChanges[] = [];
  let rows = 0;
  const maxVersions = limits.maxVersions ?? 1000;
  // For messages about a missing file (e.g. vacuumed while the stream lagged behind).
  const latest = await table.snapshot();
  for (let v = from; out.length < maxVersions; v++) {
    const commit = await readCommitAt(table.store, name, v);
    if (commit === undefined) break;
    const { adds, removes } = fileActionsOf(commit.actions);
    const removing = removes.filter((r) => r.dataChange !== false);
    if (removing.length > 0) {
      const op = commit.commitInfo?.operation ?? 'a commit that removes files';
      throw new TributaryError(
        'SOURCE_UNSUPPORTED_CHANGE',
        `table '${name}' version ${v} (${op}) removes or rewrites rows; a table read as a stream must only be appended to (new versions add rows): read a table its pipeline appends to, or start a new pipeline after that version`,
        { table: name, version: v, operation: op },
      );
    }
    const added = adds.filter((a) => a.dataChange !== false);
    let n: number | undefined = 0;
    for (const a of added) {
      const stat = a.stats ? (JSON.parse(a.stats) as { numRecords?: number }).numRecords : undefined;
      n = n === undefined || stat === undefined ? undefined : n + stat;
    }
    const files = added.length === 0 ? [] : await localFiles(table.store, latest, added);
    out.push({
      version: v,
      timestamp: commit.timestamp,
      operation: commit.commitInfo?.operation,
      files,
      rows: n,
    });
    rows += n ?? 1;
    if (rows >= limits.maxRows) break;
  }
  return out;
}
