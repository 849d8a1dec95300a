/**
 * `kind: maintenance` — the upkeep of one Delta table of the data directory, with the
 * table layer's operations (as a streaming sink's scheduled upkeep does,
 * src/stream/sinks/maintenance.ts): OPTIMIZE (small files bin-packed into files of
 * `file_size`), a checkpoint, VACUUM (files unreferenced for longer than the retention)
 * and log clean-up behind the checkpoint.
 *
 * Each step is one Delta operation that either commits or does not, so a retry after a
 * failure or a timeout is safe; OPTIMIZE commits with dataChange=false and re-plans on a
 * conflict with a concurrent writer (a running stream), so it never changes rows.
 */
import { parseDuration, parseSize } from '../../../pipeline/durations.ts';
import { DeltaTable, optimize } from '../../../table/index.ts';
import { locateTable } from '../../../table/locate.ts';
import type { TaskKind, TaskOutput } from '../registry.ts';
import { checkParams, P } from './params.ts';

const OPERATIONS = ['optimize', 'checkpoint', 'vacuum', 'cleanup_log'] as const;
type Operation = (typeof OPERATIONS)[number];

export const maintenanceKind: TaskKind = {
  description: 'OPTIMIZE, checkpoint, VACUUM and log clean-up of a Delta table',
  check: (params) =>
    checkParams(params, {
      table: { shape: P.text(), required: true },
      operations: { shape: P.list(P.text(OPERATIONS), true) },
      file_size: { shape: P.size },
      older_than: { shape: P.duration },
      order_by: { shape: P.list(P.name, true) },
      vacuum_retention: { shape: P.duration },
      if_missing: { shape: P.text(['fail', 'skip']) },
    }),

  async run(params, ctx) {
    const name = params.table as string;
    const ops = new Set<Operation>((params.operations as Operation[] | undefined) ?? OPERATIONS);
    let location: Awaited<ReturnType<typeof locateTable>>;
    try {
      location = await locateTable(name, ctx.dataDir);
    } catch (err) {
      if (params.if_missing === 'skip' && (err as { code?: string }).code === 'TABLE_NOT_FOUND') {
        ctx.log(`no table ${name} yet; nothing to maintain`);
        return { table: name, skipped: 'the table does not exist yet' };
      }
      throw err;
    }
    const table = await DeltaTable.open(location.store, { clock: ctx.clock });
    const out: TaskOutput = { table: name };
    const step = () => {
      if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('stopped');
    };
    if (ops.has('optimize')) {
      step();
      const before = (await table.snapshot()).files().length;
      const res = await optimize(table, {
        ...(params.file_size !== undefined && { targetFileSize: parseSize(params.file_size) }),
        ...(params.older_than !== undefined && { olderThanMs: parseDuration(params.older_than) }),
        ...(Array.isArray(params.order_by) && { orderBy: params.order_by as string[] }),
        clock: ctx.clock,
      });
      out.optimize = {
        version: res.version ?? null,
        files_before: before,
        files_removed: res.filesRemoved,
        files_added: res.filesAdded,
      };
    }
    if (ops.has('checkpoint')) {
      step();
      const snap = await table.snapshot();
      await table.checkpoint(snap);
      out.checkpoint_version = snap.version;
    }
    if (ops.has('vacuum')) {
      step();
      const retention = params.vacuum_retention;
      const { deleted } = await table.vacuum(
        retention === undefined ? {} : { retentionMs: parseDuration(retention) },
      );
      out.vacuumed_files = deleted.length;
    }
    if (ops.has('cleanup_log')) {
      step();
      out.log_files_deleted = (await table.cleanupLog()).deleted.length;
    }
    return out;
  },
};
