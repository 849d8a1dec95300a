/**
 * `tributary serve`: the HTTP API over a data directory (docs/serving.md) until Ctrl-C
 * or SIGTERM, then a graceful stop: /ready answers 503, requests under way finish.
 * With a log (the data directory's embedded log, or Kafka), HTTP ingest into its topics
 * and the schema registry under /registry. The live dashboard at /ui/ (its dead-letter
 * panels read the log).
 */
import { TributaryError } from '../../core/errors.ts';
import type { Log } from '../../log/log.ts';
import { openLog } from '../../log/open.ts';
import { closeSandbox, configureSandbox, runSandboxedQuery } from '../../query/sandbox.ts';
import { API_PREFIX, createServer, type Server } from '../../server/app.ts';
import { parseTtl } from '../../server/auth/token.ts';
import { DEFAULT_INGEST_BODY_LIMIT } from '../../server/ingest/routes.ts';
import { checkListenAddress, DEFAULT_LIMITS, type ServerPlugin } from '../../server/options.ts';
import { dashboardPlugin } from '../../server/plugins/dashboard.ts';
import { UI_PREFIX } from '../../server/plugins/dashboard-assets.ts';
import { registryPlugin } from '../../server/plugins/registry.ts';
import { openRegistry, type Registry } from '../../server/registry/server.ts';
import { AUTH_OPTIONS, AUTH_USAGE, authFromArgs } from './auth-args.ts';
import { intOption } from './log-args.ts';
import { DEFAULT_DATA_DIR, parseCommand, parseSize } from './options.ts';
import { servedProject } from './serve-jobs.ts';
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
  --metrics-public     /metrics without a token (default: a reader token, like the API)
  --project DIR        the project whose jobs /api/v1/jobs shows and admins may run
                       (default ./project when it holds jobs; a name such as 'orders'
                       is a project shipped with Tributary)

the log (HTTP ingest into its topics, the schema registry under /registry):
  --kafka BROKERS      Kafka (host:port,...; default $TRIBUTARY_KAFKA); else the embedded log
                       of the data directory (DIR/log)
  --no-log             no log: serve tables only (no ingest, no registry)
  --ingest-body-limit SIZE  largest ingest request (default ${DEFAULT_INGEST_BODY_LIMIT / 1024 / 1024}MiB)
  --ingest-in-flight SIZE   ingest bytes held until the log has them; past it 429 (default 64MiB)

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
  'metrics-public': { type: 'boolean' },
  project: { type: 'string' },
  kafka: { type: 'string' },
  'no-log': { type: 'boolean' },
  'ingest-body-limit': { type: 'string' },
  'ingest-in-flight': { type: 'string' },
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
  const bodyLimit = sizeOption('body-limit', values['body-limit']);
  const ingestBodyLimit = sizeOption('ingest-body-limit', values['ingest-body-limit']);
  const ingestInFlight = sizeOption('ingest-in-flight', values['ingest-in-flight']);
  const dataDir = values['data-dir'] ?? (process.env.TRIBUTARY_DATA_DIR || DEFAULT_DATA_DIR);
  const auth = await authFromArgs(values, dataDir);
  // Refused before the log is opened (and its registry topic created).
  checkListenAddress(values.host ?? '127.0.0.1', auth);
  const jobs = await servedProject(values.project, dataDir, (line) => console.error(`tributary: ${line}`));
  const { log, registry, notes } = await openServedLog(values, dataDir);
  const closeLog = async () => {
    await registry?.close();
    await log?.close();
    await jobs.close();
  };
  const plugins: ServerPlugin[] = registry ? [registryPlugin(registry.service)] : [];
  plugins.push(dashboardPlugin({ dataDir, log }));
  const maxQueries = intOption('max-queries', values['max-queries'], 1);
  let server: Server;
  let url: string;
  try {
    server = createServer({
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
      metricsPublic: values['metrics-public'] ?? false,
      ...(log && {
        ingest: { log, bodyLimit: ingestBodyLimit, inFlight: { maxBytes: ingestInFlight } },
      }),
      plugins,
      ...(jobs.project && { jobs: { project: jobs.project } }),
      // POST /api/v1/sql: the read-only sandbox (docs/sql.md, "SQL sandbox"); its worker
      // processes are as many as the queries the server runs at once.
      sql: (req) => runSandboxedQuery(req),
    });
    configureSandbox({ workers: maxQueries ?? DEFAULT_LIMITS.maxConcurrentQueries, warm: false });
    url = await server.start();
  } catch (err) {
    await closeLog();
    throw err;
  }
  console.log(`serving ${dataDir} at ${url}${API_PREFIX}`);
  console.log(`API docs: ${url}/docs`);
  console.log(`dashboard: ${url}${UI_PREFIX}/`);
  if (log) {
    console.log(
      `ingest: POST ${url}${API_PREFIX}/topics/<topic>/records (NDJSON or a JSON array; log ${log.description})`,
    );
  }
  if (registry) console.log(`schema registry: ${url}/registry`);
  if (jobs.project) {
    console.log(
      `jobs: ${url}${API_PREFIX}/jobs (${jobs.project.jobs.length} of ${jobs.project.dir}; admins may run them)`,
    );
  }
  for (const note of notes) console.log(note);
  console.log(`metrics: ${url}/metrics${values['metrics-public'] ? ' (public)' : ' (reader token)'}`);
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
        .then(closeLog)
        .finally(() => {
          closeSandbox();
          remove();
          resolve();
        });
    });
  });
  return 0;
}

function sizeOption(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const size = parseSize(text);
  if (size === undefined || size < 1) {
    throw new TributaryError('CONFIG_INVALID', `--${name} '${text}' is not a size (512KiB, 4MiB)`, {
      option: name,
    });
  }
  return size;
}

/**
 * The log served for ingest, and the schema registry over it: Kafka when named, else the
 * data directory's embedded log (not for a data directory on object storage), unless
 * --no-log. A registry topic that cannot be read leaves the registry out, said so.
 */
async function openServedLog(
  values: { kafka?: string; 'no-log'?: boolean },
  dataDir: string,
): Promise<{ log?: Log; registry?: Registry; notes: string[] }> {
  const notes: string[] = [];
  if (values['no-log']) return { notes };
  const kafka = values.kafka ?? (process.env.TRIBUTARY_KAFKA || undefined);
  if (kafka === undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(dataDir) && !/^file:/i.test(dataDir)) {
    notes.push(
      `no ingest: the data directory ${dataDir} is not local, so it has no embedded log (give --kafka)`,
    );
    return { notes };
  }
  const log = await openLog({ dataDir, kafka, clientId: 'tributary-serve' });
  try {
    return { log, registry: await openRegistry({ log }), notes };
  } catch (err) {
    notes.push(`no schema registry: ${err instanceof Error ? err.message : String(err)}`);
    return { log, notes };
  }
}
