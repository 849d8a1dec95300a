/**
 * `GET /api/v1/pipelines` and `GET /api/v1/pipelines/{name}`: the pipelines running in
 * the server's process (registry.ts), role reader. Mounted when the server is given a
 * registry; `tributary serve` alone runs no pipeline and answers an empty list.
 */
import type { FastifyInstance } from 'fastify';
import { TributaryError } from '../../core/errors.ts';
import type { RunningPipelines } from './registry.ts';
import { PIPELINE_STATES } from './registry.ts';
import { pipelineDetail, pipelineSummary } from './status.ts';

const ERRORS = { 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' } } as const;

const PERCENTILES = {
  type: 'object',
  description: 'milliseconds; each percentile is the upper end of its ~4 % wide bucket',
  properties: {
    count: { type: 'integer' },
    p50: { type: 'number' },
    p90: { type: 'number' },
    p99: { type: 'number' },
  },
} as const;

const LATENCY = {
  type: 'object',
  description:
    'from the record’s log timestamp (ingest) and from its event time to its commit, since the pipeline started',
  properties: { fromIngest: PERCENTILES, fromEventTime: PERCENTILES },
} as const;

const ERROR_ENTRY = {
  type: 'object',
  properties: {
    at: { type: 'string' },
    code: { type: 'string' },
    message: { type: 'string' },
    attempt: { type: 'integer' },
    retryInMs: { type: 'number' },
  },
} as const;

const STATE = { type: 'string', enum: PIPELINE_STATES } as const;

const SUMMARY = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    state: STATE,
    startedAt: { type: 'string' },
    uptimeSeconds: { type: 'integer' },
    source: { type: 'string' },
    lag: { type: 'integer', description: 'records in the source not yet committed by every sink' },
    recordsIn: { type: 'integer' },
    recordsInPerSecond: { type: 'number', description: 'over the last ten seconds' },
    invalid: { type: 'integer' },
    dlqWritten: { type: 'integer' },
    latencyMs: LATENCY,
    errors: { type: 'integer', description: 'recent errors kept (at most 20)' },
    failure: ERROR_ENTRY,
  },
} as const;

const DLQ_RECORD = {
  type: 'object',
  properties: {
    partition: { type: 'integer' },
    offset: { type: 'integer' },
    source_topic: { type: 'string' },
    source_partition: { type: 'integer' },
    source_offset: { type: 'integer' },
    source_timestamp: { type: 'integer' },
    contract: { type: 'string' },
    field: { type: 'string' },
    rule: { type: 'string' },
    reason: { type: 'string' },
    value: { type: 'string', nullable: true },
    value_base64: { type: 'string' },
    rejected_at: { type: 'integer' },
  },
} as const;

const DETAIL = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    state: STATE,
    startedAt: { type: 'string' },
    stoppedAt: { type: 'string' },
    uptimeSeconds: { type: 'integer' },
    source: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        lag: { type: 'integer' },
        partitions: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              partition: { type: 'integer' },
              position: { type: 'integer', description: 'the first offset some sink has not committed' },
              end: { type: 'integer', description: 'the offset the next record will get' },
              lag: { type: 'integer' },
            },
          },
        },
      },
    },
    throughput: {
      type: 'object',
      properties: { intervalSeconds: { type: 'number' }, recordsInPerSecond: { type: 'number' } },
    },
    counters: {
      type: 'object',
      properties: Object.fromEntries(
        [
          'batches',
          'recordsIn',
          'invalid',
          'tagged',
          'late',
          'lateDropped',
          'deduplicated',
          'dlqWritten',
        ].map((k) => [k, { type: 'integer' }]),
      ),
    },
    batchMs: {
      type: 'object',
      properties: { last: { type: 'number' }, ...PERCENTILES.properties },
    },
    latencyMs: LATENCY,
    sinks: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          table: { type: 'string' },
          rows: { type: 'integer' },
          rowsPerSecond: { type: 'number' },
          duplicates: { type: 'integer' },
          commits: { type: 'integer' },
          conflicts: { type: 'integer', description: 'commit tries lost to other writers of the table' },
          latencyMs: LATENCY,
        },
      },
    },
    dlq: {
      type: 'object',
      nullable: true,
      properties: {
        topic: { type: 'string' },
        records: { type: 'integer', description: 'records the DLQ topic holds' },
        writtenByThisProcess: { type: 'integer' },
        recent: { type: 'array', items: DLQ_RECORD },
        unreadable: { type: 'integer' },
      },
    },
    errors: { type: 'array', items: ERROR_ENTRY },
    failure: ERROR_ENTRY,
  },
} as const;

export function pipelinesRoutes(registry: RunningPipelines) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get(
      '/pipelines',
      {
        config: { role: 'reader' },
        schema: {
          summary: 'The pipelines running in this process',
          description:
            'Pipelines run by the same process as the server (`tributary run --serve`, `tributary demo`): state, uptime, lag, throughput, latency, DLQ and errors.',
          tags: ['pipelines'],
          response: {
            200: { type: 'object', properties: { pipelines: { type: 'array', items: SUMMARY } } },
            ...ERRORS,
          },
        },
      },
      async () => ({ pipelines: await Promise.all(registry.list().map(pipelineSummary)) }),
    );

    app.get<{ Params: { name: string }; Querystring: { dlq: number } }>(
      '/pipelines/:name',
      {
        config: { role: 'reader' },
        schema: {
          summary: "A pipeline's status",
          description:
            'State and uptime, per-partition position, end and lag, records per second over the last ten seconds, latency percentiles (the pipeline’s and each sink’s, from ingest and from event time), counters, the DLQ topic’s size and its latest records, recent errors.',
          tags: ['pipelines'],
          params: {
            type: 'object',
            required: ['name'],
            additionalProperties: false,
            properties: { name: { type: 'string', minLength: 1, maxLength: 255 } },
          },
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              dlq: {
                type: 'integer',
                minimum: 0,
                maximum: 1000,
                default: 10,
                description: 'how many of the DLQ’s latest records to answer',
              },
            },
          },
          response: { 200: DETAIL, ...ERRORS, 404: { $ref: 'Error#' } },
        },
      },
      async (req) => {
        const entry = registry.get(req.params.name);
        if (!entry) {
          const names = registry.list().map((e) => e.name);
          throw new TributaryError(
            'PIPELINE_NOT_FOUND',
            `no pipeline named ${req.params.name} runs in this process${names.length ? ` (running: ${names.join(', ')})` : ''}; GET /api/v1/pipelines lists them`,
            { field: 'params.name' },
          );
        }
        return pipelineDetail(entry, req.query.dlq);
      },
    );
  };
}
