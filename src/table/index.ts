/**
 * The table layer's public API: Delta tables (core: create/open, snapshots, commits,
 * checkpoints, time travel, vacuum) and the data plane (writing Parquet files with
 * stats, append/overwrite, MERGE/UPDATE/DELETE, OPTIMIZE, scans and reads), and where
 * a table named by a user lives (`locateTable`).
 */
export type { Action, Add, Metadata, Protocol, Remove, Txn } from './actions.ts';
export { latestVersion } from './latest-version.ts';
export { isLocation, listTables, locateTable, type TableLocation } from './locate.ts';
export { type AppendOptions, append, overwrite, type WriteResult } from './ops/append.ts';
export { type MergeMetrics, type MergeOptions, merge, type WhenMatched } from './ops/merge.ts';
export {
  type OptimizeOptions,
  type OptimizeProgress,
  type OptimizeResult,
  optimize,
} from './ops/optimize.ts';
export {
  type ReplaceMetrics,
  type ReplacePartitionsOptions,
  replacePartitions,
} from './ops/replace-partitions.ts';
export type { OpResult } from './ops/retry.ts';
export { deleteWhere, type RewriteMetrics, update } from './ops/rewrite-where.ts';
export { readChanges, type VersionChanges } from './read/changes.ts';
export { openConnection, withConnection } from './read/connection.ts';
export type { Filter, FilterOp } from './read/filter.ts';
export { type ReadOptions, readRows, snapshotQuery } from './read/read-rows.ts';
export { FILE_COLUMN, type FileRef, filesRelation, ROW_COLUMN } from './read/relation.ts';
export { clearCache, type ScanFile, scan } from './read/scan.ts';
export type { DataType, StructField, StructType } from './schema.ts';
export { fileRows, summarize, type TableSummary } from './summary.ts';
export * from './table.ts';
export type { SchemaMode } from './validate.ts';
export { writeFiles } from './write/batch.ts';
export type { DataSource } from './write/source.ts';
export type { ParquetCodec } from './write/write-files.ts';
