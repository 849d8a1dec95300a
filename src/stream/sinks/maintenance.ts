/**
 * Table housekeeping a streaming sink runs on a schedule (seed 001 §3.4: hourly
 * compaction): OPTIMIZE (bin-packing small files into target-size ones), a checkpoint
 * (so readers replay a short log), VACUUM (files unreferenced for longer than the
 * retention), and log clean-up behind the checkpoint (expired versions).
 */
import { crashPoint } from '../../core/crash-points.ts';
import { optimize } from '../../table/index.ts';
import type { DeltaTable } from '../../table/table.ts';

export interface MaintenanceOptions {
  /** OPTIMIZE's target file size in bytes (default: the data plane's, 128 MiB). */
  targetFileSize?: number;
  /** Sort rows of compacted files by these columns (keeps keys clustered for MERGE). */
  orderBy?: string[];
  /** Compact only files written at least this long ago (leaves files a stream still changes alone). */
  olderThanMs?: number;
  /** VACUUM retention (default: the table's delta.deletedFileRetentionDuration). */
  vacuumRetentionMs?: number;
}

export interface MaintenanceReport {
  optimizedVersion?: number;
  vacuumed: number;
  logFilesDeleted: number;
}

export async function maintainTable(
  table: DeltaTable,
  opts: MaintenanceOptions = {},
): Promise<MaintenanceReport> {
  const res = await optimize(table, {
    targetFileSize: opts.targetFileSize,
    orderBy: opts.orderBy,
    olderThanMs: opts.olderThanMs,
  });
  crashPoint('maintenance.optimized');
  await table.checkpoint();
  crashPoint('maintenance.checkpointed');
  const vacuumed = await table.vacuum(
    opts.vacuumRetentionMs === undefined ? {} : { retentionMs: opts.vacuumRetentionMs },
  );
  crashPoint('maintenance.vacuumed');
  const cleaned = await table.cleanupLog();
  return {
    optimizedVersion: res.version,
    vacuumed: vacuumed.deleted.length,
    logFilesDeleted: cleaned.deleted.length,
  };
}
