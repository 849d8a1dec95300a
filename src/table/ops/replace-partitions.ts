/**
 * Replacing whole partitions in one commit (Spark's dynamic partition overwrite, or
 * `replaceWhere` on a partition column): the files of the table whose value of
 * `column` is one of `values` are removed, and the batch's files added, in one commit
 * (remove + add, dataChange=true). The batch may only hold rows of those partitions; a
 * row of any other partition fails the operation and nothing is committed. Re-running
 * it with the same batch gives the same table: that is what makes a daily job's retry
 * or re-run of a day idempotent.
 *
 * Conflicts: the commit's read scope is the partitions it replaces, so a concurrent
 * commit that removed a file of them (another replacement, a MERGE, OPTIMIZE) or added
 * data there in a non-blind commit is a TABLE_COMMIT_CONFLICT (conflicts.ts); the
 * operation then re-reads the table, writes the batch again and commits (retry.ts). A
 * concurrent blind append into the partitions is not a conflict: it is ordered after the
 * replacement, as Delta's WriteSerializable isolation allows. Two replacements of one
 * partition racing each other therefore end with exactly one batch's rows, never both.
 */
import type { Clock } from '../../core/clock.ts';
import { TributaryError } from '../../core/errors.ts';
import { quoteString } from '../../core/sql.ts';
import type { Action, Add } from '../actions.ts';
import { partitionValueSql } from '../partition-path.ts';
import { queryJson, withConnection } from '../read/connection.ts';
import { compareTyped } from '../read/filter.ts';
import type { DataType } from '../schema.ts';
import type { Snapshot } from '../snapshot.ts';
import { duckType, findField } from '../types.ts';
import type { SchemaMode } from '../validate.ts';
import { writeBatch } from '../write/batch.ts';
import type { DataSource } from '../write/source.ts';
import { type TableHandle, tableClock, tableName } from '../write/table-handle.ts';
import { deleteWrittenFiles, type ParquetCodec } from '../write/write-files.ts';
import { removeFor } from './remove.ts';
import { DEFAULT_OP_RETRIES, type OpResult, runWithRetries } from './retry.ts';

export interface ReplacePartitionsOptions {
  /** A partition column of the table. */
  column: string;
  /**
   * The partitions to replace, as values of `column` in their Delta text form
   * (`2026-11-29` for a date, `2026-11-29 10:00:00` for a timestamp, `42`); null is the
   * null partition. Compared as typed values, so `2026-11-29T10:00:00Z` finds the
   * partition written `2026-11-29 10:00:00`.
   */
  values: Array<string | null>;
  schemaMode?: SchemaMode;
  targetFileSize?: number;
  compression?: ParquetCodec;
  /** Re-plans after a conflict at most this many times (default 3). */
  maxRetries?: number;
  clock?: Clock;
}

export interface ReplaceMetrics {
  numOutputRows: number;
  numAddedFiles: number;
  numRemovedFiles: number;
  /** Rows in the removed files (from their statistics; undefined when a file has none). */
  numRemovedRows: number | undefined;
}

function sameValue(type: DataType, a: string | null | undefined, b: string | null): boolean {
  const na = a === undefined || (a === '' && type !== 'string') ? null : a;
  if (na === null || b === null) return na === null && b === null;
  if (na === b) return true;
  return compareTyped(type, na, b) === 0;
}

function rowsOf(add: Add): number | undefined {
  if (!add.stats) return undefined;
  const n = (JSON.parse(add.stats) as { numRecords?: number }).numRecords;
  return typeof n === 'number' ? n : undefined;
}

/** The partition column's exact name and type, or TABLE_INVALID_ARGUMENT. */
function partitionColumn(
  snapshot: Snapshot,
  column: string,
  table: string,
): { name: string; type: DataType } {
  const name = snapshot.partitionColumns.find((c) => c.toLowerCase() === column.toLowerCase());
  const field = name === undefined ? undefined : findField(snapshot.schema, name);
  if (name === undefined || field === undefined) {
    throw new TributaryError(
      'TABLE_INVALID_ARGUMENT',
      `table ${table} is partitioned by [${snapshot.partitionColumns.join(', ')}], not by '${column}': partitions can only be replaced by a partition column`,
      { table, column, partitionColumns: snapshot.partitionColumns },
    );
  }
  return { name, type: field.type };
}

/** A partition value in the text the writer gives it (`2026-11-29T10:00:00Z` → `2026-11-29 10:00:00`). */
async function canonicalValue(value: string | null, type: DataType, table: string): Promise<string | null> {
  if (value === null || (value === '' && type !== 'string')) return null;
  if (type === 'string') return value;
  return withConnection(async (conn) => {
    const expr = partitionValueSql(`CAST(${quoteString(value)} AS ${duckType(type)})`, type);
    try {
      const [row] = await queryJson(conn, `SELECT ${expr} AS v`);
      return row.v === null ? null : String(row.v);
    } catch (err) {
      throw new TributaryError(
        'TABLE_INVALID_ARGUMENT',
        `'${value}' is not a value of partition column type ${JSON.stringify(type)} (table ${table})`,
        { table, value },
        err,
      );
    }
  });
}

/** Replaces the partitions `values` of `column` with the batch's rows, in one commit. */
export async function replacePartitions(
  table: TableHandle,
  data: DataSource,
  opts: ReplacePartitionsOptions,
): Promise<OpResult<ReplaceMetrics>> {
  const name = tableName(table);
  if (opts.values.length === 0) {
    throw new TributaryError(
      'TABLE_INVALID_ARGUMENT',
      `replacing partitions of ${name} needs at least one value of '${opts.column}'`,
      { table: name },
    );
  }
  const clock = tableClock(table, opts.clock);
  return runWithRetries<ReplaceMetrics>(
    table,
    'REPLACE PARTITIONS',
    opts.maxRetries ?? DEFAULT_OP_RETRIES,
    async (snapshot) => {
      const col = partitionColumn(snapshot, opts.column, name);
      const inPartitions = (add: Add) =>
        opts.values.some((v) => sameValue(col.type, add.partitionValues[col.name], v));
      // One partition of a table partitioned by this column alone: written in one pass,
      // every row checked to be in it as it is written (no scan for partition values first).
      const single =
        opts.values.length === 1 && snapshot.partitionColumns.length === 1
          ? { [col.name]: await canonicalValue(opts.values[0], col.type, name) }
          : undefined;
      const batch = await writeBatch(table, snapshot, data, {
        schemaMode: opts.schemaMode,
        targetFileSize: opts.targetFileSize,
        compression: opts.compression,
        clock,
        partitionValues: single,
      });
      const outside = batch.adds.find((a) => !inPartitions(a));
      if (outside !== undefined) {
        await deleteWrittenFiles(table.store, batch.adds);
        throw new TributaryError(
          'TABLE_INVALID_ARGUMENT',
          `the batch replacing ${col.name} in (${opts.values.map(String).join(', ')}) of table ${name} has rows with ${col.name} = ${outside.partitionValues[col.name] ?? 'null'}; it may only hold rows of the partitions it replaces (filter the rows, or name that partition too)`,
          { table: name, column: col.name, value: outside.partitionValues[col.name] ?? null },
        );
      }
      const removed = snapshot.files().filter(inPartitions);
      let removedRows: number | undefined = 0;
      for (const f of removed) {
        const n = rowsOf(f);
        removedRows = removedRows === undefined || n === undefined ? undefined : removedRows + n;
      }
      const metrics: ReplaceMetrics = {
        numOutputRows: batch.rows,
        numAddedFiles: batch.adds.length,
        numRemovedFiles: removed.length,
        numRemovedRows: removedRows,
      };
      if (batch.adds.length === 0 && removed.length === 0 && batch.metadata === undefined) {
        return { nothing: metrics };
      }
      const now = clock.now();
      const actions: Action[] = [];
      if (batch.metadata) actions.push({ metaData: batch.metadata });
      for (const f of removed) actions.push({ remove: removeFor(f, now, true) });
      for (const add of batch.adds) actions.push({ add });
      // The partitions as written in the log (files removed and added) and as given: the
      // conflict check compares partition values as text.
      const scope = new Map<string, Record<string, string | null>>();
      for (const v of opts.values) scope.set(JSON.stringify(v), { [col.name]: v });
      for (const f of [...removed, ...batch.adds]) {
        const v = f.partitionValues[col.name] ?? null;
        scope.set(JSON.stringify(v), { [col.name]: v });
      }
      const predicate = `${col.name} IN (${opts.values.map((v) => (v === null ? 'NULL' : `'${v}'`)).join(', ')})`;
      return {
        actions,
        written: batch.adds,
        metrics,
        commit: {
          operation: 'WRITE',
          operationParameters: {
            mode: 'Overwrite',
            partitionBy: JSON.stringify(snapshot.partitionColumns),
            predicate: JSON.stringify([predicate]),
          },
          operationMetrics: {
            numFiles: String(batch.adds.length),
            numOutputRows: String(batch.rows),
            numOutputBytes: String(batch.bytes),
            numRemovedFiles: String(removed.length),
          },
          readScope: { partitions: [...scope.values()] },
        },
      };
    },
  );
}
