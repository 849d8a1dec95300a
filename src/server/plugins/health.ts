/**
 * Probes. `/health` (liveness): the process answers. `/ready` (readiness): it can serve —
 * not shutting down, and every readiness check passes (the data directory's tables
 * folder is readable; later parts add theirs with `app.readiness.add`). Both are public
 * and cheap enough to call every second.
 */
import { promises as fs } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { tablesRoot } from '../../table/locate.ts';
import { shared } from './shared.ts';

export type ReadinessCheck = () => Promise<void>;

export interface Readiness {
  /** Adds a check; a check that throws makes /ready answer 503 with its message. */
  add(name: string, check: ReadinessCheck): void;
  /** Marks the server as stopping: /ready answers 503 from now on. */
  stopping(): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    readiness: Readiness;
  }
}

export interface HealthOptions {
  dataDir: string;
  version: string;
}

const STATUS_SCHEMA = {
  type: 'object',
  properties: {
    status: { type: 'string' },
    version: { type: 'string' },
    uptimeSeconds: { type: 'number' },
    checks: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

/** The tables folder is there (or not yet: a new data directory) and readable. */
function dataDirCheck(dataDir: string): ReadinessCheck {
  return async () => {
    const root = tablesRoot(dataDir);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(root) && !/^file:/i.test(root)) return;
    const path = /^file:/i.test(root) ? new URL(root).pathname : root;
    try {
      await fs.access(path, fs.constants.R_OK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new Error(`the tables folder ${path} is not readable (${(err as NodeJS.ErrnoException).code})`);
    }
  };
}

export const healthPlugin = shared<HealthOptions>('tributary-health', async (app: FastifyInstance, opts) => {
  const checks = new Map<string, ReadinessCheck>([['dataDir', dataDirCheck(opts.dataDir)]]);
  let stopping = false;
  app.decorate('readiness', {
    add(name: string, check: ReadinessCheck) {
      checks.set(name, check);
    },
    stopping() {
      stopping = true;
    },
  });
  app.get(
    '/health',
    {
      config: { public: true },
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['probes'],
        response: { 200: STATUS_SCHEMA },
      },
    },
    async () => ({ status: 'ok', version: opts.version, uptimeSeconds: Math.round(process.uptime()) }),
  );
  app.get(
    '/ready',
    {
      config: { public: true },
      schema: {
        summary: 'Readiness: the server can serve requests',
        description: 'Answers 503 while the server shuts down or when a check fails; `checks` says which.',
        tags: ['probes'],
        response: { 200: STATUS_SCHEMA, 503: STATUS_SCHEMA },
      },
    },
    async (_req, reply) => {
      const results: Record<string, string> = {};
      let ok = !stopping;
      if (stopping) results.server = 'shutting down';
      await Promise.all(
        [...checks].map(async ([name, check]) => {
          try {
            await check();
            results[name] = 'ok';
          } catch (err) {
            ok = false;
            results[name] = (err as Error).message;
          }
        }),
      );
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks: results });
    },
  );
});
