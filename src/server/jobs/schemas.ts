/** JSON schemas of the jobs routes (routes.ts): they validate input and make the OpenAPI entries. */

const TIME = { type: 'string', nullable: true, description: 'ISO-8601, UTC' } as const;

export const RUN = {
  type: 'object',
  properties: {
    runId: { type: 'string', description: 'sorts as the run’s start time' },
    job: { type: 'string' },
    state: { type: 'string', enum: ['running', 'succeeded', 'failed', 'skipped', 'cancelled'] },
    trigger: { type: 'string', enum: ['schedule', 'manual'] },
    date: { type: 'string', description: 'the run’s logical date, YYYY-MM-DD' },
    scheduledTime: TIME,
    startedAt: TIME,
    endedAt: TIME,
    durationMs: { type: 'integer', nullable: true },
    attempts: { type: 'integer', description: 'attempts of all its tasks' },
    error: { type: 'string', nullable: true },
  },
} as const;

export const TASK_RUN = {
  type: 'object',
  properties: {
    task: { type: 'string' },
    kind: { type: 'string' },
    state: {
      type: 'string',
      enum: ['pending', 'running', 'retrying', 'succeeded', 'failed', 'skipped', 'cancelled'],
    },
    attempts: { type: 'integer' },
    startedAt: TIME,
    endedAt: TIME,
    durationMs: { type: 'integer', nullable: true },
    error: { type: 'string', nullable: true, description: 'the last attempt’s' },
    output: {
      type: 'object',
      nullable: true,
      additionalProperties: true,
      description: 'what the task answered (kept in the history)',
    },
  },
} as const;

export const JOB = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    description: { type: 'string', nullable: true },
    schedule: {
      type: 'object',
      nullable: true,
      properties: { cron: { type: 'string' }, timezone: { type: 'string' }, dateOffset: { type: 'integer' } },
    },
    nextRun: { ...TIME, description: 'the next scheduled time after now (null: runs only when asked)' },
    sla: { type: 'string', nullable: true },
    tasks: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          kind: { type: 'string' },
          dependsOn: { type: 'array', items: { type: 'string' } },
          retries: { type: 'integer' },
          timeoutMs: { type: 'integer' },
        },
      },
    },
    lastRun: { ...RUN, nullable: true },
  },
} as const;

const NAME = { type: 'string', minLength: 1, maxLength: 255 } as const;

export const JOB_PARAMS = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: NAME },
} as const;

export const RUN_PARAMS = {
  type: 'object',
  required: ['name', 'runId'],
  additionalProperties: false,
  properties: { name: NAME, runId: { type: 'string', minLength: 1, maxLength: 100 } },
} as const;

export const RUNS_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 20, description: 'runs per page' },
    cursor: { type: 'string', maxLength: 1000, description: 'the previous page’s nextCursor' },
  },
} as const;

export const TRIGGER_BODY = {
  type: 'object',
  nullable: true,
  additionalProperties: false,
  properties: {
    date: {
      type: 'string',
      pattern: '^\\d{4}-\\d{2}-\\d{2}$',
      description: 'the run’s logical date (default: today in the job’s time zone, plus its date_offset)',
    },
  },
} as const;

export const ERRORS = { 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' } } as const;
