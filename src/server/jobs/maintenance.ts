/**
 * `POST /api/v1/tables/{table}/maintenance` (role admin): a table's upkeep — OPTIMIZE,
 * checkpoint, VACUUM, log clean-up — asked through the API, run as a one-task job
 * `maintenance:<table>` with the scheduler's `maintenance` kind (docs/jobs.md). So it is
 * recorded in the run history like any run, followed at
 * `/api/v1/jobs/maintenance:<table>/runs/{runId}`, and never overlaps another upkeep of
 * the table asked this way (409 JOB_ALREADY_RUNNING).
 */
import type { FastifyInstance } from 'fastify';
import { type Job, taskKind } from '../../jobs/scheduler/index.ts';
import { requestInvalid } from '../http-errors.ts';
import { TABLE_PARAM_SCHEMA, type TableCache } from '../tables/open.ts';
import { ERRORS } from './schemas.ts';

export const MAINTENANCE_JOB_PREFIX = 'maintenance:';

const OPERATIONS = ['optimize', 'checkpoint', 'vacuum', 'cleanup_log'];

/** The job a table's upkeep through the API runs as (its params checked by the kind). */
export function maintenanceJob(table: string, params: Record<string, unknown> = {}): Job {
  return {
    name: `${MAINTENANCE_JOB_PREFIX}${table}`,
    description: `upkeep of table ${table}, asked through the API`,
    tasks: [
      {
        name: 'maintenance',
        kind: 'maintenance',
        params: { table, ...params },
        dependsOn: [],
        // Each operation commits or does not: a failure is answered, not retried behind the caller's back.
        retry: { retries: 0, delayMs: 0, maxDelayMs: 0 },
        timeoutMs: 3_600_000,
      },
    ],
    maxParallel: 1,
  };
}

interface Body {
  operations?: string[];
  fileSize?: string;
  olderThan?: string;
  orderBy?: string[];
  vacuumRetention?: string;
}

const BODY = {
  type: 'object',
  nullable: true,
  additionalProperties: false,
  properties: {
    operations: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', enum: OPERATIONS },
      description: 'in this order, whichever are given (default all)',
    },
    fileSize: { type: 'string', description: 'OPTIMIZE’s target file size (default 128MiB)' },
    olderThan: {
      type: 'string',
      description: 'OPTIMIZE only files written at least this long ago (10 minutes)',
    },
    orderBy: {
      type: 'array',
      items: { type: 'string' },
      description: 'sort compacted files by these columns',
    },
    vacuumRetention: {
      type: 'string',
      description: 'VACUUM files unreferenced for longer (default the table’s retention, 7 days)',
    },
  },
} as const;

export function maintenanceRoute(opts: {
  tables: TableCache;
  start: (job: Job) => Promise<{ runId: string; date: string }>;
}) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Params: { table: string }; Body: Body | null }>(
      '/tables/:table/maintenance',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'Maintain a table now (OPTIMIZE, checkpoint, VACUUM)',
          description:
            'Runs the table’s upkeep as the job `maintenance:<table>` (recorded in the run history) and answers 202 with the run’s id once it has started; follow it at `/api/v1/jobs/maintenance:<table>/runs/{runId}`. 409 `JOB_ALREADY_RUNNING` while an upkeep of the table asked this way goes on. Role admin.',
          tags: ['jobs'],
          params: TABLE_PARAM_SCHEMA,
          body: BODY,
          response: {
            202: {
              type: 'object',
              properties: {
                job: { type: 'string' },
                runId: { type: 'string' },
                state: { type: 'string' },
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
        const { table } = req.params;
        await opts.tables.get(table); // TABLE_NOT_FOUND (404), or a name that is a path (400)
        const b = req.body ?? {};
        const params: Record<string, unknown> = {
          ...(b.operations && { operations: b.operations }),
          ...(b.fileSize !== undefined && { file_size: b.fileSize }),
          ...(b.olderThan !== undefined && { older_than: b.olderThan }),
          ...(b.orderBy && { order_by: b.orderBy }),
          ...(b.vacuumRetention !== undefined && { vacuum_retention: b.vacuumRetention }),
        };
        const job = maintenanceJob(table, params);
        const kind = taskKind('maintenance');
        const problems = kind
          ? await kind.check(job.tasks[0].params, { job: job.name, task: 'maintenance', project: '.' })
          : [];
        if (problems.length > 0) {
          const [p] = problems;
          const field =
            {
              file_size: 'fileSize',
              older_than: 'olderThan',
              order_by: 'orderBy',
              vacuum_retention: 'vacuumRetention',
            }[String(p.path[0])] ?? String(p.path[0]);
          throw requestInvalid(`body.${field}`, p.message);
        }
        const started = await opts.start(job);
        return reply.code(202).send({
          job: job.name,
          runId: started.runId,
          state: 'running',
          run: `/api/v1/jobs/${encodeURIComponent(job.name)}/runs/${started.runId}`,
        });
      },
    );
  };
}
