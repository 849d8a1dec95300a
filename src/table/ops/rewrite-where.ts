/**
 * UPDATE and DELETE by SQL predicate, copy-on-write: the files holding a row that
 * matches `where` are rewritten (matching rows changed or dropped, the others copied)
 * and replaced in one commit (remove + add, dataChange=true), readScope 'all'. A file
 * whose every row is deleted is removed without a replacement.
 */
import type { Clock } from '../../core/clock.ts';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import { quoteIdent } from '../../core/sql.ts';
import type { Action, Add } from '../actions.ts';
import { duckdbMessage } from '../duckdb-errors.ts';
import { openConnection, queryJson } from '../read/connection.ts';
import { FILE_COLUMN, filesRelation } from '../read/relation.ts';
import { localFiles } from '../read/scan.ts';
import { duckType } from '../types.ts';
import { explainWriteError, prepareSelect } from '../validate.ts';
import { type TableHandle, tableClock, tableName } from '../write/table-handle.ts';
import { writeRelation } from '../write/write-files.ts';
import { removeFor } from './remove.ts';
import { DEFAULT_OP_RETRIES, type OpResult, runWithRetries } from './retry.ts';

export interface RewriteMetrics {
  numUpdatedRows: number;
  numDeletedRows: number;
  numCopiedRows: number;
  numAddedFiles: number;
  numRemovedFiles: number;
}

interface RewriteSpec {
  operation: 'UPDATE' | 'DELETE';
  where: string;
  set?: Record<string, string>;
  maxRetries?: number;
  targetFileSize?: number;
  clock?: Clock;
}

async function rewriteWhere(table: TableHandle, spec: RewriteSpec): Promise<OpResult<RewriteMetrics>> {
  const name = tableName(table);
  if (!spec.where?.trim()) {
    throw new TributaryError(
      'TABLE_INVALID_ARGUMENT',
      `${spec.operation} on ${name} needs a 'where' predicate`,
      {},
    );
  }
  const clock = tableClock(table, spec.clock);
  const cond = `coalesce((${spec.where}), false)`;
  const conn = await openConnection();
  try {
    return await runWithRetries<RewriteMetrics>(
      table,
      spec.operation,
      spec.maxRetries ?? DEFAULT_OP_RETRIES,
      async (snapshot) => {
        const schema = snapshot.schema;
        const parts = snapshot.partitionColumns;
        const setCols = new Map<string, string>();
        for (const [col, expr] of Object.entries(spec.set ?? {})) {
          const f =
            schema.fields.find((x) => x.name === col) ??
            schema.fields.find((x) => x.name.toLowerCase() === col.toLowerCase());
          if (!f) {
            throw new TributaryError(
              'TABLE_INVALID_ARGUMENT',
              `UPDATE sets column '${col}', which table ${name} does not have`,
              { column: col },
            );
          }
          setCols.set(f.name, expr);
        }
        const all = await localFiles(table.store, snapshot, snapshot.files());
        const metrics: RewriteMetrics = {
          numUpdatedRows: 0,
          numDeletedRows: 0,
          numCopiedRows: 0,
          numAddedFiles: 0,
          numRemovedFiles: 0,
        };
        if (all.length === 0) return { nothing: metrics };
        const rel = await filesRelation(conn, all, schema, parts, { withFile: true });
        let hits: Record<string, unknown>[];
        try {
          hits = await queryJson(
            conn,
            `SELECT ${FILE_COLUMN} AS f, count(*) AS n FROM (${rel}) AS t WHERE ${cond} GROUP BY 1`,
          );
        } catch (err) {
          if (isTributaryError(err) && err.retryable) throw err;
          throw new TributaryError(
            'TABLE_INVALID_ARGUMENT',
            `${spec.operation} predicate '${spec.where}' failed on table ${name}: ${duckdbMessage(err)}`,
            { where: spec.where },
            err,
          );
        }
        if (hits.length === 0) return { nothing: metrics };
        const hitSet = new Set(hits.map((h) => String(h.f)));
        const changed = hits.reduce((s, h) => s + Number(h.n), 0);
        const touched = all.filter((f) => hitSet.has(f.path));
        const touchedRel = await filesRelation(conn, touched, schema, parts);
        let sql: string;
        if (spec.operation === 'DELETE') {
          sql = `SELECT * FROM (${touchedRel}) AS t WHERE NOT ${cond}`;
          metrics.numDeletedRows = changed;
        } else {
          const exprs = schema.fields.map((f) => {
            const e = setCols.get(f.name);
            const c = quoteIdent(f.name);
            return e === undefined
              ? c
              : `CASE WHEN ${cond} THEN CAST((${e}) AS ${duckType(f.type)}) ELSE ${c} END AS ${c}`;
          });
          sql = `SELECT ${exprs.join(', ')} FROM (${touchedRel}) AS t`;
          metrics.numUpdatedRows = changed;
        }
        const total = Number((await queryJson(conn, `SELECT count(*) AS n FROM (${touchedRel})`))[0].n);
        metrics.numCopiedRows = total - changed;
        // Re-check the output against the schema (e.g. SET of NULL into a non-nullable column).
        const prepared = await prepareSelect(conn, sql, schema, { table: name });
        let adds: Add[];
        try {
          adds = await writeRelation({
            store: table.store,
            conn,
            sql: prepared.sql,
            schema,
            partitionColumns: parts,
            clock,
            targetFileSize: spec.targetFileSize,
          });
        } catch (err) {
          throw await explainWriteError(err, prepared, conn, name);
        }
        metrics.numAddedFiles = adds.length;
        metrics.numRemovedFiles = touched.length;
        const now = clock.now();
        const actions: Action[] = [
          ...touched.map((f) => ({ remove: removeFor(f.add, now, true) })),
          ...adds.map((add) => ({ add })),
        ];
        return {
          actions,
          written: adds,
          metrics,
          commit: {
            operation: spec.operation,
            operationParameters: { predicate: JSON.stringify([spec.where]) },
            operationMetrics: Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, String(v)])),
            readScope: 'all',
          },
        };
      },
    );
  } finally {
    conn.closeSync();
  }
}

/** Sets columns (SQL expressions over the row) on rows matching `where`. */
export function update(
  table: TableHandle,
  opts: {
    where: string;
    set: Record<string, string>;
    maxRetries?: number;
    targetFileSize?: number;
    clock?: Clock;
  },
): Promise<OpResult<RewriteMetrics>> {
  if (!opts.set || Object.keys(opts.set).length === 0) {
    throw new TributaryError(
      'TABLE_INVALID_ARGUMENT',
      `UPDATE on ${tableName(table)} needs at least one column in 'set'`,
      {},
    );
  }
  return rewriteWhere(table, { ...opts, operation: 'UPDATE' });
}

/** Deletes rows matching `where`. */
export function deleteWhere(
  table: TableHandle,
  where: string,
  opts: { maxRetries?: number; targetFileSize?: number; clock?: Clock } = {},
): Promise<OpResult<RewriteMetrics>> {
  return rewriteWhere(table, { ...opts, where, operation: 'DELETE' });
}
