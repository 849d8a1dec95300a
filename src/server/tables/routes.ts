/**
 * The tables of the data directory: the list, and for each its summary, schema,
 * history and files (by partition), at the latest version or by time travel. Role
 * reader. The rows are in rows-route.ts.
 */
import type { FastifyInstance } from 'fastify';
import { listTables, summarize } from '../../table/index.ts';
import { fileRows } from '../../table/summary.ts';
import { AS_OF_PROPERTIES, type AsOfQuery, TABLE_PARAM_SCHEMA, type TableCache } from './open.ts';

const ERRORS = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  403: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
} as const;

const AS_OF_QUERY = { type: 'object', additionalProperties: false, properties: AS_OF_PROPERTIES } as const;

const DELTA_TYPE = {
  description:
    'A Delta type: a name (long, string, decimal(10,2), timestamp, ...) or a struct/array/map object',
  anyOf: [{ type: 'string' }, { type: 'object', additionalProperties: true }],
} as const;

const FIELD = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    type: DELTA_TYPE,
    nullable: { type: 'boolean' },
    metadata: { type: 'object', additionalProperties: true },
  },
} as const;

const SUMMARY = {
  type: 'object',
  properties: {
    table: { type: 'string' },
    version: { type: 'integer' },
    timestamp: { type: 'string', description: 'when the version was committed (UTC)' },
    schema: { type: 'array', items: FIELD },
    partitionColumns: { type: 'array', items: { type: 'string' } },
    properties: { type: 'object', additionalProperties: { type: 'string' } },
    files: { type: 'integer' },
    bytes: { type: 'integer' },
    rows: {
      type: 'integer',
      nullable: true,
      description: "from the files' statistics; null when a file has none",
    },
    protocol: {
      type: 'object',
      properties: { minReaderVersion: { type: 'integer' }, minWriterVersion: { type: 'integer' } },
    },
  },
} as const;

const PARTITION = {
  type: 'object',
  properties: {
    values: { type: 'object', additionalProperties: { type: 'string', nullable: true } },
    files: { type: 'integer' },
    bytes: { type: 'integer' },
    rows: { type: 'integer', nullable: true },
  },
} as const;

type Named = { Params: { table: string } };

export function tablesRoutes(tables: TableCache) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get(
      '/tables',
      {
        config: { role: 'reader' },
        schema: {
          summary: 'List the tables of the data directory',
          tags: ['tables'],
          response: {
            200: {
              type: 'object',
              properties: {
                tables: {
                  type: 'array',
                  items: { type: 'object', properties: { name: { type: 'string' } } },
                },
              },
            },
            401: ERRORS[401],
            403: ERRORS[403],
          },
        },
      },
      async () => ({ tables: (await listTables(tables.dataDir)).map((name) => ({ name })) }),
    );

    app.get<Named & { Querystring: AsOfQuery }>(
      '/tables/:table',
      {
        config: { role: 'reader' },
        schema: {
          summary: "A table's summary: version, schema, partitioning, properties, files, bytes, rows",
          tags: ['tables'],
          params: TABLE_PARAM_SCHEMA,
          querystring: AS_OF_QUERY,
          response: { 200: SUMMARY, ...ERRORS },
        },
      },
      async (req) => {
        const { table, snapshot } = await tables.snapshot(req.params.table, req.query);
        const { location: _location, ...summary } = summarize(req.params.table, table.url, snapshot);
        return summary;
      },
    );

    app.get<Named & { Querystring: AsOfQuery }>(
      '/tables/:table/schema',
      {
        config: { role: 'reader' },
        schema: {
          summary: "A table's schema (Delta types) at a version",
          tags: ['tables'],
          params: TABLE_PARAM_SCHEMA,
          querystring: AS_OF_QUERY,
          response: {
            200: {
              type: 'object',
              properties: {
                table: { type: 'string' },
                version: { type: 'integer' },
                fields: { type: 'array', items: FIELD },
                partitionColumns: { type: 'array', items: { type: 'string' } },
              },
            },
            ...ERRORS,
          },
        },
      },
      async (req) => {
        const { snapshot } = await tables.snapshot(req.params.table, req.query);
        return {
          table: req.params.table,
          version: snapshot.version,
          fields: snapshot.schema.fields,
          partitionColumns: snapshot.partitionColumns,
        };
      },
    );

    app.get<Named & { Querystring: { limit: number } }>(
      '/tables/:table/history',
      {
        config: { role: 'reader' },
        schema: {
          summary: "A table's commits, newest first",
          tags: ['tables'],
          params: TABLE_PARAM_SCHEMA,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 } },
          },
          response: {
            200: {
              type: 'object',
              properties: {
                table: { type: 'string' },
                entries: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      version: { type: 'integer' },
                      timestamp: { type: 'string' },
                      operation: { type: 'string' },
                      parameters: { type: 'object', additionalProperties: true },
                      metrics: { type: 'object', additionalProperties: true, nullable: true },
                      readVersion: { type: 'integer' },
                      txnId: { type: 'string' },
                    },
                  },
                },
              },
            },
            ...ERRORS,
          },
        },
      },
      async (req) => {
        const table = await tables.get(req.params.table);
        const entries = await table.history({ limit: req.query.limit });
        return {
          table: req.params.table,
          entries: entries.map((e) => ({
            version: e.version,
            timestamp: new Date(e.timestamp).toISOString(),
            operation: e.operation,
            parameters: e.operationParameters,
            metrics: e.operationMetrics ?? null,
            readVersion: e.readVersion,
            txnId: e.txnId,
          })),
        };
      },
    );

    app.get<Named & { Querystring: AsOfQuery & { limit: number } }>(
      '/tables/:table/files',
      {
        config: { role: 'reader' },
        schema: {
          summary: "A table's data files at a version: totals, sizes, and per partition",
          tags: ['tables'],
          params: TABLE_PARAM_SCHEMA,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              ...AS_OF_PROPERTIES,
              limit: {
                type: 'integer',
                minimum: 1,
                maximum: 100_000,
                default: 1000,
                description: 'most partitions listed (the largest first)',
              },
            },
          },
          response: {
            200: {
              type: 'object',
              properties: {
                table: { type: 'string' },
                version: { type: 'integer' },
                files: { type: 'integer' },
                bytes: { type: 'integer' },
                rows: { type: 'integer', nullable: true },
                fileBytes: {
                  type: 'object',
                  nullable: true,
                  properties: {
                    min: { type: 'integer' },
                    max: { type: 'integer' },
                    mean: { type: 'number' },
                  },
                },
                partitionColumns: { type: 'array', items: { type: 'string' } },
                partitionCount: { type: 'integer' },
                partitions: { type: 'array', items: PARTITION },
              },
            },
            ...ERRORS,
          },
        },
      },
      async (req) => {
        const { snapshot } = await tables.snapshot(req.params.table, req.query);
        const groups = new Map<
          string,
          { values: Record<string, string | null>; files: number; bytes: number; rows: number | null }
        >();
        let bytes = 0;
        let rows: number | null = 0;
        let min = Number.POSITIVE_INFINITY;
        let max = 0;
        for (const add of snapshot.files()) {
          const values = Object.fromEntries(
            snapshot.partitionColumns.map((c) => [c, add.partitionValues[c] ?? null]),
          );
          const key = JSON.stringify(values);
          let g = groups.get(key);
          if (g === undefined) {
            g = { values, files: 0, bytes: 0, rows: 0 };
            groups.set(key, g);
          }
          const n = fileRows(add.stats);
          g.files++;
          g.bytes += add.size;
          g.rows = g.rows === null || n === undefined ? null : g.rows + n;
          bytes += add.size;
          rows = rows === null || n === undefined ? null : rows + n;
          min = Math.min(min, add.size);
          max = Math.max(max, add.size);
        }
        const count = snapshot.files().length;
        const partitions = [...groups.values()].sort((a, b) => b.bytes - a.bytes).slice(0, req.query.limit);
        return {
          table: req.params.table,
          version: snapshot.version,
          files: count,
          bytes,
          rows,
          fileBytes: count === 0 ? null : { min, max, mean: bytes / count },
          partitionColumns: snapshot.partitionColumns,
          partitionCount: groups.size,
          partitions,
        };
      },
    );
  };
}
