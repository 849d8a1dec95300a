/**
 * `GET /api/v1/tables/:table/rows`: a page of a table's rows, at the latest version or
 * by time travel, with column selection, filters, ordering and cursor pagination
 * (row-params.ts, cursor.ts, rows.ts). Role reader; runs in a query slot.
 *
 * Values keep their exact meaning: BIGINT is a JSON number with every digit (parse it
 * with a reader that keeps big integers), DECIMAL its decimal text, timestamps ISO-8601
 * UTC with microseconds, binary hex.
 */
import type { FastifyInstance } from 'fastify';
import { jsonText } from '../../query/format.ts';
import type { QuerySlots } from '../query-slots.ts';
import { decodeCursor, encodeCursor, queryHash } from './cursor.ts';
import { AS_OF_PROPERTIES, TABLE_PARAM_SCHEMA, type TableCache } from './open.ts';
import { FILTER_OPERATORS, parseColumns, parseFilters, parseOrder } from './row-params.ts';
import { readPage } from './rows.ts';

export interface RowsRouteOptions {
  tables: TableCache;
  slots: QuerySlots;
  maxPageRows: number;
  timeoutMs: number;
}

interface RowsQuery {
  version?: number;
  timestamp?: string;
  columns?: string;
  filter?: string[];
  order?: string;
  limit: number;
  cursor?: string;
}

export function rowsRoute(opts: RowsRouteOptions) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get<{ Params: { table: string }; Querystring: RowsQuery }>(
      '/tables/:table/rows',
      {
        config: { role: 'reader' },
        schema: {
          summary: "A page of a table's rows",
          description:
            'Rows at the latest version, or at `version` / `timestamp` (time travel). A page answers at most `limit` rows and, ' +
            'when more follow, `nextCursor`: repeat the same request with `cursor=<nextCursor>` for the next page. ' +
            'Every page of one query reads the version of its first page, so commits made meanwhile neither skip nor repeat rows. ' +
            'Rows come in `order`, then in the files’ order (a stable order of the version’s rows).',
          tags: ['tables'],
          params: TABLE_PARAM_SCHEMA,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              ...AS_OF_PROPERTIES,
              columns: {
                type: 'string',
                description: 'Columns to answer, comma-separated (default all): id,amount',
              },
              filter: {
                type: 'array',
                items: { type: 'string' },
                description: `Repeatable, all must hold: column:operator[:value], operators ${FILTER_OPERATORS.join(', ')}; in takes values separated by commas. status:eq:paid, amount:gte:10, status:in:paid,new, note:is_null`,
              },
              order: {
                type: 'string',
                description: 'Sort columns, comma-separated, - for descending (nulls last): -amount,id',
              },
              limit: { type: 'integer', minimum: 1, maximum: opts.maxPageRows, default: 100 },
              cursor: {
                type: 'string',
                maxLength: 65_536,
                description: 'The nextCursor of the previous page',
              },
            },
          },
          response: {
            200: {
              type: 'object',
              properties: {
                table: { type: 'string' },
                version: { type: 'integer', description: 'the version every page of this query reads' },
                columns: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      name: { type: 'string' },
                      type: { anyOf: [{ type: 'string' }, { type: 'object' }] },
                    },
                  },
                },
                rows: { type: 'array', items: { type: 'object', additionalProperties: true } },
                nextCursor: { type: 'string', nullable: true },
              },
            },
            400: { $ref: 'Error#' },
            401: { $ref: 'Error#' },
            403: { $ref: 'Error#' },
            404: { $ref: 'Error#' },
            503: { $ref: 'Error#' },
          },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const name = req.params.table;
        const hash = queryHash({
          table: name,
          filter: q.filter,
          order: q.order,
          version: q.version,
          timestamp: q.timestamp,
        });
        // A cursor pins its version; a first page reads the latest or the one asked for.
        let after: Array<string | null> | undefined;
        let at: { version?: number; timestamp?: string } = q;
        if (q.cursor !== undefined) {
          const orderCount = q.order?.trim() ? q.order.split(',').length : 0;
          const cursor = decodeCursor(q.cursor, hash, orderCount + 2);
          at = { version: cursor.version };
          after = cursor.after;
        }
        const { table, snapshot } = await opts.tables.snapshot(name, at);
        const order = parseOrder(q.order, snapshot.schema);
        const columns = parseColumns(q.columns, snapshot.schema);
        const filters = parseFilters(q.filter, snapshot.schema);
        const page = await opts.slots.run(() =>
          readPage({
            table,
            snapshot,
            columns,
            filters,
            order,
            limit: q.limit,
            after,
            timeoutMs: opts.timeoutMs,
          }),
        );
        const next =
          page.next === undefined
            ? null
            : encodeCursor({ version: snapshot.version, after: page.next }, hash);
        // Serialised here: bigints keep every digit (JSON.stringify refuses them).
        const body = `{"table":${JSON.stringify(name)},"version":${snapshot.version},"columns":${JSON.stringify(page.columns)},"rows":${jsonText(page.rows)},"nextCursor":${JSON.stringify(next)}}`;
        return reply.type('application/json; charset=utf-8').send(body);
      },
    );
  };
}
