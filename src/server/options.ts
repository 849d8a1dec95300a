/**
 * What a server is built from, with the defaults and limits in one place
 * (docs/serving.md lists them).
 */
import { isIP } from 'node:net';
import { TributaryError } from '../core/errors.ts';
import type { TokenVerifier } from './auth/verify.ts';
import type { IngestOptions } from './ingest/routes.ts';
import type { JobsApiOptions } from './jobs/routes.ts';
import type { RunningPipelines } from './pipelines/registry.ts';
import type { SqlRunner } from './sql/route.ts';

export interface ServerLimits {
  /** Largest request body in bytes (default 1 MiB). Routes that take more say so themselves. */
  bodyLimit: number;
  /**
   * Longest a request may take, in ms (default 30 s): receiving it (Node's
   * requestTimeout) and answering it (a query is interrupted when it runs longer).
   */
  requestTimeoutMs: number;
  /** Queries (rows, SQL) run at once (default 4); more wait in a queue. */
  maxConcurrentQueries: number;
  /** Queries that may wait for a turn (default 64; 0 for none); more are answered 503 HTTP_BUSY. */
  maxQueuedQueries: number;
  /** Most rows one page of a table's rows holds (default 10,000; a request's `limit` is capped by it). */
  maxPageRows: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  bodyLimit: 1024 * 1024,
  requestTimeoutMs: 30_000,
  maxConcurrentQueries: 4,
  maxQueuedQueries: 64,
  maxPageRows: 10_000,
};

export type AuthOptions =
  /** No authentication: every route open. Only on a loopback address (checkListenAddress). */
  { mode: 'none' } | { mode: 'jwt'; verifier: TokenVerifier };

export interface ServerOptions {
  /** Where named tables live (`<dataDir>/tables/<name>`). */
  dataDir: string;
  auth: AuthOptions;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  limits?: Partial<ServerLimits>;
  /** One line per request (method, path, status, time) instead of errors only. */
  verbose?: boolean;
  /** Where log lines go (default: standard error). */
  log?: (line: string) => void;
  /**
   * The SQL endpoint's runner (`POST /api/v1/sql`). Without one the route is not mounted.
   * It is meant to be the read-only sandbox of src/query/sandbox.ts.
   */
  sql?: SqlRunner;
  /**
   * The pipelines running in the server's process (`tributary run --serve`, the demos):
   * `/api/v1/pipelines` and their metrics. Without it the list is empty.
   */
  pipelines?: RunningPipelines;
  /**
   * The jobs of a project and their runs (`/api/v1/jobs`); admins start runs. Without it
   * the list is empty. Runs started through the API count in the job metrics.
   */
  jobs?: JobsApiOptions;
  /** HTTP ingest into the topics of a log (`POST /api/v1/topics/{topic}/records`); not mounted without it. */
  ingest?: IngestOptions;
  /** `/metrics` without a token (default: role reader). */
  metricsPublic?: boolean;
  /** Process metrics (CPU, memory, event loop, GC) in `/metrics` (default true). */
  processMetrics?: boolean;
  /** Extra plugins mounted after the built-in routes (the dashboard). */
  plugins?: ServerPlugin[];
}

/**
 * A part of the API mounted by a later piece: `register` is a Fastify plugin; routes it
 * adds declare their role in `config.role` (or `config.public: true`), as the built-in
 * routes do (plugins/auth.ts), and their schemas appear in the OpenAPI document.
 */
export interface ServerPlugin {
  name: string;
  /** Mount point, e.g. `/api/v1` or `/registry`; default the root. */
  prefix?: string;
  register: (app: import('fastify').FastifyInstance) => Promise<void>;
}

export function resolveLimits(given: Partial<ServerLimits> = {}): ServerLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(given)) {
    if (value !== undefined) limits[name as keyof ServerLimits] = value;
  }
  for (const [name, value] of Object.entries(limits)) {
    // A queue of 0: a query that finds every slot taken is refused at once.
    const min = name === 'maxQueuedQueries' ? 0 : 1;
    if (!Number.isInteger(value) || value < min) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `server limit ${name} must be a whole number ≥ ${min}, got ${value}`,
        {
          limit: name,
        },
      );
    }
  }
  return limits;
}

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h) || /^0*:(0*:){6}0*1$/.test(h);
  return false;
}

/** Refuses to serve without authentication on an address other machines may reach. */
export function checkListenAddress(host: string, auth: AuthOptions): void {
  if (auth.mode === 'none' && !isLoopback(host)) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `--no-auth is refused on ${host}: without authentication the server may listen on a loopback address only (127.0.0.1, ::1, localhost); give tokens (--jwt-secret, --jwks-url) to serve other machines`,
      { host },
    );
  }
}
