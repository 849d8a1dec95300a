/**
 * The server inside a command that runs pipelines (`tributary run --serve`, every
 * `tributary demo`): the same API as `tributary serve` over the command's data
 * directory, plus its running pipelines (`/api/v1/pipelines`, `/metrics`) and HTTP
 * ingest into its log, and the live dashboard at /ui/. One process: the server sees the
 * pipelines' own counters.
 */
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import type { Log } from '../../log/log.ts';
import { closeSandbox, configureSandbox, runSandboxedQuery } from '../../query/sandbox.ts';
import { API_PREFIX, createServer, type Server } from '../../server/app.ts';
import type { JobsApiOptions } from '../../server/jobs/routes.ts';
import type { ServerPlugin } from '../../server/options.ts';
import type { RunningPipelines } from '../../server/pipelines/registry.ts';
import { dashboardPlugin } from '../../server/plugins/dashboard.ts';
import { UI_PREFIX } from '../../server/plugins/dashboard-assets.ts';
import { AUTH_OPTIONS, AUTH_USAGE, type AuthValues, authFromArgs } from './auth-args.ts';
import { intOption } from './log-args.ts';

export const SERVE_BESIDE_OPTIONS = {
  ...AUTH_OPTIONS,
  host: { type: 'string' },
  'metrics-public': { type: 'boolean' },
} as const;

export const SERVE_BESIDE_USAGE = `serving (docs/serving.md):
  --host H             the server's address (default 127.0.0.1)
  --metrics-public     /metrics without a token (for a Prometheus scraper)
${AUTH_USAGE.split('\n').slice(1).join('\n')}`;

export type ServeBesideValues = AuthValues & { host?: string; 'metrics-public'?: boolean };

/**
 * `--serve [PORT]` with its port optional: `--serve` alone, or followed by something that
 * is not a port number, becomes `--serve=<fallback>`.
 */
export function optionalPortArg(args: readonly string[], flag: string, fallback: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a !== flag) {
      out.push(a);
      continue;
    }
    const next = args[i + 1];
    if (next !== undefined && /^\d+$/.test(next)) {
      out.push(`${flag}=${next}`);
      i++;
    } else out.push(`${flag}=${fallback}`);
  }
  return out;
}

/** A port option's value (0 to 65535), or undefined. */
export function portOption(name: string, text: string | undefined): number | undefined {
  const port = intOption(name, text, 0);
  if (port !== undefined && port > 65535) {
    throw new TributaryError('CONFIG_INVALID', `--${name} must be a port (0 to 65535), got ${port}`, {
      option: name,
    });
  }
  return port;
}

export interface ServeBesideOptions {
  dataDir: string;
  log: Log;
  pipelines: RunningPipelines;
  values: ServeBesideValues;
  port: number;
  /** When the port is taken, serve on a free one instead (the demos), saying so. */
  orFreePort?: boolean;
  /** More plugins (a scenario's dashboard). */
  plugins?: ServerPlugin[];
  /** The jobs of the command's project (`run --project`, `demo clickstream`) at /api/v1/jobs. */
  jobs?: JobsApiOptions;
  say: (line: string) => void;
}

export interface ServingBeside {
  readonly url: string;
  readonly server: Server;
  stop(): Promise<void>;
}

function portTaken(err: unknown): boolean {
  return (
    isTributaryError(err, 'CONFIG_INVALID') && (err.cause as NodeJS.ErrnoException)?.code === 'EADDRINUSE'
  );
}

export async function serveBeside(opts: ServeBesideOptions): Promise<ServingBeside> {
  const { values } = opts;
  const auth = await authFromArgs(values, opts.dataDir);
  // The dashboard's live panels read the pipelines running here; its DLQ panels the log.
  const dashboard = dashboardPlugin({
    dataDir: opts.dataDir,
    log: opts.log,
    pipelines: () =>
      opts.pipelines
        .list()
        .filter((p) => p.state === 'starting' || p.state === 'running')
        .map((p) => ({ name: p.name, metrics: p.metrics })),
  });
  const make = (port: number) =>
    createServer({
      dataDir: opts.dataDir,
      host: values.host,
      port,
      auth,
      pipelines: opts.pipelines,
      ingest: { log: opts.log },
      metricsPublic: values['metrics-public'] ?? false,
      plugins: [...(opts.plugins ?? []), dashboard],
      ...(opts.jobs && { jobs: opts.jobs }),
      // POST /api/v1/sql through the read-only sandbox (its workers start on the first query).
      sql: (req) => runSandboxedQuery(req),
    });
  let server = make(opts.port);
  let url: string;
  try {
    url = await server.start();
  } catch (err) {
    if (!opts.orFreePort || !portTaken(err)) throw err;
    server = make(0);
    url = await server.start();
    opts.say(`port ${opts.port} is taken: serving on ${new URL(url).port} instead`);
  }
  opts.say(
    `serving at ${url}: API ${url}${API_PREFIX} (docs ${url}/docs), pipelines ${url}${API_PREFIX}/pipelines, metrics ${url}/metrics`,
  );
  opts.say(`dashboard: ${url}${UI_PREFIX}/`);
  if (auth.mode === 'none') opts.say('authentication: none (--no-auth)');
  else opts.say(`a token: tributary token create --role reader --data-dir ${opts.dataDir}`);
  configureSandbox({ workers: 2, warm: false });
  return {
    url,
    server,
    stop: async () => {
      await server.stop();
      closeSandbox();
    },
  };
}
