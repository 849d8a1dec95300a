/**
 * `/api/v1/jobs`: the project's scheduled jobs and their runs, read from the run history
 * the scheduler keeps (the truth `tributary jobs history` prints), and — role admin — a
 * run started now. Reading needs reader.
 *
 * A run started here runs in the server's process (runJob): it takes the job's run lock
 * like any other run, so it is refused (409 JOB_ALREADY_RUNNING) while a run of the job
 * goes on here, in a scheduler beside it, or in another process of this machine. The
 * answer (202) comes once the run has started and has its id; the run goes on after it.
 * A stopping server stops its runs as `tributary jobs run` does on Ctrl-C.
 */
import type { FastifyInstance } from 'fastify';
import { TributaryError } from '../../core/errors.ts';
import { type Job, type JobEvent, JobHistory, type Project, runJob } from '../../jobs/scheduler/index.ts';
import { requestInvalid } from '../http-errors.ts';
import { TableCache } from '../tables/open.ts';
import { MAINTENANCE_JOB_PREFIX, maintenanceJob, maintenanceRoute } from './maintenance.ts';
import { ERRORS, JOB, JOB_PARAMS, RUN, RUN_PARAMS, RUNS_QUERY, TASK_RUN, TRIGGER_BODY } from './schemas.ts';
import { decodeCursor, encodeCursor, inJobOrder, jobView, runNotFound, runView, taskView } from './views.ts';

export interface JobsApiOptions {
  /** The project whose jobs are served; a function for a project loaded later. None: no jobs. */
  project?: Project | (() => Project | undefined);
  /** Where the log lines of runs started here go (default: standard error). */
  log?: (line: string) => void;
}

interface RoutesOptions extends JobsApiOptions {
  dataDir: string;
  /** Told every event of the runs started here (the server's job metrics). */
  onEvent?: (e: JobEvent) => void;
}

const isCalendarDate = (d: string) => {
  const t = Date.parse(`${d}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === d;
};

const projectOf = (opts: JobsApiOptions): Project | undefined =>
  typeof opts.project === 'function' ? opts.project() : opts.project;

export function jobsRoutes(opts: RoutesOptions) {
  return async function routes(app: FastifyInstance): Promise<void> {
    let history: Promise<JobHistory> | undefined;
    const openHistory = () => {
      history ??= JobHistory.open(opts.dataDir, { now: () => Date.now() });
      history.catch(() => {
        history = undefined;
      });
      return history;
    };
    const stopper = new AbortController();
    const runs = new Set<Promise<unknown>>();
    app.addHook('onClose', async () => {
      stopper.abort();
      await Promise.allSettled([...runs]);
    });

    const findJob = (name: string): { job: Job; project?: Project } => {
      const project = projectOf(opts);
      const job = project?.jobs.find((j) => j.name === name);
      // A table's upkeep asked through the API (maintenance.ts) is a job of its own.
      if (job === undefined && name.startsWith(MAINTENANCE_JOB_PREFIX)) {
        return { job: maintenanceJob(name.slice(MAINTENANCE_JOB_PREFIX.length)) };
      }
      if (project === undefined || job === undefined) {
        const names = project?.jobs.map((j) => j.name) ?? [];
        throw new TributaryError(
          'JOB_NOT_FOUND',
          `no job named ${name} ${project ? `in ${project.dir}` : '(the server serves no project: start it with --project DIR)'}${names.length > 0 ? `; its jobs are ${names.join(', ')}` : ''}; GET /api/v1/jobs lists them`,
          { field: 'params.name', job: name },
        );
      }
      return { job, project };
    };

    /** Starts a run of `job`; resolves once it has started (its id), rejects when refused. */
    const startRun = async (job: Job, project: Project | undefined, date?: string) => {
      const h = await openHistory();
      let begun = false;
      return new Promise<{ runId: string; date: string }>((resolve, reject) => {
        const run = runJob(job, {
          dataDir: opts.dataDir,
          ...(project && { project: project.dir, alerts: project.alerts }),
          history: h,
          trigger: 'manual',
          ...(date !== undefined && { date }),
          signal: stopper.signal,
          ...(opts.log !== undefined && { log: opts.log }),
          onEvent: (e) => {
            if (e.type === 'run_started') {
              begun = true;
              resolve({ runId: e.runId, date: e.date });
            }
            opts.onEvent?.(e);
          },
        });
        // Before it started: refused (a run going on, a bad date) or failed to record.
        run.catch(reject);
        const settled = run.then(
          () => {},
          (err) => {
            if (begun)
              (opts.log ?? console.error)(`jobs: run of ${job.name} failed: ${(err as Error).message}`);
          },
        );
        runs.add(settled);
        void settled.finally(() => runs.delete(settled));
      });
    };

    await app.register(
      maintenanceRoute({ tables: new TableCache(opts.dataDir), start: (job) => startRun(job, undefined) }),
    );

    app.get(
      '/jobs',
      {
        config: { role: 'reader' },
        schema: {
          summary: 'The project’s jobs',
          description:
            'Each job of the project the server was started with (`--project`): its schedule, next run, SLA, tasks, and its last run from the history.',
          tags: ['jobs'],
          response: {
            200: {
              type: 'object',
              properties: {
                project: { type: 'string', nullable: true, description: 'the project folder' },
                jobs: { type: 'array', items: JOB },
              },
            },
            ...ERRORS,
          },
        },
      },
      async () => {
        const project = projectOf(opts);
        if (project === undefined) return { project: null, jobs: [] };
        const h = await openHistory();
        const now = Date.now();
        return { project: project.dir, jobs: await Promise.all(project.jobs.map((j) => jobView(j, h, now))) };
      },
    );

    app.get<{ Params: { name: string } }>(
      '/jobs/:name',
      {
        config: { role: 'reader' },
        schema: {
          summary: 'A job',
          description: 'Its definition’s summary, schedule, next run and last run.',
          tags: ['jobs'],
          params: JOB_PARAMS,
          response: { 200: JOB, ...ERRORS, 404: { $ref: 'Error#' } },
        },
      },
      async (req) => jobView(findJob(req.params.name).job, await openHistory(), Date.now()),
    );

    app.get<{ Params: { name: string }; Querystring: { limit: number; cursor?: string } }>(
      '/jobs/:name/runs',
      {
        config: { role: 'reader' },
        schema: {
          summary: 'A job’s runs, newest first',
          description:
            'Each run’s state, trigger, logical date, start, end, duration, attempts and error, a page at a time: repeat with `cursor=<nextCursor>` until it is null.',
          tags: ['jobs'],
          params: JOB_PARAMS,
          querystring: RUNS_QUERY,
          response: {
            200: {
              type: 'object',
              properties: {
                job: { type: 'string' },
                runs: { type: 'array', items: RUN },
                nextCursor: { type: 'string', nullable: true },
              },
            },
            ...ERRORS,
            400: { $ref: 'Error#' },
            404: { $ref: 'Error#' },
          },
        },
      },
      async (req) => {
        const { job } = findJob(req.params.name);
        const { limit, cursor } = req.query;
        const before = cursor === undefined ? undefined : decodeCursor(job.name, cursor);
        const h = await openHistory();
        const page = await h.runs({
          job: job.name,
          limit: limit + 1,
          ...(before !== undefined && { before }),
        });
        const more = page.length > limit;
        const shown = page.slice(0, limit);
        const tasks = await h.tasks(shown.map((r) => r.runId));
        return {
          job: job.name,
          runs: shown.map((r) =>
            runView(
              r,
              tasks.filter((t) => t.runId === r.runId),
            ),
          ),
          nextCursor: more ? encodeCursor(job.name, shown[shown.length - 1].runId) : null,
        };
      },
    );

    app.get<{ Params: { name: string; runId: string } }>(
      '/jobs/:name/runs/:runId',
      {
        config: { role: 'reader' },
        schema: {
          summary: 'A run of a job, with its tasks',
          description:
            'The run and each task: state, attempts, times, the last attempt’s error and the task’s output — the run’s log as the history keeps it.',
          tags: ['jobs'],
          params: RUN_PARAMS,
          response: {
            200: {
              type: 'object',
              properties: { ...RUN.properties, tasks: { type: 'array', items: TASK_RUN } },
            },
            ...ERRORS,
            404: { $ref: 'Error#' },
          },
        },
      },
      async (req) => {
        const { job } = findJob(req.params.name);
        const h = await openHistory();
        const [run] = await h.runs({ job: job.name, runId: req.params.runId });
        if (run === undefined) throw runNotFound(job.name, req.params.runId);
        const tasks = inJobOrder(job, await h.tasks([run.runId]));
        return { ...runView(run, tasks), tasks: tasks.map(taskView) };
      },
    );

    app.post<{ Params: { name: string }; Body: { date?: string } | null }>(
      '/jobs/:name/runs',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'Run a job now',
          description:
            'Starts a run of the job in the server’s process and answers 202 with its id once it has started; follow it at `/jobs/{name}/runs/{runId}`. 409 `JOB_ALREADY_RUNNING` while a run of the job goes on (runs of one job never overlap). Role admin.',
          tags: ['jobs'],
          params: JOB_PARAMS,
          body: TRIGGER_BODY,
          response: {
            202: {
              type: 'object',
              properties: {
                job: { type: 'string' },
                runId: { type: 'string' },
                state: { type: 'string' },
                date: { type: 'string' },
                run: { type: 'string', description: 'where to follow it' },
              },
            },
            ...ERRORS,
            400: { $ref: 'Error#' },
            404: { $ref: 'Error#' },
            409: { $ref: 'Error#' },
          },
        },
      },
      async (req, reply) => {
        const { job, project } = findJob(req.params.name);
        if (job.name.startsWith(MAINTENANCE_JOB_PREFIX)) {
          throw requestInvalid(
            'params.name',
            `start a table's upkeep with POST /api/v1/tables/{table}/maintenance`,
          );
        }
        const date = req.body?.date;
        if (date !== undefined && !isCalendarDate(date)) {
          throw requestInvalid('body.date', `${date} is not a date of the calendar (YYYY-MM-DD)`);
        }
        const started = await startRun(job, project, date);
        const base = req.url.split('?')[0].replace(/\/$/, '');
        return reply.code(202).send({
          job: job.name,
          runId: started.runId,
          state: 'running',
          date: started.date,
          run: `${base}/${encodeURIComponent(started.runId)}`,
        });
      },
    );
  };
}
