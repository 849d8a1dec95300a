/**
 * Running one model: its query on DuckDB over the pinned snapshots of what it reads,
 * written to its Delta table `tables/<model>` in ONE commit —
 * - `table` (and an incremental model run without partitions): an overwrite, every
 *   file of the table replaced;
 * - `incremental` with partitions: those partitions replaced (replacePartitions), its
 *   inputs read only for those partitions (files of other partitions are not opened
 *   when an input is partitioned by the column; rows are filtered when it only has it).
 * A failure before the commit leaves the table as it was. The table is created on the
 * first run, its columns those of the query (partitioned by `partition_by`); a later
 * query with more columns adds them, as nullable.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Clock } from '../../core/clock.ts';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import { quoteIdent, quoteString } from '../../core/sql.ts';
import { fromDuckdbError } from '../../table/duckdb-errors.ts';
import { DeltaTable, openConnection, overwrite, replacePartitions } from '../../table/index.ts';
import type { StructType } from '../../table/schema.ts';
import { deltaTypeOf } from '../../table/types.ts';
import { describeQuery } from '../../table/validate.ts';
import { createView, type PartitionSpec, type PinnedTable, type TableSet } from './inputs.ts';
import type { Model } from './project.ts';
import { rewriteRefs } from './references.ts';

export interface MaterializeResult {
  mode: 'overwrite' | 'replace-partitions';
  rows: number;
  /** The version committed; undefined when nothing changed (no rows, none to remove). */
  versionWritten?: number;
  /** What the model read: table name and pinned version. */
  inputs: Array<{ table: string; version: number }>;
  /** The table after the run (pinned for the models after it). */
  pinned: PinnedTable;
}

export interface MaterializeContext {
  tables: TableSet;
  /** The run's start, as the SQL function run_started_at() returns it. */
  runStartedAt: number;
  /** The clock of the model tables' commits (default: the system's). */
  clock?: Clock;
}

/** `model x (models/x.sql): ...` as MODEL_FAILED, keeping retryable errors' codes (a retry may help). */
export function modelError(model: Model, err: unknown, doing: string): TributaryError {
  const mapped = isTributaryError(err) ? err : fromDuckdbError(err, model.query);
  const message = `model ${model.name} (${model.file}): ${doing}: ${(mapped as Error).message}`;
  if (isTributaryError(mapped) && mapped.retryable) {
    return new TributaryError(mapped.code, message, { ...mapped.details, model: model.name }, err);
  }
  return new TributaryError('MODEL_FAILED', message, { model: model.name, file: model.file }, err);
}

/** The macro models use for `updated_at` columns: the run's start, one value for the whole run. */
export async function defineRunMacros(conn: DuckDBConnection, runStartedAt: number): Promise<void> {
  const iso = new Date(runStartedAt).toISOString();
  await conn.run(`CREATE OR REPLACE TEMP MACRO run_started_at() AS CAST(${quoteString(iso)} AS TIMESTAMPTZ)`);
}

/** Views over the model's inputs on `conn`; the query rewritten to read them. */
export async function prepareModelQuery(
  conn: DuckDBConnection,
  model: Model,
  tables: TableSet,
  partition: PartitionSpec | undefined,
): Promise<{ sql: string; inputs: MaterializeResult['inputs'] }> {
  const inputs: MaterializeResult['inputs'] = [];
  const done = new Set<string>();
  for (const r of model.refs) {
    const key = `${r.kind}:${r.name}`;
    if (done.has(key)) continue;
    done.add(key);
    const pinned = tables.get(r.kind === 'ref' ? 'model' : 'source', r.name);
    if (!pinned) {
      throw new TributaryError(
        'MODEL_FAILED',
        r.kind === 'ref'
          ? `model ${model.name} (${model.file}): model '${r.name}' has no table yet; run it first (select +${model.name} to run what ${model.name} depends on)`
          : `model ${model.name} (${model.file}): source('${r.name}') names no table in the data directory (tables/${r.name}); land it first, or check --data-dir`,
        { model: model.name, missing: r.name },
      );
    }
    await createView(conn, r.name, pinned, partition);
    inputs.push({ table: r.name, version: pinned.snapshot.version });
  }
  return { sql: rewriteRefs(model.query, model.refs, (r) => quoteIdent(r.name)), inputs };
}

function sameColumns(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((c, i) => c.toLowerCase() === b[i].toLowerCase());
}

/** Runs the model and commits its table; `partition` only for an incremental model. */
export async function materialize(
  ctx: MaterializeContext,
  model: Model,
  partition: PartitionSpec | undefined,
): Promise<MaterializeResult> {
  const conn = await openConnection();
  try {
    await defineRunMacros(conn, ctx.runStartedAt);
    const { sql, inputs } = await prepareModelQuery(conn, model, ctx.tables, partition);
    let schema: StructType;
    try {
      const cols = await describeQuery(conn, sql);
      schema = {
        type: 'struct',
        fields: cols.map((c) => ({
          name: c.name,
          type: deltaTypeOf(c.type, c.name),
          nullable: true,
          metadata: {},
        })),
      };
    } catch (err) {
      throw modelError(model, err, 'its query does not compile');
    }
    const partitionBy = model.config.partitionBy;
    for (const p of partitionBy) {
      if (!schema.fields.some((f) => f.name.toLowerCase() === p.toLowerCase())) {
        throw new TributaryError(
          'MODEL_FAILED',
          `model ${model.name} (${model.file}): partition_by names '${p}', which the query does not return (it returns ${schema.fields.map((f) => f.name).join(', ')})`,
          { model: model.name },
        );
      }
    }
    const { store } = await ctx.tables.modelTable(model.name);
    const table = await DeltaTable.open(store, {
      clock: ctx.clock,
      createIfMissing: {
        schema,
        partitionColumns: partitionBy,
        name: model.name,
        description: model.config.description,
      },
    });
    const current = await table.snapshot();
    if (current.version >= 0 && !sameColumns(current.partitionColumns, partitionBy)) {
      throw new TributaryError(
        'MODEL_FAILED',
        `model ${model.name}: its table ${store.url} is partitioned by [${current.partitionColumns.join(', ')}] but the model by [${partitionBy.join(', ')}]; delete the table to rebuild it with the new partitioning`,
        { model: model.name },
      );
    }
    let rows: number;
    let versionWritten: number | undefined;
    const mode: MaterializeResult['mode'] = partition ? 'replace-partitions' : 'overwrite';
    try {
      if (partition) {
        const res = await replacePartitions(
          table,
          { sql, conn },
          {
            column: partition.column,
            values: partition.values,
            schemaMode: 'merge',
          },
        );
        rows = res.metrics.numOutputRows;
        versionWritten = res.version;
      } else {
        const res = await overwrite(table, { sql, conn }, { schemaMode: 'merge' });
        rows = res.rows;
        versionWritten = res.noop ? undefined : res.version;
      }
    } catch (err) {
      throw modelError(model, err, `writing its table ${store.url}`);
    }
    // Nothing to write into a table not created yet: create it empty, so readers find it.
    if (!(await table.exists())) {
      await DeltaTable.create(
        store,
        { schema, partitionColumns: partitionBy, name: model.name },
        { clock: ctx.clock },
      );
      versionWritten = 0;
    }
    const reopened =
      versionWritten === undefined ? table : await DeltaTable.open(store, { clock: ctx.clock });
    const pinned: PinnedTable = {
      name: model.name,
      kind: 'model',
      table: reopened,
      snapshot: await reopened.snapshot(versionWritten === undefined ? {} : { version: versionWritten }),
    };
    return { mode, rows, versionWritten, inputs, pinned };
  } finally {
    conn.closeSync();
  }
}
