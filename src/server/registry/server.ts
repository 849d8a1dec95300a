/**
 * The schema registry as a service: `openRegistry` opens its store over a log and gives
 * the service and an in-process client (for a pipeline running with the embedded
 * registry); `createRegistryServer` adds the REST API on a port, with a graceful stop.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { SchemaRegistryClient } from '../../connectors/avro/registry-client.ts';
import { TributaryError } from '../../core/errors.ts';
import { InProcessRegistryClient } from './client.ts';
import { CONTENT_TYPE, registryRoutes } from './routes.ts';
import { RegistryService } from './service.ts';
import { RegistryStore, type RegistryStoreOptions } from './store.ts';

/** The log (the caller's to close), the topic (default `_schemas`), time limits: store.ts. */
export type RegistryOptions = RegistryStoreOptions;

export interface Registry {
  readonly service: RegistryService;
  readonly client: SchemaRegistryClient;
  /** Lets writes under way finish and stops reading the topic. */
  close(): Promise<void>;
}

/** Opens the registry's store (replaying its topic) without serving HTTP. */
export async function openRegistry(opts: RegistryOptions): Promise<Registry> {
  const store = await RegistryStore.open(opts);
  const service = new RegistryService(store);
  return { service, client: new InProcessRegistryClient(service), close: () => store.close() };
}

export interface RegistryServerOptions extends RegistryOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8081 (Confluent's); 0 picks a free port. */
  port?: number;
}

export interface RegistryServer {
  /** Opens the store and listens; resolves with the URL (`http://host:port`). */
  start(): Promise<string>;
  /** Stops accepting requests, lets those under way finish, closes the store. */
  stop(): Promise<void>;
  /** The URL once started. */
  readonly url: string;
  /** The service and the in-process client once started. */
  readonly registry: Registry;
}

export function createRegistryServer(opts: RegistryServerOptions): RegistryServer {
  let app: FastifyInstance | undefined;
  let registry: Registry | undefined;
  let url: string | undefined;
  return {
    async start() {
      if (url !== undefined) return url;
      registry = await openRegistry(opts);
      const service = registry.service;
      app = Fastify({ logger: false, forceCloseConnections: 'idle', return503OnClosing: true });
      app.get('/health', async (_req, reply) => {
        const err = service.store.lastError;
        reply.type(CONTENT_TYPE);
        if (err !== undefined) return reply.code(503).send({ status: 'DOWN', error: err.message });
        const { topic, position, lostRaces } = service.store;
        return { status: 'UP', topic, position, lostRaces };
      });
      app.setNotFoundHandler((_req, reply) =>
        reply.code(404).type(CONTENT_TYPE).send({ error_code: 404, message: 'HTTP 404 Not Found' }),
      );
      await app.register(registryRoutes(service));
      const host = opts.host ?? '127.0.0.1';
      try {
        await app.listen({ host, port: opts.port ?? 8081 });
      } catch (err) {
        await app.close();
        await registry.close();
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
          throw new TributaryError(
            'CONFIG_INVALID',
            `the schema registry cannot listen on ${host}:${opts.port ?? 8081} (${code}): pick another port (--port) or address (--host)`,
            { host, port: opts.port ?? 8081 },
            err,
          );
        }
        throw err;
      }
      const address = app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : opts.port;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      return url;
    },
    async stop() {
      await app?.close();
      await registry?.close();
      app = undefined;
      registry = undefined;
    },
    get url() {
      if (url === undefined) throw new Error('the registry server is not started');
      return url;
    },
    get registry() {
      if (registry === undefined) throw new Error('the registry server is not started');
      return registry;
    },
  };
}
