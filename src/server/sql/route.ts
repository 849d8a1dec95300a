/**
 * `POST /api/v1/sql`: a read-only SQL query over the lake's tables. Role reader; runs in
 * a query slot with the server's time limit.
 *
 * The route only carries requests to a `SqlRunner`; deciding whether a SQL text is safe
 * (only reads of the lake's tables by name, no files, network, settings or extensions)
 * is the sandbox's job: `runSandboxedQuery` of src/query/sandbox.ts, which refuses
 * with QUERY_REFUSED and the reason. The server mounts this route only when given a
 * runner (ServerOptions.sql), and `tributary serve` passes the sandbox.
 */
import type { FastifyInstance } from 'fastify';
import { jsonText } from '../../query/format.ts';
import type { QuerySlots } from '../query-slots.ts';

/** The sandbox's interface (src/query/sandbox.ts). */
export interface SqlRequest {
  sql: string;
  dataDir: string;
  maxRows: number;
  timeoutMs: number;
}

export interface SqlAnswer {
  columns: Array<{ name: string; type: string }>;
  rows: unknown[][];
  /** True when the result had more than maxRows rows and was cut there. */
  truncated: boolean;
}

export type SqlRunner = (req: SqlRequest) => Promise<SqlAnswer>;

export interface SqlRouteOptions {
  run: SqlRunner;
  dataDir: string;
  slots: QuerySlots;
  timeoutMs: number;
  maxRows: number;
}

export function sqlRoute(opts: SqlRouteOptions) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.post<{ Body: { sql: string; maxRows?: number } }>(
      '/sql',
      {
        config: { role: 'reader' },
        schema: {
          summary: 'Run a read-only SQL query over the tables',
          description:
            'DuckDB SQL over the tables by name, with time travel (FROM t VERSION AS OF 3). Only reads of the lake’s tables are run: ' +
            'a query that reads files, the network, settings or extensions is refused (400 QUERY_REFUSED with the reason). ' +
            'At most maxRows rows are answered (`truncated` says when there were more).',
          tags: ['sql'],
          body: {
            type: 'object',
            required: ['sql'],
            additionalProperties: false,
            properties: {
              sql: { type: 'string', minLength: 1, maxLength: 100_000 },
              maxRows: { type: 'integer', minimum: 1, maximum: opts.maxRows },
            },
          },
          response: {
            200: {
              type: 'object',
              properties: {
                columns: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: { name: { type: 'string' }, type: { type: 'string' } },
                  },
                },
                rows: { type: 'array', items: { type: 'array', items: {} } },
                truncated: { type: 'boolean' },
              },
            },
            400: { $ref: 'Error#' },
            401: { $ref: 'Error#' },
            403: { $ref: 'Error#' },
            503: { $ref: 'Error#' },
          },
        },
      },
      async (req, reply) => {
        const answer = await opts.slots.run(() =>
          opts.run({
            sql: req.body.sql,
            dataDir: opts.dataDir,
            maxRows: req.body.maxRows ?? opts.maxRows,
            timeoutMs: opts.timeoutMs,
          }),
        );
        const body = `{"columns":${JSON.stringify(answer.columns)},"rows":${jsonText(answer.rows)},"truncated":${answer.truncated}}`;
        return reply.type('application/json; charset=utf-8').send(body);
      },
    );
  };
}
