/**
 * The API of SQL models (what `tributary models run | test | export` and the scheduler
 * call):
 *
 * - `runModels`: the selected models in dependency order. Every table read is pinned
 *   when the run starts (a model of the run is read at the version the run wrote). The
 *   sources' expectations are checked first; then each model is materialized (one
 *   commit), its expectations checked, and — when none of severity error failed — its
 *   table exported to PostgreSQL. A model that fails, or whose `error` expectation
 *   fails, stops the models depending on it (they are `skipped`); the others run.
 *   Records of every model and expectation are appended to the history tables.
 * - `testModels`: only the expectations, over the current tables.
 * - `exportModels`: only the exports, of the current tables.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { PgConnector } from '../../connectors/postgres/client.ts';
import { type Clock, systemClock } from '../../core/clock.ts';
import { TributaryError } from '../../core/errors.ts';
import { checkTable, DEFAULT_SAMPLE_SIZE, errorsOf, warningsOf } from './check.ts';
import type { ExpectationResult } from './expectations.ts';
import { type ExportResult, exportModel } from './export.ts';
import { buildGraph, type ModelGraph, selectModels } from './graph.ts';
import { type ModelRunRecord, type ModelStatus, recordExpectations, recordRuns } from './history.ts';
import { type PartitionSpec, parsePartitions, partitionText, TableSet } from './inputs.ts';
import { materialize } from './materialize.ts';
import { loadProject, type Model, type Project, resolveProjectDir } from './project.ts';

export interface ModelsOptions {
  /** The project folder (or a shipped project's name, `clickstream`), or a loaded project. */
  project: string | Project;
  /** The data directory: tables live in `<dataDir>/tables/`. */
  dataDir: string;
  /** dbt-style selectors: `name`, `name+`, `+name`, `+name+` (default: every model). */
  select?: string | string[];
  /** The partitions to recompute: `event_date=2026-11-29` (several: a list), or a spec. */
  partition?: string | string[] | PartitionSpec;
  /** The clock of run_started_at(), freshness and the records (default: the system's). */
  clock?: Clock;
  /** Failing rows kept per expectation (default 5). */
  sampleSize?: number;
  /** The run's id (default: a random UUID). */
  runId?: string;
  /** Called as the run goes (the command line prints from it). */
  onEvent?: (event: ModelsEvent) => void;
}

export interface RunModelsOptions extends ModelsOptions {
  /** The database exports write. Needed when a selected model has `export` (unless exports is false). */
  postgres?: PgConnector;
  /** Export models with `export` after they run (default true). */
  exports?: boolean;
}

export type ModelsEvent =
  | { type: 'start'; runId: string; models: string[]; partition: string | null }
  | { type: 'sources'; results: ExpectationResult[] }
  /** A model begins (`index` from 0 of `total` selected): for progress displays. */
  | { type: 'model_start'; model: string; index: number; total: number }
  | { type: 'model'; outcome: ModelOutcome };

export interface ModelOutcome {
  model: string;
  status: ModelStatus;
  materialized: Model['config']['materialized'];
  /** `overwrite` (the whole table) or `replace-partitions`. */
  mode?: 'overwrite' | 'replace-partitions';
  rows: number | null;
  /** The version committed; null when the run changed nothing or did not write. */
  versionWritten: number | null;
  inputs: Array<{ table: string; version: number }>;
  expectations: ExpectationResult[];
  export?: ExportResult;
  durationMs: number;
  error?: string;
  /** Why a skipped model did not run. */
  skippedBecause?: string;
}

export interface ModelsRunResult {
  runId: string;
  startedAt: number;
  partition: string | null;
  models: ModelOutcome[];
  /** The source tables' expectations. */
  sources: ExpectationResult[];
  /** No model failed and no expectation of severity error failed. */
  ok: boolean;
}

interface Prepared {
  project: Project;
  graph: ModelGraph;
  selected: Model[];
  partition: PartitionSpec | undefined;
  clock: Clock;
  runId: string;
  startedAt: number;
  tables: TableSet;
  sampleSize: number;
}

async function prepare(opts: ModelsOptions): Promise<Prepared> {
  const project =
    typeof opts.project === 'string' ? await loadProject(resolveProjectDir(opts.project)) : opts.project;
  const graph = buildGraph(project);
  const selected = selectModels(graph, opts.select).map((n) => project.models.get(n)!);
  let partition: PartitionSpec | undefined;
  if (opts.partition !== undefined && typeof opts.partition === 'object' && !Array.isArray(opts.partition)) {
    partition = opts.partition;
  } else {
    try {
      const list = opts.partition === undefined ? undefined : ([] as string[]).concat(opts.partition);
      partition = parsePartitions(list);
    } catch (err) {
      throw new TributaryError('MODEL_INVALID', `--partition: ${(err as Error).message}`, {});
    }
  }
  if (partition) {
    for (const m of selected) {
      if (m.config.materialized !== 'incremental') continue;
      if (!m.config.partitionBy.some((c) => c.toLowerCase() === partition.column.toLowerCase())) {
        throw new TributaryError(
          'MODEL_INVALID',
          `model ${m.name} (${m.file}) is incremental by [${m.config.partitionBy.join(', ')}], so it cannot recompute partitions of '${partition.column}'; select the models partitioned by ${partition.column}, or run without --partition`,
          { model: m.name },
        );
      }
    }
  }
  const clock = opts.clock ?? systemClock;
  return {
    project,
    graph,
    selected,
    partition,
    clock,
    runId: opts.runId ?? randomUUID(),
    startedAt: clock.now(),
    tables: new TableSet(opts.dataDir, opts.clock),
    sampleSize: opts.sampleSize ?? DEFAULT_SAMPLE_SIZE,
  };
}

/** Pins what the selected models read (and, for tests, the models themselves). */
async function pinInputs(p: Prepared, alsoSelected: boolean): Promise<string[]> {
  const sources = new Set<string>();
  for (const m of p.selected) {
    if (alsoSelected) await p.tables.pin('model', m.name);
    for (const e of p.graph.parents.get(m.name) ?? []) {
      if (e.kind === 'source') sources.add(e.name);
      await p.tables.pin(e.kind === 'ref' ? 'model' : 'source', e.name);
    }
  }
  return [...sources].sort();
}

/** Checks the expectations of the sources the selection reads; returns those that failed with error. */
async function checkSources(p: Prepared, sources: string[], all: ExpectationResult[]): Promise<Set<string>> {
  const failed = new Set<string>();
  for (const name of sources) {
    const spec = p.project.sources.get(name);
    const pinned = p.tables.get('source', name);
    if (!spec || spec.expectations.length === 0 || !pinned) continue;
    for (const x of spec.expectations) {
      if (x.check.type === 'relationships')
        await p.tables.pin(x.check.to.kind === 'ref' ? 'model' : 'source', x.check.to.name);
    }
    const results = await checkTable(pinned, spec.expectations, {
      tables: p.tables,
      clock: p.clock,
      sampleSize: p.sampleSize,
      partition: p.partition,
    });
    all.push(...results);
    if (errorsOf(results).length > 0) failed.add(name);
  }
  return failed;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function runModels(opts: RunModelsOptions): Promise<ModelsRunResult> {
  const p = await prepare(opts);
  const exports = opts.exports !== false;
  const exporting = p.selected.filter((m) => m.config.export);
  if (exports && exporting.length > 0 && !opts.postgres) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `model ${exporting.map((m) => m.name).join(', ')} export${exporting.length === 1 ? 's' : ''} to PostgreSQL: give the database (--postgres URL or $TRIBUTARY_POSTGRES; the command line starts the embedded one otherwise), or run without exports`,
      { models: exporting.map((m) => m.name) },
    );
  }
  const say = opts.onEvent ?? (() => {});
  say({
    type: 'start',
    runId: p.runId,
    models: p.selected.map((m) => m.name),
    partition: partitionText(p.partition),
  });
  const sourceResults: ExpectationResult[] = [];
  const outcomes: ModelOutcome[] = [];
  const records: ModelRunRecord[] = [];
  try {
    const sources = await pinInputs(p, false);
    const failedSources = await checkSources(p, sources, sourceResults);
    if (sourceResults.length > 0) say({ type: 'sources', results: sourceResults });
    const status = new Map<string, ModelStatus>();
    for (const [index, model] of p.selected.entries()) {
      say({ type: 'model_start', model: model.name, index, total: p.selected.length });
      const t0 = performance.now();
      const started = p.clock.now();
      const incremental = model.config.materialized === 'incremental';
      const partition = incremental ? p.partition : undefined;
      const outcome: ModelOutcome = {
        model: model.name,
        status: 'success',
        materialized: model.config.materialized,
        rows: null,
        versionWritten: null,
        inputs: [],
        expectations: [],
        durationMs: 0,
      };
      const blockers = (p.graph.parents.get(model.name) ?? []).filter((e) =>
        e.kind === 'source'
          ? failedSources.has(e.name)
          : ['failed', 'skipped'].includes(status.get(e.name) ?? ''),
      );
      if (blockers.length > 0) {
        outcome.status = 'skipped';
        outcome.skippedBecause = blockers
          .map((e) =>
            e.kind === 'source'
              ? `source ${e.name} failed an expectation`
              : `${e.name} ${status.get(e.name) === 'failed' ? 'failed' : 'was skipped'}`,
          )
          .join('; ');
      } else {
        try {
          const m = await materialize(
            { tables: p.tables, runStartedAt: p.startedAt, clock: opts.clock },
            model,
            partition,
          );
          p.tables.set(m.pinned);
          outcome.mode = m.mode;
          outcome.rows = m.rows;
          outcome.versionWritten = m.versionWritten ?? null;
          outcome.inputs = m.inputs;
          for (const x of model.config.expectations) {
            if (x.check.type === 'relationships')
              await p.tables.pin(x.check.to.kind === 'ref' ? 'model' : 'source', x.check.to.name);
          }
          outcome.expectations = await checkTable(m.pinned, model.config.expectations, {
            tables: p.tables,
            clock: p.clock,
            sampleSize: p.sampleSize,
            partition,
          });
          const errors = errorsOf(outcome.expectations);
          if (errors.length > 0) {
            outcome.status = 'failed';
            outcome.error = `expectation${errors.length === 1 ? '' : 's'} failed: ${errors.map((e) => e.expectation).join(', ')}`;
          } else {
            if (model.config.export && exports) {
              outcome.export = await exportModel(opts.postgres!, model, m.pinned, partition);
            }
            if (warningsOf(outcome.expectations).length > 0) outcome.status = 'warn';
          }
        } catch (err) {
          outcome.status = 'failed';
          outcome.error = messageOf(err);
        }
      }
      status.set(model.name, outcome.status);
      outcome.durationMs = performance.now() - t0;
      outcomes.push(outcome);
      records.push(recordOf(p, 'run', model, outcome, started));
      say({ type: 'model', outcome });
    }
  } finally {
    await recordRuns(opts.dataDir, records, opts.clock);
    await recordExpectations(
      opts.dataDir,
      p.runId,
      p.startedAt,
      [...sourceResults, ...outcomes.flatMap((o) => o.expectations)],
      opts.clock,
    );
  }
  const ok =
    outcomes.every((o) => o.status === 'success' || o.status === 'warn') &&
    errorsOf(sourceResults).length === 0;
  return {
    runId: p.runId,
    startedAt: p.startedAt,
    partition: partitionText(p.partition),
    models: outcomes,
    sources: sourceResults,
    ok,
  };
}

function recordOf(
  p: Prepared,
  command: ModelRunRecord['command'],
  model: Model,
  o: ModelOutcome,
  started: number,
): ModelRunRecord {
  return {
    runId: p.runId,
    command,
    model: model.name,
    status: o.status,
    materialized: model.config.materialized,
    partition: model.config.materialized === 'incremental' ? partitionText(p.partition) : null,
    rows: o.rows,
    versionWritten: o.versionWritten,
    inputs: o.inputs,
    exportedTo: o.export?.table ?? null,
    exportedRows: o.export?.rows ?? null,
    startedAt: started,
    finishedAt: started + Math.round(o.durationMs),
    error: o.error ?? o.skippedBecause ?? null,
  };
}

export interface TestModelsResult {
  runId: string;
  startedAt: number;
  partition: string | null;
  results: ExpectationResult[];
  /** Tables that could not be checked (no table yet). */
  missing: string[];
  ok: boolean;
}

/**
 * Checks the expectations of the selected models (every model by default) and of the
 * sources they read, over the current tables (the partitions given, or whole).
 */
export async function testModels(opts: ModelsOptions): Promise<TestModelsResult> {
  const p = await prepare(opts);
  const say = opts.onEvent ?? (() => {});
  say({
    type: 'start',
    runId: p.runId,
    models: p.selected.map((m) => m.name),
    partition: partitionText(p.partition),
  });
  const sources = await pinInputs(p, true);
  const results: ExpectationResult[] = [];
  const missing: string[] = [];
  await checkSources(p, sources, results);
  for (const s of sources)
    if (p.project.sources.get(s)?.expectations.length && !p.tables.get('source', s)) missing.push(s);
  for (const m of p.selected) {
    const pinned = p.tables.get('model', m.name);
    if (m.config.expectations.length === 0) continue;
    if (!pinned) {
      missing.push(m.name);
      continue;
    }
    for (const x of m.config.expectations) {
      if (x.check.type === 'relationships')
        await p.tables.pin(x.check.to.kind === 'ref' ? 'model' : 'source', x.check.to.name);
    }
    results.push(
      ...(await checkTable(pinned, m.config.expectations, {
        tables: p.tables,
        clock: p.clock,
        sampleSize: p.sampleSize,
        partition: m.config.materialized === 'incremental' ? p.partition : undefined,
      })),
    );
  }
  await recordExpectations(opts.dataDir, p.runId, p.startedAt, results, opts.clock);
  return {
    runId: p.runId,
    startedAt: p.startedAt,
    partition: partitionText(p.partition),
    results,
    missing,
    ok: errorsOf(results).length === 0 && missing.length === 0,
  };
}

export interface ExportModelsOptions extends ModelsOptions {
  postgres: PgConnector;
}

/**
 * Exports the selected models that have `export` from their current tables (an
 * incremental model: the partitions given, else all of it), each in one transaction.
 */
export async function exportModels(
  opts: ExportModelsOptions,
): Promise<{ runId: string; exports: Array<{ model: string } & ExportResult> }> {
  const p = await prepare(opts);
  const out: Array<{ model: string } & ExportResult> = [];
  for (const m of p.selected) {
    if (!m.config.export) continue;
    const pinned = await p.tables.pin('model', m.name);
    if (!pinned) {
      throw new TributaryError('MODEL_FAILED', `model ${m.name} has no table yet to export; run it first`, {
        model: m.name,
      });
    }
    const partition = m.config.materialized === 'incremental' ? p.partition : undefined;
    out.push({ model: m.name, ...(await exportModel(opts.postgres, m, pinned, partition)) });
  }
  return { runId: p.runId, exports: out };
}

export type { ModelGraph };
