/**
 * The serving layer's HTTP server: one Fastify instance with the cross-cutting plugins
 * (errors, request log, auth, OpenAPI and /docs, probes) and the API's routes under
 * `/api/v1`. Later parts mount theirs as ServerPlugins (options.ts); the schema
 * registry mounts with `registryPlugin` (plugins/registry.ts).
 *
 * Start and stop: `start()` listens and resolves with the URL; `stop()` makes /ready
 * answer 503, stops accepting connections, lets requests under way finish (for up to
 * the request time limit), then closes what is left.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { TributaryError } from '../core/errors.ts';
import { ingestRoutes } from './ingest/routes.ts';
import { jobsRoutes } from './jobs/routes.ts';
import { metricsRoute, ServerMetrics } from './metrics/plugin.ts';
import { checkListenAddress, resolveLimits, type ServerLimits, type ServerOptions } from './options.ts';
import { RunningPipelines } from './pipelines/registry.ts';
import { pipelinesRoutes } from './pipelines/routes.ts';
import { authPlugin } from './plugins/auth.ts';
import { errorsPlugin } from './plugins/errors.ts';
import { healthPlugin } from './plugins/health.ts';
import { DOCS_PREFIX, openapiPlugin } from './plugins/openapi.ts';
import { requestLogPlugin } from './plugins/request-log.ts';
import { QuerySlots } from './query-slots.ts';
import { sqlRoute } from './sql/route.ts';
import { TableCache } from './tables/open.ts';
import { tablesRoutes } from './tables/routes.ts';
import { rowsRoute } from './tables/rows-route.ts';

/** Where the API's routes live; later parts mount theirs under it too. */
export const API_PREFIX = '/api/v1';

export interface Server {
  /** The Fastify instance (routes are registered once `ready()` or `start()` ran). */
  readonly app: FastifyInstance;
  readonly limits: ServerLimits;
  /** Queries running and waiting. */
  readonly slots: QuerySlots;
  /** What `/metrics` answers. */
  readonly metrics: ServerMetrics;
  /** Loads every plugin without listening (for `app.inject` and the OpenAPI document). */
  ready(): Promise<void>;
  /** Listens; resolves with the base URL, `http://host:port`. */
  start(): Promise<string>;
  /** Graceful stop (see above). */
  stop(): Promise<void>;
  /** The base URL once started. */
  readonly url: string;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function createServer(options: ServerOptions): Server {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  checkListenAddress(host, options.auth);
  const limits = resolveLimits(options.limits);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const verbose = options.verbose ?? false;
  const version = packageVersion();
  const slots = new QuerySlots(limits.maxConcurrentQueries, limits.maxQueuedQueries);
  const tables = new TableCache(options.dataDir);
  const pipelines = options.pipelines ?? new RunningPipelines({ sampleTimer: false });
  const metrics = new ServerMetrics({ pipelines, processMetrics: options.processMetrics });

  const app = Fastify({
    logger: false,
    bodyLimit: limits.bodyLimit,
    requestTimeout: limits.requestTimeoutMs,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: {
      // Unknown parameters are errors (a typo in a filter name should not be ignored);
      // query values are coerced to their declared types, a single value to an array.
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false },
    },
  });

  app.register(errorsPlugin, { log, verbose });
  app.register(requestLogPlugin, { log, verbose });
  app.register(authPlugin, { auth: options.auth, publicPrefixes: [DOCS_PREFIX] });
  app.register(openapiPlugin, { version });
  app.register(healthPlugin, { dataDir: options.dataDir, version });
  app.register(
    async (api) => {
      await api.register(tablesRoutes(tables));
      await api.register(
        rowsRoute({ tables, slots, maxPageRows: limits.maxPageRows, timeoutMs: limits.requestTimeoutMs }),
      );
      await api.register(pipelinesRoutes(pipelines));
      await api.register(
        jobsRoutes({
          ...options.jobs,
          dataDir: options.dataDir,
          onEvent: pipelines.jobs.onEvent,
          log: options.jobs?.log ?? log,
        }),
      );
      if (options.ingest !== undefined) {
        await api.register(ingestRoutes, { ...options.ingest, metrics: metrics.ingest });
      }
      // POST /api/v1/sql: mounted when a runner is given (`tributary serve` passes the sandbox).
      if (options.sql !== undefined) {
        await api.register(
          sqlRoute({
            run: options.sql,
            dataDir: options.dataDir,
            slots,
            timeoutMs: limits.requestTimeoutMs,
            maxRows: limits.maxPageRows,
          }),
        );
      }
    },
    { prefix: API_PREFIX },
  );
  app.register(metricsRoute(metrics, options.metricsPublic ?? false));
  for (const plugin of options.plugins ?? []) {
    app.register(plugin.register, { prefix: plugin.prefix ?? '' });
  }

  let url: string | undefined;
  return {
    app,
    limits,
    slots,
    metrics,
    async ready() {
      await app.ready();
    },
    async start() {
      if (url !== undefined) return url;
      try {
        await app.listen({ host, port });
      } catch (err) {
        await app.close();
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
          throw new TributaryError(
            'CONFIG_INVALID',
            `the server cannot listen on ${host}:${port} (${code}): pick another port (--port) or address (--host)`,
            { host, port },
            err,
          );
        }
        throw err;
      }
      const address = app.server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
      return url;
    },
    async stop() {
      if (app.hasDecorator('readiness')) app.readiness.stopping();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          // Requests still running past the time limit: close their connections.
          app.server.closeAllConnections?.();
          resolve();
        }, limits.requestTimeoutMs);
      });
      try {
        await Promise.race([app.close(), late]);
      } finally {
        clearTimeout(timer);
      }
    },
    get url() {
      if (url === undefined) throw new Error('the server is not started');
      return url;
    },
  };
}
