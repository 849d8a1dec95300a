/**
 * Table housekeeping a streaming sink runs on a schedule (seed 001 §3.4: hourly
 * compaction): OPTIMIZE (bin-packing small files into target-size ones), a checkpoint
 * (so readers replay a short log), VACUUM (files unreferenced for longer than the
 * retention), and log clean-up behind the checkpoint (expired versions).
 *
 * Several workers of one pipeline write the same tables: the upkeep of a table runs on
 * one of them at a time, under a lease kept in the table's own storage
 * (`_tributary/leases/maintenance`, storage/lease.ts; VACUUM leaves `_` paths alone). A
 * worker finding the lease held skips the round; a dead holder's lease expires and the
 * next worker due takes it over.
 */
import { crashPoint } from '../../core/crash-points.ts';
import { type LeaseOptions, type LeaseRecord, StoreLease, withLease } from '../../storage/lease.ts';
import { optimize } from '../../table/index.ts';
import type { DeltaTable } from '../../table/table.ts';

export const MAINTENANCE_LEASE = '_tributary/leases/maintenance';

export interface MaintenanceOptions {
  /** OPTIMIZE's target file size in bytes (default: the data plane's, 128 MiB). */
  targetFileSize?: number;
  /** Sort rows of compacted files by these columns (keeps keys clustered for MERGE). */
  orderBy?: string[];
  /** Compact only files written at least this long ago (leaves files a stream still changes alone). */
  olderThanMs?: number;
  /** VACUUM retention (default: the table's delta.deletedFileRetentionDuration). */
  vacuumRetentionMs?: number;
  /** The maintenance lease's settings (storage/lease.ts). */
  lease?: LeaseOptions;
}

export interface MaintenanceReport {
  optimizedVersion?: number;
  vacuumed: number;
  logFilesDeleted: number;
  /** The lease was lost midway: the steps after the loss were left to its new holder. */
  leaseLost?: boolean;
}

/** Runs the table's upkeep unless another worker holds its maintenance lease. */
export async function maintainTable(
  table: DeltaTable,
  opts: MaintenanceOptions = {},
): Promise<MaintenanceReport | { skipped: LeaseRecord }> {
  const lease = new StoreLease(table.store, MAINTENANCE_LEASE, opts.lease);
  const out = await withLease(lease, (held) => upkeep(table, opts, held));
  return out.ran ? out.value : { skipped: out.heldBy };
}

async function upkeep(
  table: DeltaTable,
  opts: MaintenanceOptions,
  lease: StoreLease,
): Promise<MaintenanceReport> {
  const res = await optimize(table, {
    targetFileSize: opts.targetFileSize,
    orderBy: opts.orderBy,
    olderThanMs: opts.olderThanMs,
    // Which holder ran it, under which lease record: the lease's records are pruned, the
    // table's history is not (tests check the holders never overlapped).
    commitTags: { maintenanceLeaseHolder: lease.holder, maintenanceLeaseSeq: String(lease.seq) },
  });
  crashPoint('maintenance.optimized');
  if (!lease.held) return { optimizedVersion: res.version, vacuumed: 0, logFilesDeleted: 0, leaseLost: true };
  await table.checkpoint();
  crashPoint('maintenance.checkpointed');
  if (!lease.held) return { optimizedVersion: res.version, vacuumed: 0, logFilesDeleted: 0, leaseLost: true };
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
