/**
 * OPTIMIZE (compaction): within each partition, files smaller than the target size are
 * bin-packed into groups of about the target size and each group is rewritten as one
 * file. The commit holds removes + adds with dataChange=false (PROTOCOL.md, "Add File
 * and Remove File": dataChange=false means the rows did not change), so streaming
 * readers skip it and it never conflicts with concurrent appends — only with commits
 * that removed one of its input files, after which it is planned again (retry.ts).
 */
import type { Clock } from '../../core/clock.ts';
import { crashPoint } from '../../core/crash-points.ts';
import type { Action, Add } from '../actions.ts';
import { openConnection } from '../read/connection.ts';
import { filesRelation } from '../read/relation.ts';
import { localFiles } from '../read/scan.ts';
import { type TableHandle, tableClock } from '../write/table-handle.ts';
import { DEFAULT_TARGET_FILE_SIZE, deleteWrittenFiles, writeRelation } from '../write/write-files.ts';
import { partitionKey } from './key-pruning.ts';
import { removeFor } from './remove.ts';
import { DEFAULT_OP_RETRIES, runWithRetries } from './retry.ts';

export interface OptimizeOptions {
  /** Target file size in bytes (default 128 MiB). */
  targetFileSize?: number;
  /** Only these partitions (partition column → value string, null for null). */
  partitions?: Array<Record<string, string | null>>;
  /** Sort rows within each new file (clusters keys so MERGE can skip files). */
  orderBy?: string[];
  /** Only files written at least this long ago (by their modificationTime): leaves the files a stream still updates alone. */
  olderThanMs?: number;
  maxRetries?: number;
  clock?: Clock;
  /**
   * Called once the files to compact are planned (nothing done yet) and after each group
   * is rewritten; planned again after a conflict, it starts over from 0.
   */
  onProgress?: (p: OptimizeProgress) => void;
  /**
   * Extra string entries for the commit's `operationParameters` (Delta readers carry
   * them as they are): e.g. which maintenance lease holder ran it.
   */
  commitTags?: Record<string, string>;
}

/** How far an OPTIMIZE is: files (and their bytes) rewritten so far, of those planned. */
export interface OptimizeProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Files written so far. */
  filesAdded: number;
}

export interface OptimizeResult {
  version?: number;
  filesRemoved: number;
  filesAdded: number;
  bytesRemoved: number;
  bytesAdded: number;
}

/**
 * Groups of small files, per partition, each summing to about `target` bytes. With
 * `keyOf` (the minimum of the first sort column), files are taken in key order and a
 * file at or past the target ends the current group, so each group covers a contiguous
 * key range and compacted files do not overlap each other or the large files between
 * them (MERGE skips files by key range). Otherwise, smallest first.
 */
export function planBins(
  files: Add[],
  partitionColumns: string[],
  target: number,
  keyOf?: (f: Add) => string | number | undefined,
): Add[][] {
  const byPartition = new Map<string, Add[]>();
  for (const f of files) {
    if (keyOf === undefined && f.size >= target) continue;
    const key = partitionKey(f.partitionValues, partitionColumns);
    const list = byPartition.get(key) ?? [];
    list.push(f);
    byPartition.set(key, list);
  }
  const bins: Add[][] = [];
  for (const key of [...byPartition.keys()].sort()) {
    const list = byPartition.get(key)!;
    if (keyOf === undefined) list.sort((a, b) => a.size - b.size || (a.path < b.path ? -1 : 1));
    else {
      // Files without a known minimum come first; they only make a group's range wider.
      const k = new Map(list.map((f) => [f, keyOf(f)]));
      const cmp = (x: string | number | undefined, y: string | number | undefined) =>
        x === y ? 0 : x === undefined ? -1 : y === undefined ? 1 : x < y ? -1 : 1;
      list.sort((a, b) => cmp(k.get(a), k.get(b)) || (a.path < b.path ? -1 : 1));
    }
    let bin: Add[] = [];
    let sum = 0;
    for (const f of list) {
      if (f.size >= target) {
        if (bin.length > 0) bins.push(bin);
        bin = [];
        sum = 0;
        continue;
      }
      if (bin.length > 0 && sum + f.size > target) {
        bins.push(bin);
        bin = [];
        sum = 0;
      }
      bin.push(f);
      sum += f.size;
    }
    if (bin.length > 0) bins.push(bin);
  }
  // Rewriting a single file gains nothing.
  return bins.filter((b) => b.length > 1);
}

/** A file's minimum of `column` from its stats, as text (ISO for timestamps); undefined if unknown. */
function minOf(column: string): (f: Add) => string | number | undefined {
  return (f) => {
    if (!f.stats) return undefined;
    const v = (JSON.parse(f.stats) as { minValues?: Record<string, unknown> }).minValues?.[column];
    return typeof v === 'string' || typeof v === 'number' ? v : undefined;
  };
}

export async function optimize(table: TableHandle, opts: OptimizeOptions = {}): Promise<OptimizeResult> {
  const target = opts.targetFileSize ?? DEFAULT_TARGET_FILE_SIZE;
  const clock = tableClock(table, opts.clock);
  const conn = await openConnection();
  try {
    const res = await runWithRetries<Omit<OptimizeResult, 'version'>>(
      table,
      'OPTIMIZE',
      opts.maxRetries ?? DEFAULT_OP_RETRIES,
      async (snapshot) => {
        const parts = snapshot.partitionColumns;
        let files = snapshot.files();
        if (opts.partitions) {
          const wanted = new Set(opts.partitions.map((p) => partitionKey(p, parts)));
          files = files.filter((f) => wanted.has(partitionKey(f.partitionValues, parts)));
        }
        if (opts.olderThanMs !== undefined) {
          const cutoff = clock.now() - opts.olderThanMs;
          files = files.filter((f) => f.modificationTime <= cutoff);
        }
        const sortKey = opts.orderBy?.[0];
        const bins = planBins(files, parts, target, sortKey === undefined ? undefined : minOf(sortKey));
        const empty = { filesRemoved: 0, filesAdded: 0, bytesRemoved: 0, bytesAdded: 0 };
        if (bins.length === 0) return { nothing: empty };
        const written: Add[] = [];
        const removed: Add[] = [];
        const filesTotal = bins.reduce((n, b) => n + b.length, 0);
        const bytesTotal = bins.reduce((n, b) => n + b.reduce((s, f) => s + f.size, 0), 0);
        let bytesDone = 0;
        const report = () =>
          opts.onProgress?.({
            filesDone: removed.length,
            filesTotal,
            bytesDone,
            bytesTotal,
            filesAdded: written.length,
          });
        report();
        try {
          for (const bin of bins) {
            const local = await localFiles(table.store, snapshot, bin);
            const sql = await filesRelation(conn, local, snapshot.schema, parts);
            const adds = await writeRelation({
              store: table.store,
              conn,
              sql,
              schema: snapshot.schema,
              partitionColumns: parts,
              clock,
              targetFileSize: target,
              dataChange: false,
              orderBy: opts.orderBy,
            });
            written.push(...adds);
            removed.push(...bin);
            bytesDone += bin.reduce((sum, f) => sum + f.size, 0);
            crashPoint('optimize.bin-written');
            report();
          }
        } catch (err) {
          // Files of bins already written would otherwise be orphans.
          await deleteWrittenFiles(table.store, written);
          throw err;
        }
        const now = clock.now();
        const actions: Action[] = [
          ...removed.map((f) => ({ remove: removeFor(f, now, false) })),
          ...written.map((add) => ({ add })),
        ];
        const metrics = {
          filesRemoved: removed.length,
          filesAdded: written.length,
          bytesRemoved: removed.reduce((s, f) => s + f.size, 0),
          bytesAdded: written.reduce((s, f) => s + f.size, 0),
        };
        return {
          actions,
          written,
          metrics,
          commit: {
            operation: 'OPTIMIZE',
            operationParameters: {
              predicate: JSON.stringify(opts.partitions ?? []),
              targetSize: String(target),
              ...opts.commitTags,
            },
            operationMetrics: {
              numRemovedFiles: String(metrics.filesRemoved),
              numAddedFiles: String(metrics.filesAdded),
              numRemovedBytes: String(metrics.bytesRemoved),
              numAddedBytes: String(metrics.bytesAdded),
            },
            // Reads nothing that appends could change; the core still checks that no
            // file it removes was removed concurrently.
            readScope: 'none',
          },
        };
      },
    );
    return { version: res.version, ...res.metrics };
  } finally {
    conn.closeSync();
  }
}
