/**
 * `GET /metrics`: Prometheus' text format (prom-client), one registry per server: the
 * process (prom-client's default metrics: CPU, memory, event loop lag, GC, handles),
 * the ingest route's, and the pipelines running in the process with their jobs.
 *
 * Role reader by default, like the other status routes; `metricsPublic` opens it to
 * anyone (a scraper without a token), which tells whoever reaches the port the names of
 * the topics, pipelines, sinks and tables, and their rates.
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { RunningPipelines } from '../pipelines/registry.ts';
import { IngestMetrics } from './ingest.ts';
import { pipelineMetrics } from './pipelines.ts';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly ingest: IngestMetrics;

  constructor(opts: { pipelines?: RunningPipelines; processMetrics?: boolean }) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.ingest = new IngestMetrics(this.registry);
    if (opts.pipelines) pipelineMetrics(this.registry, opts.pipelines);
  }

  /** The text format of every metric now. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export function metricsRoute(metrics: ServerMetrics, isPublic: boolean) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get(
      '/metrics',
      {
        config: isPublic ? { public: true } : { role: 'reader' },
        schema: {
          summary: 'Prometheus metrics',
          description:
            'The text exposition format (`text/plain; version=0.0.4`): process, ingest, pipelines (records in, out, invalid, late, duplicate; batch duration and end-to-end latency histograms; lag per partition; commits; DLQ), jobs. ' +
            (isPublic
              ? 'Public on this server (--metrics-public).'
              : 'Needs a reader token unless the server runs with --metrics-public.'),
          tags: ['metrics'],
          produces: ['text/plain'],
          response: {
            200: { type: 'string', description: 'Prometheus text format 0.0.4' },
            401: { $ref: 'Error#' },
            403: { $ref: 'Error#' },
          },
        },
      },
      async (_req, reply) => {
        const text = await metrics.text();
        return reply.type(metrics.contentType).send(text);
      },
    );
  };
}
