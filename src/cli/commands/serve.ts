/**
 * `tributary serve`: the HTTP API over a data directory (docs/serving.md) until Ctrl-C
 * or SIGTERM, then a graceful stop: /ready answers 503, requests under way finish.
 */
import { existsSync } from 'node:fs';
import { TributaryError } from '../../core/errors.ts';
import { EmbeddedLog, embeddedLogDir } from '../../log/embedded/embedded-log.ts';
import { closeSandbox, configureSandbox, runSandboxedQuery } from '../../query/sandbox.ts';
import { API_PREFIX, createServer } from '../../server/app.ts';
import { parseTtl } from '../../server/auth/token.ts';
import { DEFAULT_LIMITS } from '../../server/options.ts';
import { dashboardPlugin } from '../../server/plugins/dashboard.ts';
import { UI_PREFIX } from '../../server/plugins/dashboard-assets.ts';
import { AUTH_OPTIONS, AUTH_USAGE, authFromArgs } from './auth-args.ts';
import { intOption } from './log-args.ts';
import { DEFAULT_DATA_DIR, parseCommand, parseSize } from './options.ts';
import { onStopSignals } from './stop-signals.ts';

const USAGE = `usage: tributary serve [--port 8080] [--host 127.0.0.1] [--data-dir DIR] [options]

Serves the tables of a data directory over HTTP: a REST API with OpenAPI (the
interactive page at /docs), JWT bearer tokens with roles, health and readiness
probes, and the live dashboard at /ui/. Runs until Ctrl-C.

options:
  --port N             the port (default 8080; 0 picks a free one)
  --host H             the address (default 127.0.0.1; 0.0.0.0 for every interface)
  --data-dir DIR       where named tables live (default: $TRIBUTARY_DATA_DIR or ${DEFAULT_DATA_DIR})
  --verbose            log one line per request (default: server errors only)
  --body-limit SIZE    largest request body (default 1MiB)
  --request-timeout T  longest a request may take (default ${DEFAULT_LIMITS.requestTimeoutMs / 1000}s; 90s, 2m)
  --max-queries N      queries run at once (default ${DEFAULT_LIMITS.maxConcurrentQueries}); more wait, up to ${DEFAULT_LIMITS.maxQueuedQueries}

${AUTH_USAGE}

  -h, --help           show this help`;

const OPTIONS = {
  ...AUTH_OPTIONS,
  port: { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  verbose: { type: 'boolean' },
  'body-limit': { type: 'string' },
  'request-timeout': { type: 'string' },
  'max-queries': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(USAGE, OPTIONS, args);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 0) {
    console.error(`tributary serve: unexpected argument '${positionals[0]}'\n\n${USAGE}`);
    return 2;
  }
  const port = intOption('port', values.port, 0) ?? 8080;
  if (port > 65535) {
    throw new TributaryError('CONFIG_INVALID', `--port must be at most 65535, got ${port}`, {
      option: 'port',
    });
  }
  let bodyLimit: number | undefined;
  if (values['body-limit'] !== undefined) {
    bodyLimit = parseSize(values['body-limit']);
    if (bodyLimit === undefined || bodyLimit < 1) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `--body-limit '${values['body-limit']}' is not a size (512KiB, 4MiB)`,
        {},
      );
    }
  }
  const dataDir = values['data-dir'] ?? (process.env.TRIBUTARY_DATA_DIR || DEFAULT_DATA_DIR);
  const auth = await authFromArgs(values, dataDir);
  const maxQueries = intOption('max-queries', values['max-queries'], 1);
  // The embedded log, read only (its dead-letter topics for the dashboard), when there is one.
  const logDir = embeddedLogDir(dataDir);
  const log = existsSync(logDir) ? new EmbeddedLog({ dir: logDir }) : undefined;
  const server = createServer({
    dataDir,
    host: values.host,
    port,
    auth,
    verbose: values.verbose ?? false,
    limits: {
      bodyLimit,
      requestTimeoutMs:
        values['request-timeout'] === undefined ? undefined : parseTtl(values['request-timeout']) * 1000,
      maxConcurrentQueries: maxQueries,
    },
    // POST /api/v1/sql: the read-only sandbox (docs/sql.md, "SQL sandbox"); its worker
    // processes are as many as the queries the server runs at once.
    sql: (req) => runSandboxedQuery(req),
    plugins: [dashboardPlugin({ dataDir, log })],
  });
  configureSandbox({ workers: maxQueries ?? DEFAULT_LIMITS.maxConcurrentQueries, warm: false });
  let url: string;
  try {
    url = await server.start();
  } catch (err) {
    await log?.close();
    throw err;
  }
  console.log(`serving ${dataDir} at ${url}${API_PREFIX}`);
  console.log(`API docs: ${url}/docs`);
  console.log(`dashboard: ${url}${UI_PREFIX}/`);
  if (auth.mode === 'none') {
    console.log('authentication: none (--no-auth); anyone who can reach this address has every role');
  } else {
    console.log(`authentication: bearer tokens, ${auth.verifier.description}`);
    console.log(`a token: tributary token create --role reader --data-dir ${dataDir}`);
  }
  console.log('Ctrl-C stops it');
  await new Promise<void>((resolve) => {
    const remove = onStopSignals(() => {
      console.error('stopping: answering the requests under way');
      void server
        .stop()
        .then(() => log?.close())
        .finally(() => {
          closeSandbox();
          remove();
          resolve();
        });
    });
  });
  return 0;
}
