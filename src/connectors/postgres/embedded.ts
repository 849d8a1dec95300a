/**
 * The embedded PostgreSQL: PGlite (PostgreSQL compiled to WebAssembly, in this process,
 * its data in the data directory) served on the PostgreSQL wire protocol on a loopback
 * port, so that sinks write it through the same client as a real server and `psql`,
 * Grafana or any BI tool read it while a pipeline runs.
 *
 * PGlite runs one session: the socket server queues every client's statements into it,
 * and while one client has a transaction open the others wait (sinks keep theirs short;
 * a client left idle in a transaction stalls the pipeline — docs/postgres.md).
 *
 * One process at a time may open a data directory's database (a lock file beside it).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import { acquireLock, type HeldLock } from '../../log/embedded/lock.ts';

export interface EmbeddedPostgresOptions {
  /** The database's directory (DATA_DIR/postgres). */
  dir: string;
  /** Loopback address served (default 127.0.0.1). */
  host?: string;
  /** Port (default 5433); 0: any free port. */
  port?: number;
  /** When the port is taken, serve on a free one instead of failing (default false). */
  anyPortIfBusy?: boolean;
  /** Client connections at once (default 32). */
  maxConnections?: number;
}

export const DEFAULT_EMBEDDED_PORT = 5433;

export class EmbeddedPostgres {
  readonly dir: string;
  readonly host: string;
  readonly port: number;
  private readonly db: PGlite;
  private readonly server: PGLiteSocketServer;
  private readonly lock: HeldLock;

  private constructor(
    dir: string,
    host: string,
    port: number,
    db: PGlite,
    server: PGLiteSocketServer,
    lock: HeldLock,
  ) {
    this.dir = dir;
    this.host = host;
    this.port = port;
    this.db = db;
    this.server = server;
    this.lock = lock;
  }

  /** Opens (or creates) the database in `dir` and serves it. */
  static async start(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    const host = opts.host ?? '127.0.0.1';
    if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `the embedded PostgreSQL serves loopback addresses only (127.0.0.1, ::1), not '${host}': it has no authentication`,
      );
    }
    mkdirSync(opts.dir, { recursive: true });
    let lock: HeldLock;
    try {
      lock = acquireLock(join(opts.dir, '..', 'postgres.lock'), `the embedded PostgreSQL at ${opts.dir}`, {});
    } catch (err) {
      if (!isTributaryError(err, 'LOG_LOCKED')) throw err;
      const holder = err.details.pid === undefined ? 'another process' : `process ${err.details.pid}`;
      throw new TributaryError(
        'POSTGRES_EMBEDDED_IN_USE',
        `the embedded PostgreSQL at ${opts.dir} is open in ${holder} (a tributary run or demo on the same data directory), ` +
          'and one process at a time may open it: stop that process, or give this one another --data-dir. ' +
          'To read its tables meanwhile, connect to the URL that process printed when it started (psql -h 127.0.0.1 -p PORT -U postgres postgres)',
        { dir: opts.dir },
      );
    }
    let db: PGlite | undefined;
    try {
      db = await PGlite.create({ dataDir: opts.dir });
      const listen = async (port: number) => {
        const server = new PGLiteSocketServer({
          db: db!,
          host,
          port,
          maxConnections: opts.maxConnections ?? 32,
        });
        await server.start();
        return server;
      };
      let server: PGLiteSocketServer;
      const port = opts.port ?? DEFAULT_EMBEDDED_PORT;
      try {
        server = await listen(port);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        if (!opts.anyPortIfBusy) {
          throw new TributaryError(
            'CONFIG_INVALID',
            `port ${port} on ${host} is in use: give the embedded PostgreSQL another one (--postgres-port), or 0 for any free port`,
          );
        }
        server = await listen(0);
      }
      const actual = Number(server.getServerConn().split(':').pop());
      return new EmbeddedPostgres(opts.dir, host, actual, db, server, lock);
    } catch (err) {
      await db?.close().catch(() => {});
      lock.release();
      throw err;
    }
  }

  /** The URL clients connect with (no password: loopback only). */
  get url(): string {
    const h = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `postgres://postgres@${h}:${this.port}/postgres`;
  }

  /** A `psql` command line that connects to it. */
  get psql(): string {
    return `psql -h ${this.host} -p ${this.port} -U postgres postgres`;
  }

  async stop(): Promise<void> {
    try {
      await this.server.stop();
      await this.db.close();
    } finally {
      this.lock.release();
    }
  }
}
