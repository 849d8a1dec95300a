/**
 * The live dashboard (docs/serving.md, "Dashboard"): the page (dashboard-assets.ts) and
 * the API it reads, one page per scenario (src/server/dashboard/):
 *
 *   GET /api/v1/dashboards                the pages and their panels
 *   GET /api/v1/dashboards/{name}         every panel's numbers now
 *   GET /api/v1/dashboards/{name}/stream  the same as server-sent events: the whole
 *                                         dashboard, then each panel when it changes
 *
 * Role reader. The stream ends after `maxStreamMs` (the page reconnects, and its token is
 * checked again) and when the server stops.
 */
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../core/clock.ts';
import { TributaryError } from '../../core/errors.ts';
import type { Log } from '../../log/log.ts';
import { jsonText } from '../../query/index.ts';
import { DashboardFeed } from '../dashboard/feed.ts';
import { DASHBOARDS, type DashboardDef } from '../dashboard/index.ts';
import { type LivePipelines, LiveSampler } from '../dashboard/live.ts';
import { tableVersions } from '../dashboard/sql-panels.ts';
import type { ServerPlugin } from '../options.ts';
import { QuerySlots } from '../query-slots.ts';
import { TableCache } from '../tables/open.ts';
import { dashboardAssets } from './dashboard-assets.ts';

export interface DashboardOptions {
  dataDir: string;
  /** The event log, for the dead-letter panels (without it they say the server cannot read it). */
  log?: Log;
  /** Pipelines running in this process, for the live panels (events/s, lag, latency). */
  pipelines?: LivePipelines;
  /** Default: every scenario's page (DASHBOARDS). */
  dashboards?: readonly DashboardDef[];
  clock?: Clock;
  /** Least time between two runs of a dashboard's SQL panels (default 2 s). */
  sqlIntervalMs?: number;
  /** How often a followed dashboard is checked for changes (default 1 s). */
  tickMs?: number;
  /** Streams open at once (default 64); more are answered 503 HTTP_BUSY. */
  maxStreams?: number;
  /** Longest a stream stays open (default 5 minutes); the page reconnects. */
  maxStreamMs?: number;
}

const NAME_PARAMS = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

const ERRORS = {
  401: { $ref: 'Error#' },
  403: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
} as const;

const PANEL = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    title: { type: 'string' },
    description: { type: 'string' },
    kind: { type: 'string', enum: ['stat', 'bars', 'timeseries', 'table'] },
    unit: { type: 'string', enum: ['count', 'money', 'ms', 'per_second', 'percent'] },
    columnUnits: { type: 'object', additionalProperties: { type: 'string' } },
    width: { type: 'integer' },
    seriesBy: { type: 'string' },
    source: {
      type: 'string',
      enum: ['sql', 'dlq', 'live'],
      description:
        'sql: a fixed query over the tables; dlq: the dead-letter topic; live: the pipeline running in this server',
    },
    columns: {
      type: 'array',
      items: { type: 'object', properties: { name: { type: 'string' }, type: { type: 'string' } } },
    },
    rows: { type: 'array', items: { type: 'array', items: {} } },
    sql: { type: 'string', description: 'the query run, pinned to the versions it read' },
    note: { type: 'string', description: 'why the panel has no numbers in this server' },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
} as const;

export function dashboardPlugin(opts: DashboardOptions): ServerPlugin {
  return { name: 'dashboard', register: (app) => registerDashboard(app, opts) };
}

async function registerDashboard(app: FastifyInstance, opts: DashboardOptions): Promise<void> {
  const defs = opts.dashboards ?? DASHBOARDS;
  const tables = new TableCache(opts.dataDir);
  // The dashboards' queries run one at a time, whatever the number of pages open.
  const slots = new QuerySlots(1, 64);
  const live =
    opts.pipelines === undefined ? undefined : new LiveSampler(opts.pipelines, { clock: opts.clock });
  live?.start();
  const feeds = new Map<string, DashboardFeed>();
  for (const def of defs) {
    feeds.set(
      def.name,
      new DashboardFeed(def, {
        dataDir: opts.dataDir,
        tables,
        slots,
        log: opts.log,
        live,
        clock: opts.clock,
        sqlIntervalMs: opts.sqlIntervalMs,
        tickMs: opts.tickMs,
      }),
    );
  }
  const feedOf = (name: string): DashboardFeed => {
    const feed = feeds.get(name);
    if (feed === undefined) {
      throw new TributaryError(
        'HTTP_NOT_FOUND',
        `no dashboard named '${name}'; GET /api/v1/dashboards lists them (${[...feeds.keys()].join(', ')})`,
        { dashboard: name },
      );
    }
    return feed;
  };
  const streams = new Set<() => void>();
  const maxStreams = opts.maxStreams ?? 64;
  const maxStreamMs = opts.maxStreamMs ?? 5 * 60_000;

  app.addHook('preClose', async () => {
    for (const end of [...streams]) end();
    for (const feed of feeds.values()) feed.close();
    live?.stop();
  });

  await app.register(dashboardAssets);

  app.get(
    '/api/v1/dashboards',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'The dashboard pages and their panels',
        tags: ['dashboards'],
        response: {
          200: {
            type: 'object',
            properties: {
              dashboards: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    title: { type: 'string' },
                    description: { type: 'string' },
                    pipeline: { type: 'string' },
                    tables: { type: 'array', items: { type: 'string' } },
                    available: {
                      type: 'boolean',
                      description: 'one of its tables exists, or its pipeline runs in this server',
                    },
                    live: { type: 'boolean', description: 'its pipeline runs in this server' },
                    panels: {
                      type: 'array',
                      items: {
                        type: 'object',
                        properties: {
                          id: { type: 'string' },
                          title: { type: 'string' },
                          kind: { type: 'string' },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
          401: ERRORS[401],
          403: ERRORS[403],
        },
      },
    },
    async () => ({
      dashboards: await Promise.all(
        defs.map(async (d) => {
          const running = live?.running(d.pipeline) ?? false;
          const versions = await tableVersions(tables, d.tables);
          return {
            name: d.name,
            title: d.title,
            description: d.description,
            pipeline: d.pipeline,
            tables: d.tables,
            available: running || Object.values(versions).some((v) => v !== null),
            live: running,
            panels: d.panels.map((p) => ({ id: p.id, title: p.title, kind: p.kind })),
          };
        }),
      ),
    }),
  );

  app.get<{ Params: { name: string } }>(
    '/api/v1/dashboards/:name',
    {
      config: { role: 'reader' },
      schema: {
        summary: "A dashboard's panels with their numbers now",
        description:
          'Each panel answers `columns` and `rows` as the SQL endpoint does. SQL panels read the tables at the versions in `versions` ' +
          '(their `sql` is the query run, with those versions); dead-letter panels read the pipeline’s DLQ topic; live panels ' +
          'the pipeline running in this server (otherwise a `note` says so).',
        tags: ['dashboards'],
        params: NAME_PARAMS,
        response: {
          200: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              title: { type: 'string' },
              description: { type: 'string' },
              pipeline: { type: 'string' },
              computedAt: { type: 'string' },
              versions: { type: 'object', additionalProperties: { type: 'integer', nullable: true } },
              live: { type: 'boolean' },
              panels: { type: 'array', items: PANEL },
            },
          },
          ...ERRORS,
        },
      },
    },
    async (req, reply) => {
      const feed = feedOf(req.params.name);
      const data = await feed.current();
      const timing = feed.serverTiming();
      if (timing !== '') reply.header('server-timing', timing);
      return reply.type('application/json; charset=utf-8').send(jsonText(data));
    },
  );

  app.get<{ Params: { name: string } }>(
    '/api/v1/dashboards/:name/stream',
    {
      config: { role: 'reader' },
      schema: {
        summary: "A dashboard's numbers as server-sent events",
        description:
          'text/event-stream: first an event `dashboard` (what GET /api/v1/dashboards/{name} answers), then an event `panels` ' +
          '(`{computedAt, versions, live, panels}`) each second one or more panels changed, with those panels only. ' +
          'Comments keep the connection alive. The server ends the stream after a few minutes: reconnect.',
        tags: ['dashboards'],
        params: NAME_PARAMS,
        response: {
          200: { type: 'string', description: 'server-sent events' },
          ...ERRORS,
          503: { $ref: 'Error#' },
        },
      },
    },
    async (req, reply) => {
      const feed = feedOf(req.params.name);
      if (streams.size >= maxStreams) {
        throw new TributaryError(
          'HTTP_BUSY',
          `the server already streams ${streams.size} dashboards (its limit); try again in a moment`,
          { retryAfterSeconds: 5 },
        );
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-store',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 3000\n\n');
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        unfollow();
        clearInterval(keepAlive);
        clearTimeout(limit);
        streams.delete(end);
        res.end();
      };
      const unfollow = feed.follow((m) => {
        if (!ended) res.write(`event: ${m.event}\ndata: ${m.data}\n\n`);
      });
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      const limit = setTimeout(end, maxStreamMs);
      streams.add(end);
      // The response's close: the client went away (or the stream was ended here).
      res.on('close', end);
      res.on('error', end);
    },
  );
}
