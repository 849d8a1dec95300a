/**
 * MERGE by key, copy-on-write (PROTOCOL.md: rewritten files are `remove` + `add` with
 * dataChange=true; no deletion vectors, so reader 1 / writer 2 engines read the result).
 *
 * 1. The source batch is fitted to the table schema and materialized once. A source
 *    with several rows for one key is refused (TABLE_INVALID_ARGUMENT): which one wins
 *    would be arbitrary, so the caller deduplicates first (e.g. latest event per key).
 *    With schemaMode 'merge', source columns the table lacks are added to its schema as
 *    nullable columns, in the MERGE's commit (a metaData action): rows the MERGE leaves
 *    or copies hold null in them, as every file written before does.
 * 2. Candidate files: partition pruning when every partition column is a merge key,
 *    then per-file key min/max statistics (key-pruning.ts).
 * 3. Touched files: candidates that actually hold a source key (reads key columns only).
 * 4. Each touched file in which some row is updated or deleted is rewritten (its rows
 *    without a match, plus matched rows kept / updated / dropped per `whenMatched`);
 *    up to PER_FILE_REWRITE_MAX such files each on its own, so files keep their key
 *    ranges and a MERGE rewrites only the files its batch changes, with the source rows
 *    that match nothing (whenNotMatched 'insert') as new files of their own; more
 *    changed files are rewritten together with the new rows in one pass.
 * 5. One commit: removes + adds (+ txn). Its read scope is file-level (conflicts.ts):
 *    the touched files, and any file a concurrent writer adds holding a source key; so
 *    MERGEs of disjoint keys commit side by side even in one unpartitioned table. On
 *    TABLE_COMMIT_CONFLICT the plan is recomputed on a fresh snapshot (retry.ts).
 *
 * Conditions are SQL over the aliases `source` and `target`, e.g.
 * `source.event_time > target.event_time`.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Clock } from '../../core/clock.ts';
import { crashPoint } from '../../core/crash-points.ts';
import { TributaryError } from '../../core/errors.ts';
import { quoteIdent, quoteString } from '../../core/sql.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import type { Action, Add, Txn } from '../actions.ts';
import { openConnection, queryJson } from '../read/connection.ts';
import { FILE_COLUMN, filesRelation } from '../read/relation.ts';
import { localFiles, type ScanFile } from '../read/scan.ts';
import type { StructField, StructType } from '../schema.ts';
import { serializeSchema } from '../schema-json.ts';
import type { Snapshot } from '../snapshot.ts';
import { duckType } from '../types.ts';
import { explainWriteError, prepareSelect, type SchemaMode } from '../validate.ts';
import type { DataSource } from '../write/source.ts';
import { sourceQuery } from '../write/source.ts';
import { type ReadScope, type TableHandle, tableClock, tableName } from '../write/table-handle.ts';
import { type ParquetCodec, writeRelation } from '../write/write-files.ts';
import { filesByKeyRange, partitionKey, sourcePartitions } from './key-pruning.ts';
import { removeFor } from './remove.ts';
import { DEFAULT_OP_RETRIES, type OpResult, runWithRetries } from './retry.ts';

/** Up to this many changed files are rewritten one by one (see the MERGE plan below). */
const PER_FILE_REWRITE_MAX = 8;

export type WhenMatched = 'update' | 'delete' | { update?: string; delete?: string };

export interface MergeOptions {
  /** Key columns: a source row matches a target row when all are equal (NULL never matches). */
  on: string[];
  /** Default 'update' (replace the whole row with the source row). */
  whenMatched?: WhenMatched;
  /** Default 'insert'; `{ insert: SQL over source.* }` inserts only the rows for which it holds. */
  whenNotMatched?: 'insert' | 'ignore' | { insert: string };
  txn?: Txn[];
  /** The progress the table must hold for these appIds (commit.ts, `txnFence`). */
  txnFence?: ReadonlyMap<string, number | undefined>;
  targetFileSize?: number;
  /**
   * Sort the rows of new files by these columns (default: no sort). File-level key
   * ranges, which MERGE uses to skip files, do not depend on the order inside a file;
   * sorting matters only when a rewrite is split into several files, and sorting a
   * 1M-row rewrite costs more than the rest of the MERGE (bench/table-merge.ts).
   */
  orderBy?: string[];
  /** Parquet codec of the new files (default zstd; see write-files.ts). */
  compression?: ParquetCodec;
  /** 'merge': source columns the table lacks are added as nullable columns (default 'strict': refused). */
  schemaMode?: SchemaMode;
  /** Re-runs after TABLE_COMMIT_CONFLICT (default 3). */
  maxRetries?: number;
  clock?: Clock;
}

export interface MergeMetrics {
  numSourceRows: number;
  numTargetRowsInserted: number;
  numTargetRowsUpdated: number;
  numTargetRowsDeleted: number;
  numTargetRowsCopied: number;
  numTargetFilesAdded: number;
  numTargetFilesRemoved: number;
}

function conditions(w: WhenMatched): { del: string; upd: string } {
  if (w === 'update') return { del: 'false', upd: 'true' };
  if (w === 'delete') return { del: 'true', upd: 'false' };
  const c = (s: string | undefined) =>
    s === undefined ? 'false' : s.trim() === '' ? 'true' : `coalesce((${s}), false)`;
  return { del: c(w.delete), upd: c(w.update) };
}

export async function merge(
  table: TableHandle,
  data: DataSource,
  opts: MergeOptions,
): Promise<OpResult<MergeMetrics> & { metrics: MergeMetrics }> {
  const name = tableName(table);
  if (!opts.on?.length) {
    throw new TributaryError(
      'TABLE_INVALID_ARGUMENT',
      `merge into ${name} needs at least one key column in 'on'`,
      {},
    );
  }
  const clock = tableClock(table, opts.clock);
  const whenMatched = opts.whenMatched ?? 'update';
  const notMatched = opts.whenNotMatched ?? 'insert';
  const insert = notMatched !== 'ignore';
  const insertWhere = typeof notMatched === 'object' ? ` WHERE coalesce((${notMatched.insert}), false)` : '';
  const { del, upd } = conditions(whenMatched);
  const first = await table.snapshot();
  const source = await sourceQuery(data, first.schema);
  const conn = await openConnection();
  const src = `__merge_src_${Math.random().toString(36).slice(2)}`;
  try {
    const schema = first.schema;
    /** Columns schema evolution adds (schemaMode 'merge'): the source has them, the table does not. */
    let added: StructField[] = [];
    const keys = opts.on.map((k) => {
      const f =
        schema.fields.find((x) => x.name === k) ??
        schema.fields.find((x) => x.name.toLowerCase() === k.toLowerCase());
      if (!f) {
        throw new TributaryError(
          'TABLE_INVALID_ARGUMENT',
          `merge key '${k}' is not a column of table ${name}`,
          { column: k },
        );
      }
      return f.name;
    });
    if (source.empty) {
      await conn.run(
        `CREATE TEMP TABLE ${src} AS SELECT * FROM (${await filesRelation(conn, [], schema, [])})`,
      );
    } else {
      if (source.conn) {
        throw new TributaryError(
          'TABLE_INVALID_ARGUMENT',
          'merge takes its source as rows, a file, or SQL without a connection (it materializes the batch on its own connection)',
          {},
        );
      }
      const prepared = await prepareSelect(conn, source.sql, schema, {
        table: name,
        ...(opts.schemaMode !== undefined && { schemaMode: opts.schemaMode }),
      });
      added = prepared.added;
      try {
        await conn.run(`CREATE TEMP TABLE ${src} AS ${prepared.sql}`);
      } catch (err) {
        throw await explainWriteError(err, prepared, conn, name);
      }
    }
    const keyList = keys.map(quoteIdent).join(', ');
    const dup = await queryJson(
      conn,
      `SELECT ${keyList}, count(*) AS __n FROM ${src} GROUP BY ALL HAVING count(*) > 1 LIMIT 1`,
    );
    if (dup.length > 0) {
      const { __n, ...key } = dup[0];
      throw new TributaryError(
        'TABLE_INVALID_ARGUMENT',
        `merge into ${name}: the source has ${String(__n)} rows for key ${JSON.stringify(key)}; MERGE needs at most one source row per key — deduplicate the batch first (e.g. keep the latest event per key)`,
        { key, rows: Number(__n) },
      );
    }
    const numSourceRows = Number((await queryJson(conn, `SELECT count(*) AS n FROM ${src}`))[0].n);
    const on = keys.map((k) => `target.${quoteIdent(k)} = source.${quoteIdent(k)}`).join(' AND ');
    const srcColumns = new Set([...schema.fields, ...added].map((f) => f.name.toLowerCase()));

    return await runWithRetries<MergeMetrics>(
      table,
      'MERGE',
      opts.maxRetries ?? DEFAULT_OP_RETRIES,
      async (snapshot) => {
        const parts = snapshot.partitionColumns;
        // The schema written: the snapshot's, plus the columns the source adds that it
        // still lacks (a concurrent writer may have added them meanwhile).
        const have = new Set(snapshot.schema.fields.map((f) => f.name.toLowerCase()));
        const adding = added.filter((f) => !have.has(f.name.toLowerCase()));
        const written: StructType =
          adding.length > 0
            ? { type: 'struct', fields: [...snapshot.schema.fields, ...adding] }
            : snapshot.schema;
        const cols = written.fields.map((f) => quoteIdent(f.name));
        const targetCols = cols.map((c) => `target.${c}`).join(', ');
        // A column the table gained since the source was fitted is null in its rows.
        const sourceCols = written.fields
          .map((f, i) =>
            srcColumns.has(f.name.toLowerCase())
              ? `source.${cols[i]}`
              : `CAST(NULL AS ${duckType(f.type)}) AS ${cols[i]}`,
          )
          .join(', ');
        let candidates = snapshot.files();
        if (parts.length > 0 && parts.every((p) => keys.includes(p))) {
          const tuples = await sourcePartitions(conn, src, snapshot.schema, parts);
          const wanted = new Set(tuples.map((t) => partitionKey(t, parts)));
          candidates = candidates.filter((a) => wanted.has(partitionKey(a.partitionValues, parts)));
        }
        const keyedFiles = (files: Add[]) => filesWithKeys(table.store, snapshot, conn, files, src, on);
        candidates = await filesByKeyRange(conn, candidates, snapshot.schema, keys, parts, src);
        const touched = numSourceRows > 0 ? await keyedFiles(candidates) : [];
        // What this MERGE read is the rows of the source's keys: the files holding them,
        // and any file a concurrent writer adds with one of them (conflicts.ts).
        const readScope: ReadScope = {
          files: new Set(touched.map((t) => t.path)),
          matches: async (adds) => {
            const ranged = await filesByKeyRange(conn, adds, snapshot.schema, keys, parts, src);
            return (await keyedFiles(ranged))[0]?.add;
          },
        };
        const target = `__merge_target_${Math.random().toString(36).slice(2)}`;
        const targetRel = await filesRelation(conn, touched, written, parts, { withFile: true });
        await conn.run(`CREATE TEMP TABLE ${target} AS ${targetRel}`);
        try {
          // Per touched file: how many of its rows the MERGE deletes or updates.
          const perFile = await queryJson(
            conn,
            `SELECT target.${FILE_COLUMN} AS f, count(*) AS matched, count(*) FILTER (WHERE ${del}) AS deleted, count(*) FILTER (WHERE NOT (${del}) AND ${upd}) AS updated FROM ${target} AS target JOIN ${src} AS source ON ${on} GROUP BY 1`,
          );
          let matched = 0;
          let deleted = 0;
          let updated = 0;
          const changedFiles = new Set<string>();
          for (const r of perFile) {
            matched += Number(r.matched);
            deleted += Number(r.deleted);
            updated += Number(r.updated);
            if (Number(r.deleted) + Number(r.updated) > 0) changedFiles.add(String(r.f));
          }
          const rewritten = touched.filter((t) => changedFiles.has(t.path));
          const copied = rewritten.length
            ? Number(
                (
                  await queryJson(
                    conn,
                    `SELECT count(*) AS n FROM ${target} WHERE ${FILE_COLUMN} IN (${rewritten.map((t) => quoteString(t.path)).join(', ')})`,
                  )
                )[0].n,
              ) -
              deleted -
              updated
            : 0;
          const inserted = !insert
            ? 0
            : insertWhere === ''
              ? numSourceRows - matched
              : Number(
                  (
                    await queryJson(
                      conn,
                      `SELECT count(*) AS n FROM ${src} AS source ANTI JOIN ${target} AS target ON ${on}${insertWhere}`,
                    )
                  )[0].n,
                );
          const metrics: MergeMetrics = {
            numSourceRows,
            numTargetRowsInserted: inserted,
            numTargetRowsUpdated: updated,
            numTargetRowsDeleted: deleted,
            numTargetRowsCopied: copied,
            numTargetFilesAdded: 0,
            numTargetFilesRemoved: rewritten.length,
          };
          if (deleted === 0 && updated === 0 && inserted === 0 && !opts.txn?.length)
            return { nothing: metrics };
          // A few changed files (a clustered table, changes to recent keys) are each
          // rewritten on their own, so a file's key range (and the table's clustering)
          // survives the MERGE and the cost follows the files the batch changes; rows with
          // no match become new files of their own. Many changed files (keys spread over
          // the table) are rewritten together with the new rows, in one pass: one
          // statement per file would cost more than it keeps. Either way, files whose
          // matched rows all stay as they are are left alone.
          const write = (sql: string) =>
            writeRelation({
              store: table.store,
              conn,
              sql,
              schema: written,
              partitionColumns: parts,
              clock,
              targetFileSize: opts.targetFileSize,
              orderBy: opts.orderBy,
              compression: opts.compression,
            });
          const rewrite = (where: string) =>
            [
              `SELECT ${targetCols} FROM ${target} AS target ANTI JOIN ${src} AS source ON ${on} WHERE ${where}`,
              `SELECT ${sourceCols} FROM ${target} AS target JOIN ${src} AS source ON ${on} WHERE ${where} AND NOT (${del}) AND ${upd}`,
              `SELECT ${targetCols} FROM ${target} AS target JOIN ${src} AS source ON ${on} WHERE ${where} AND NOT (${del}) AND NOT (${upd})`,
            ].join(' UNION ALL ');
          const inserts = `SELECT ${sourceCols} FROM ${src} AS source ANTI JOIN ${target} AS target ON ${on}${insertWhere}`;
          const adds = [];
          if (rewritten.length <= PER_FILE_REWRITE_MAX) {
            for (const file of rewritten) {
              adds.push(...(await write(rewrite(`target.${FILE_COLUMN} = ${quoteString(file.path)}`))));
            }
            if (inserted > 0) adds.push(...(await write(inserts)));
          } else {
            const inChanged = `target.${FILE_COLUMN} IN (${rewritten.map((f) => quoteString(f.path)).join(', ')})`;
            adds.push(
              ...(await write(`${rewrite(inChanged)}${inserted > 0 ? ` UNION ALL ${inserts}` : ''}`)),
            );
          }
          crashPoint('merge.written');
          metrics.numTargetFilesAdded = adds.length;
          const removed = rewritten;
          const now = clock.now();
          const actions: Action[] = [
            ...(adding.length > 0
              ? [{ metaData: { ...snapshot.metadata, schemaString: serializeSchema(written) } }]
              : []),
            ...removed.map((f) => ({ remove: removeFor(f.add, now, true) })),
            ...adds.map((add) => ({ add })),
            ...(opts.txn ?? []).map((t) => ({ txn: { ...t, lastUpdated: t.lastUpdated ?? now } })),
          ];
          return {
            actions,
            written: adds,
            metrics,
            commit: {
              ...(opts.txnFence && { txnFence: opts.txnFence }),
              operation: 'MERGE',
              operationParameters: {
                predicate: JSON.stringify(keys),
                matchedPredicates: JSON.stringify([whenMatched]),
                notMatchedPredicates: JSON.stringify(
                  insert
                    ? [
                        {
                          actionType: 'insert',
                          ...(typeof notMatched === 'object' && { predicate: notMatched.insert }),
                        },
                      ]
                    : [],
                ),
              },
              operationMetrics: Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, String(v)])),
              readScope,
            },
          };
        } finally {
          await conn.run(`DROP TABLE IF EXISTS ${target}`);
        }
      },
    );
  } finally {
    await conn.run(`DROP TABLE IF EXISTS ${src}`).catch(() => {});
    conn.closeSync();
    await source.cleanup();
  }
}

/** The files among `files` holding a row whose key is in the source table `src`. */
async function filesWithKeys(
  store: ObjectStore,
  snapshot: Snapshot,
  conn: DuckDBConnection,
  files: Add[],
  src: string,
  on: string,
): Promise<ScanFile[]> {
  if (files.length === 0) return [];
  const scanned = await localFiles(store, snapshot, files);
  const rel = await filesRelation(conn, scanned, snapshot.schema, snapshot.partitionColumns, {
    withFile: true,
  });
  const hit = await queryJson(
    conn,
    `SELECT DISTINCT target.${FILE_COLUMN} AS f FROM (${rel}) AS target SEMI JOIN ${src} AS source ON ${on}`,
  );
  const hitSet = new Set(hit.map((h) => String(h.f)));
  return scanned.filter((s) => hitSet.has(s.path));
}
