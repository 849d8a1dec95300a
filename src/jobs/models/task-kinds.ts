/**
 * SQL models as task kinds of the scheduler (docs/jobs.md, "Task kinds"):
 *
 * - `models`: runs the selected models of the job's project (runModels), for a partition
 *   such as `event_date={{ date }}`; each failed `error` expectation raises one alert,
 *   and the task fails when a model failed or was skipped, so its dependants do not run.
 * - `export`: mirrors the selected models into PostgreSQL (exportModels) — seed 002's
 *   `gold_to_postgres`.
 *
 * Both are safe to repeat: a model's commit replaces whole partitions (or the table), an
 * export replaces the affected rows in one transaction. The database is opened by the
 * process that registers the kinds (`postgres`), only when a task needs it.
 */
import type { PgConnector } from '../../connectors/postgres/client.ts';
import { TributaryError } from '../../core/errors.ts';
import { checkParams, P } from '../scheduler/kinds/params.ts';
import type { TaskKind } from '../scheduler/registry.ts';
import { exportModels, runModels } from './run.ts';

export interface ModelsKindServices {
  /** The database exports write (opened on first use). */
  postgres(): Promise<PgConnector>;
}

const SELECTION = {
  select: { shape: P.list(P.text(), true) },
  partition: { shape: P.text() },
};

export function modelsTaskKinds(services: ModelsKindServices): { models: TaskKind; export: TaskKind } {
  const models: TaskKind = {
    description: 'runs SQL models of the project (a selection, a partition), checks their expectations',
    check: (params) =>
      checkParams(params, {
        ...SELECTION,
        exports: { shape: { t: 'boolean' } },
        project: { shape: P.text() },
      }),
    async run(params, ctx) {
      const exports = params.exports === true;
      const project = (params.project as string | undefined) ?? ctx.project;
      if (!project)
        throw new TributaryError('CONFIG_INVALID', `task ${ctx.task}: no project to run models of`);
      const result = await runModels({
        project,
        dataDir: ctx.dataDir,
        ...(params.select !== undefined && { select: params.select as string[] }),
        ...(params.partition !== undefined && { partition: params.partition as string }),
        exports,
        ...(exports && { postgres: await services.postgres() }),
        clock: ctx.clock,
      });
      const checked = [...result.sources, ...result.models.flatMap((m) => m.expectations ?? [])];
      const broken = checked.filter((e) => !e.passed && e.severity === 'error');
      for (const e of broken) {
        await ctx.alert({
          kind: 'expectation_failed',
          message: `${e.targetKind} ${e.target}: expectation ${e.expectation} failed${e.failingRows === null ? '' : ` (${e.failingRows} failing rows)`}`,
          details: {
            target: e.target,
            expectation: e.expectation,
            failingRows: e.failingRows,
            runId: result.runId,
          },
        });
      }
      const summary = result.models.map((m) => ({
        model: m.model,
        status: m.status,
        rows: m.rows,
        version: m.versionWritten,
      }));
      const bad = result.models.filter((m) => m.status === 'failed' || m.status === 'skipped');
      if (broken.length > 0) {
        // Bad data: another attempt finds the same rows (and would alert again). Not retried.
        throw new TributaryError(
          'MODEL_FAILED',
          `expectations failed: ${broken.map((e) => `${e.target}: ${e.expectation}`).join('; ')}; ` +
            `models not done: ${bad.map((m) => `${m.model} ${m.status}`).join(', ') || 'none'}. Fix the data (or the expectation) and run the job again`,
          { runId: result.runId },
        );
      }
      if (bad.length > 0) {
        throw new Error(
          `models ${bad.map((m) => `${m.model} ${m.status}${m.error ? ` (${m.error})` : ''}`).join('; ')}`,
        );
      }
      return { runId: result.runId, models: summary };
    },
  };
  const exporter: TaskKind = {
    description: 'mirrors SQL models into PostgreSQL (the affected rows replaced in one transaction)',
    check: (params) => checkParams(params, { ...SELECTION, project: { shape: P.text() } }),
    async run(params, ctx) {
      const project = (params.project as string | undefined) ?? ctx.project;
      if (!project)
        throw new TributaryError('CONFIG_INVALID', `task ${ctx.task}: no project to export models of`);
      const result = await exportModels({
        project,
        dataDir: ctx.dataDir,
        ...(params.select !== undefined && { select: params.select as string[] }),
        ...(params.partition !== undefined && { partition: params.partition as string }),
        postgres: await services.postgres(),
        clock: ctx.clock,
      });
      return { runId: result.runId, exports: result.exports.map((e) => ({ ...e })) };
    },
  };
  return { models, export: exporter };
}
