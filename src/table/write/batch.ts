/**
 * One batch → data files: source query, schema fitting (validate.ts), Parquet writing
 * (write-files.ts). Commits nothing; on failure no file is left behind.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Clock } from '../../core/clock.ts';
import type { Add, Metadata } from '../actions.ts';
import { openConnection } from '../read/connection.ts';
import type { StructType } from '../schema.ts';
import { serializeSchema } from '../schema-json.ts';
import type { Snapshot } from '../snapshot.ts';
import { parseStats } from '../stats.ts';
import { explainWriteError, prepareSelect, type SchemaMode } from '../validate.ts';
import { type DataSource, sourceQuery } from './source.ts';
import { type TableHandle, tableClock, tableName } from './table-handle.ts';
import { type ParquetCodec, writeRelation } from './write-files.ts';

export interface BatchOptions {
  schemaMode?: SchemaMode;
  targetFileSize?: number;
  dataChange?: boolean;
  orderBy?: string[];
  compression?: ParquetCodec;
  clock?: Clock;
  /** Every row's partition values, known to the caller (see WriteRelationOptions). */
  partitionValues?: Record<string, string | null>;
}

export interface WrittenBatch {
  adds: Add[];
  /** A new metaData action when schema evolution added columns. */
  metadata?: Metadata;
  schema: StructType;
  rows: number;
  bytes: number;
}

/** Runs `fn` on the source's own connection if it has one, else on a fresh UTC one. */
async function onConnection<T>(conn: DuckDBConnection | undefined, fn: (c: DuckDBConnection) => Promise<T>) {
  if (conn) {
    await conn.run("SET TimeZone = 'UTC'");
    return fn(conn);
  }
  const own = await openConnection();
  try {
    return await fn(own);
  } finally {
    own.closeSync();
  }
}

export async function writeBatch(
  table: TableHandle,
  snapshot: Snapshot,
  data: DataSource,
  opts: BatchOptions = {},
): Promise<WrittenBatch> {
  const source = await sourceQuery(data, snapshot.schema);
  try {
    if (source.empty) return { adds: [], schema: snapshot.schema, rows: 0, bytes: 0 };
    return await onConnection(source.conn, async (conn) => {
      const name = tableName(table);
      const prepared = await prepareSelect(conn, source.sql, snapshot.schema, {
        schemaMode: opts.schemaMode,
        table: name,
      });
      let adds: Add[];
      try {
        adds = await writeRelation({
          store: table.store,
          conn,
          sql: prepared.sql,
          schema: prepared.schema,
          partitionColumns: snapshot.partitionColumns,
          clock: tableClock(table, opts.clock),
          targetFileSize: opts.targetFileSize,
          dataChange: opts.dataChange,
          orderBy: opts.orderBy,
          compression: opts.compression,
          partitionValues: opts.partitionValues,
        });
      } catch (err) {
        throw await explainWriteError(err, prepared, conn, name);
      }
      const metadata = prepared.added.length
        ? { ...snapshot.metadata, schemaString: serializeSchema(prepared.schema) }
        : undefined;
      let rows = 0;
      let bytes = 0;
      for (const a of adds) {
        rows += parseStats(a.stats)?.numRecords ?? 0;
        bytes += a.size;
      }
      return { adds, metadata, schema: prepared.schema, rows, bytes };
    });
  } finally {
    await source.cleanup();
  }
}

/**
 * Writes a batch as Parquet files into the table's store and returns their `add`
 * actions (with stats). Commits nothing: the caller commits the adds (or deletes the
 * files). Data that does not fit the snapshot's schema is TABLE_SCHEMA_MISMATCH.
 */
export async function writeFiles(
  table: TableHandle,
  snapshot: Snapshot,
  data: DataSource,
  opts: { targetFileSize?: number; orderBy?: string[]; clock?: Clock } = {},
): Promise<Add[]> {
  return (await writeBatch(table, snapshot, data, opts)).adds;
}
