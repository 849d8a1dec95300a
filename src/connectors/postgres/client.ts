/**
 * Connections to PostgreSQL: a node-postgres pool behind a narrow interface (so tests can
 * put a fault-injecting wrapper in front of a real server), the connection URL checked and
 * shown without its password, every failure mapped to the error catalog (errors.ts).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { TributaryError } from '../../core/errors.ts';
import { postgresError } from './errors.ts';

export interface QueryResult<R> {
  rows: R[];
  rowCount: number | null;
}

/** One connection, checked out of the pool. */
export interface PgSession {
  /** Runs one statement; with `name`, as a prepared statement (parsed once per connection). */
  query<R = Record<string, unknown>>(
    text: string,
    values?: unknown[],
    name?: string,
  ): Promise<QueryResult<R>>;
  /** Gives the connection back; `broken`: close it (after an error its state is unknown). */
  release(broken?: boolean): void;
}

export interface PgConnector {
  /** host:port/database, without the password: for messages. */
  readonly target: string;
  /** The server is PGlite (known after the first connection): one session shared by every client. */
  readonly pglite?: boolean;
  connect(): Promise<PgSession>;
  end(): Promise<void>;
}

export interface PostgresOptions {
  /** Connections at most (default 4). */
  max?: number;
  /** Shown in `pg_stat_activity` (default `tributary`). */
  applicationName?: string;
  /** Give up connecting after this long (default 10 s): the server is then unavailable. */
  connectTimeoutMs?: number;
  /** Give up on a statement's answer after this long (default 5 minutes). */
  queryTimeoutMs?: number;
}

/**
 * `url` as it may be shown: the password (also one given as `?password=`) replaced by
 * `***`. A string that is not a URL is shown with everything between the user and the
 * last `@` hidden (a password with an unescaped `/` or `#` makes the URL unparseable, and
 * must not be printed either); one that may hold a password otherwise is not shown.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) {
      if (/pass/i.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString().replaceAll('%2A%2A%2A', '***');
  } catch {
    const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^:@/]*)(?::.*)?@([^@]*)$/s.exec(url);
    if (m && !/pass/i.test(m[3])) return `${m[1]}${m[2]}:***@${m[3]}`;
    return /[@=]|pass/i.test(url) ? '(not shown: it may hold a password)' : url;
  }
}

const decoded = (text: string): string => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

const EXPECTED = 'expected a URL: postgres://user:password@host:port/database';

/** Checks a connection URL; returns its target (host:port/database) for messages. */
export function checkUrl(url: string): string {
  if (/^\s*[a-z_]+\s*=/i.test(url)) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `the PostgreSQL connection is a key=value string (host=... dbname=...), which is not read here (not shown: it may hold a password); ${EXPECTED}`,
    );
  }
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)) {
    throw new TributaryError('CONFIG_INVALID', `'${redactUrl(url)}' is not a PostgreSQL URL; ${EXPECTED}`);
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TributaryError(
      'CONFIG_INVALID',
      `'${redactUrl(url)}' is not a PostgreSQL URL; ${EXPECTED}, ` +
        'with a port from 1 to 65535 and the characters / # ? @ of a password percent-encoded (/ as %2F)',
    );
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new TributaryError(
      'CONFIG_INVALID',
      `'${redactUrl(url)}' is not a PostgreSQL URL (its scheme is '${u.protocol.replace(/:$/, '')}'); ${EXPECTED}`,
    );
  }
  const db = decoded(u.pathname.replace(/^\//, '')) || decoded(u.username) || 'postgres';
  return `${u.hostname || 'localhost'}:${u.port || '5432'}/${db}`;
}

/**
 * node-postgres' client, closing its socket when connecting fails. A failure on the
 * client's side during the login (a password the server asks for and the URL lacks)
 * leaves the socket open until the server's authentication timeout (a minute): the pool
 * drops the client without ending it, and the process cannot exit meanwhile.
 */
type ConnectCallback = ((err: Error) => void) | ((err: null, c: pg.Client) => void);

class Client extends pg.Client {
  override connect(): Promise<pg.Client>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.Client> | undefined {
    if (callback === undefined) {
      return super.connect().catch((err: unknown) => {
        this.end().catch(() => {});
        throw err;
      });
    }
    super.connect(((err: Error | null, c: pg.Client) => {
      if (err) this.end().catch(() => {});
      (callback as (err: Error | null, c: pg.Client) => void)(err, c);
    }) as ConnectCallback);
    return undefined;
  }
}

/** A short, stable statement name for `text` (prepared statements are per connection). */
export function statementName(prefix: string, text: string): string {
  return `${prefix}_${createHash('sha1').update(text).digest('hex').slice(0, 12)}`;
}

/** A pool of connections to one database. */
export class PostgresPool implements PgConnector {
  readonly target: string;
  readonly url: string;
  private readonly pool: pg.Pool;
  /**
   * PGlite behind a socket server runs every client in one session, so a statement
   * prepared by one connection exists for all: named statements would clash. Known from
   * `version()` on the first connection; statements are then sent unnamed.
   */
  pglite?: boolean;

  constructor(url: string, opts: PostgresOptions = {}) {
    this.target = checkUrl(url);
    this.url = url;
    this.pool = new pg.Pool({
      Client,
      connectionString: url,
      max: opts.max ?? 4,
      application_name: opts.applicationName ?? 'tributary',
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      query_timeout: opts.queryTimeoutMs ?? 300_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
    });
    // An idle connection the server closed (a restart): the pool drops it; the next
    // checkout connects anew. Without a listener the error would end the process.
    this.pool.on('error', () => {});
  }

  async connect(): Promise<PgSession> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw postgresError(err, this.target, 'connecting');
    }
    // A connection that breaks while checked out reports through the client; without a
    // listener it would end the process. The statement in flight fails and says why.
    const onError = () => {};
    client.on('error', onError);
    if (this.pglite === undefined) {
      try {
        const { rows } = await client.query<{ v: string }>('SELECT version() AS v');
        this.pglite = rows[0].v.includes('PGlite');
      } catch (err) {
        client.off('error', onError);
        client.release(true);
        throw postgresError(err, this.target, 'connecting');
      }
    }
    const named = !this.pglite;
    return {
      query: async <R>(text: string, values?: unknown[], name?: string) => {
        const res = await client.query(name && named ? { name, text, values } : { text, values });
        return { rows: res.rows as R[], rowCount: res.rowCount };
      },
      release: (broken = false) => {
        client.off('error', onError);
        client.release(broken);
      },
    };
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}
