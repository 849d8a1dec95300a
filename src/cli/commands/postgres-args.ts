/**
 * Where a pipeline's `postgres` sinks write, from the command line: a server given by URL
 * (`--postgres`, or $TRIBUTARY_POSTGRES), else the embedded PostgreSQL of the data
 * directory (DATA_DIR/postgres), served on a loopback port so other clients can read it.
 */
import { join } from 'node:path';
import { PostgresPool, redactUrl } from '../../connectors/postgres/client.ts';
import { DEFAULT_EMBEDDED_PORT, EmbeddedPostgres } from '../../connectors/postgres/embedded.ts';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import { intOption } from './log-args.ts';

export const POSTGRES_OPTIONS = {
  postgres: { type: 'string' },
  'postgres-port': { type: 'string' },
} as const;

export const POSTGRES_OPTIONS_USAGE = `PostgreSQL (for pipelines with postgres sinks):
  --postgres URL         write this server: postgres://user:password@host:port/database
                         (default: $TRIBUTARY_POSTGRES; neither: the embedded PostgreSQL)
  --postgres-port PORT   the embedded PostgreSQL (DATA_DIR/postgres) serves 127.0.0.1:PORT
                         (default ${DEFAULT_EMBEDDED_PORT}, or a free port if that one is taken; 0: any free port)`;

export interface OpenedPostgres {
  pool: PostgresPool;
  /** The embedded server, when no URL was given. */
  embedded?: EmbeddedPostgres;
  /** For messages: the URL without its password. */
  describe: string;
  close(): Promise<void>;
}

export function writesPostgres(def: PipelineDefinition): boolean {
  return def.sinks.some((s) => s.type === 'postgres');
}

/**
 * Connects once before anything else is opened, so a wrong URL, user, password or
 * database stops the command at once, with nothing created. A server that cannot be
 * reached at start is not waited for either: one never reached is most often a wrong host
 * or port, and waiting would hide that. (Once the pipeline runs, a database that goes
 * away is waited for: the runtime retries POSTGRES_UNAVAILABLE without limit.)
 */
async function reachable(pool: PostgresPool, shown: string): Promise<void> {
  try {
    (await pool.connect()).release();
  } catch (err) {
    await pool.end().catch(() => {});
    if (!isTributaryError(err, 'POSTGRES_UNAVAILABLE')) throw err;
    throw new TributaryError(
      'POSTGRES_UNAVAILABLE',
      `${err.message}. Nothing was started: check that the server runs and accepts connections at the host and port of ${shown}. ` +
        '(A pipeline that has started waits for its database when it goes away; at start it does not.)',
      err.details,
      err,
    );
  }
}

/** Opens the database a pipeline's postgres sinks write; undefined when it has none. */
export async function openPostgresFromArgs(
  def: PipelineDefinition,
  values: { postgres?: string; 'postgres-port'?: string },
  dataDir: string,
  say: (line: string) => void = (l) => console.error(l),
): Promise<OpenedPostgres | undefined> {
  if (!writesPostgres(def)) return undefined;
  return openPostgres(values, dataDir, say);
}

/** Opens the database: --postgres URL, else $TRIBUTARY_POSTGRES, else the data directory's embedded one. */
export async function openPostgres(
  values: { postgres?: string; 'postgres-port'?: string },
  dataDir: string,
  say: (line: string) => void = (l) => console.error(l),
): Promise<OpenedPostgres> {
  const url = values.postgres ?? process.env.TRIBUTARY_POSTGRES;
  if (url) {
    const pool = new PostgresPool(url, { max: 4 });
    await reachable(pool, redactUrl(url));
    return { pool, describe: redactUrl(url), close: () => pool.end() };
  }
  return openEmbeddedPostgres(values, dataDir, say);
}

/** Starts the data directory's embedded PostgreSQL (DATA_DIR/postgres) and opens a pool on it. */
export async function openEmbeddedPostgres(
  values: { 'postgres-port'?: string },
  dataDir: string,
  say: (line: string) => void = (l) => console.error(l),
): Promise<OpenedPostgres> {
  const port = intOption('postgres-port', values['postgres-port']);
  const dir = join(dataDir, 'postgres');
  say(
    `tributary: starting the embedded PostgreSQL at ${dir} (its first start creates the database: a few seconds)`,
  );
  const embedded = await EmbeddedPostgres.start({
    dir,
    port: port ?? DEFAULT_EMBEDDED_PORT,
    anyPortIfBusy: port === undefined,
  });
  say(`tributary: embedded PostgreSQL serving ${embedded.url}  —  connect with: ${embedded.psql}`);
  // PGlite runs one session: more connections only queue.
  const pool = new PostgresPool(embedded.url, { max: 1 });
  return {
    pool,
    embedded,
    describe: embedded.url,
    close: async () => {
      await pool.end();
      await embedded.stop();
    },
  };
}
