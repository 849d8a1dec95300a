/**
 * What runs leave behind, as Delta tables of the data directory (readable with
 * `tributary query`, delta-rs, Spark):
 * - `tables/_tributary_model_runs`: one row per model and run — status, rows, the
 *   version written, the versions read, the time taken, the error;
 * - `tables/_tributary_expectations`: one row per expectation checked — passed, the
 *   failing row count, a sample of failing rows as JSON.
 * Each run appends its rows in one commit per table (a blind append: concurrent runs
 * never conflict).
 */
import type { Clock } from '../../core/clock.ts';
import { append, DeltaTable } from '../../table/index.ts';
import { locateTable } from '../../table/locate.ts';
import type { StructType } from '../../table/schema.ts';
import type { ExpectationResult } from './expectations.ts';

export const RUNS_TABLE = '_tributary_model_runs';
export const EXPECTATIONS_TABLE = '_tributary_expectations';

export type ModelStatus = 'success' | 'warn' | 'failed' | 'skipped';

export interface ModelRunRecord {
  runId: string;
  /** `run` (models run) or `test` (models test) or `export` (models export). */
  command: 'run' | 'test' | 'export';
  model: string;
  status: ModelStatus;
  materialized: string;
  partition: string | null;
  rows: number | null;
  versionWritten: number | null;
  /** The tables read and their versions. */
  inputs: Array<{ table: string; version: number }>;
  exportedTo: string | null;
  exportedRows: number | null;
  startedAt: number;
  finishedAt: number;
  error: string | null;
}

const f = (name: string, type: StructType['fields'][number]['type'], nullable = true) => ({
  name,
  type,
  nullable,
  metadata: {},
});

const RUNS_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    f('run_id', 'string', false),
    f('command', 'string', false),
    f('model', 'string', false),
    f('status', 'string', false),
    f('materialized', 'string'),
    f('partition', 'string'),
    f('rows', 'long'),
    f('version_written', 'long'),
    f('inputs', 'string'),
    f('exported_to', 'string'),
    f('exported_rows', 'long'),
    f('started_at', 'timestamp'),
    f('finished_at', 'timestamp'),
    f('duration_ms', 'long'),
    f('error', 'string'),
  ],
};

const EXPECTATIONS_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    f('run_id', 'string', false),
    f('checked_at', 'timestamp', false),
    f('target', 'string', false),
    f('target_kind', 'string', false),
    f('expectation', 'string', false),
    f('type', 'string', false),
    f('severity', 'string', false),
    f('passed', 'boolean', false),
    f('failing_rows', 'long'),
    f('observed', 'string'),
    f('sample', 'string'),
    f('table_version', 'long'),
    f('partition', 'string'),
  ],
};

async function appendRows(
  dataDir: string,
  name: string,
  schema: StructType,
  rows: Record<string, unknown>[],
  clock: Clock | undefined,
): Promise<number | undefined> {
  if (rows.length === 0) return undefined;
  const { store } = await locateTable(name, dataDir, { mustExist: false });
  const table = await DeltaTable.open(store, { clock, createIfMissing: { schema, name } });
  return (await append(table, { rows })).version;
}

export function recordRuns(
  dataDir: string,
  records: ModelRunRecord[],
  clock?: Clock,
): Promise<number | undefined> {
  return appendRows(
    dataDir,
    RUNS_TABLE,
    RUNS_SCHEMA,
    records.map((r) => ({
      run_id: r.runId,
      command: r.command,
      model: r.model,
      status: r.status,
      materialized: r.materialized,
      partition: r.partition,
      rows: r.rows,
      version_written: r.versionWritten,
      inputs: JSON.stringify(r.inputs),
      exported_to: r.exportedTo,
      exported_rows: r.exportedRows,
      started_at: new Date(r.startedAt),
      finished_at: new Date(r.finishedAt),
      duration_ms: r.finishedAt - r.startedAt,
      error: r.error,
    })),
    clock,
  );
}

export function recordExpectations(
  dataDir: string,
  runId: string,
  checkedAt: number,
  results: ExpectationResult[],
  clock?: Clock,
): Promise<number | undefined> {
  return appendRows(
    dataDir,
    EXPECTATIONS_TABLE,
    EXPECTATIONS_SCHEMA,
    results.map((r) => ({
      run_id: runId,
      checked_at: new Date(checkedAt),
      target: r.target,
      target_kind: r.targetKind,
      expectation: r.expectation,
      type: r.type,
      severity: r.severity,
      passed: r.passed,
      failing_rows: r.failingRows,
      observed: r.observed,
      sample: JSON.stringify(r.sample),
      table_version: r.tableVersion,
      partition: r.partition,
    })),
    clock,
  );
}
