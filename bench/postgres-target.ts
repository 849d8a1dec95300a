/**
 * The PostgreSQL a benchmark writes: a real server given by URL (a fresh database is
 * created on it for the run and dropped afterwards), or the embedded PGlite served on a
 * loopback port (in this process, its data in the run's data directory), with the pool
 * the command-line tool would use for it (4 connections to a server, 1 to PGlite, whose
 * connections only queue into its one session).
 *
 * For a real server on this machine, `serverCpuMs()` sums the CPU time (user + system)
 * of the server processes serving the run's database (its backends, found in
 * pg_stat_activity and read from /proc/<pid>/stat): a backend's times start at zero when
 * it is forked for a connection, and the database is new, so that is the work the run
 * gave the server. The server's shared background processes (WAL writer, checkpointer,
 * background writer) are not counted: other databases use them too. PGlite runs in this
 * process, so `process.cpuUsage()` counts it already.
 */
import { join } from 'node:path';
import { PostgresPool } from '../src/connectors/postgres/client.ts';
import { EmbeddedPostgres } from '../src/connectors/postgres/embedded.ts';
import { freshDatabase } from '../test/connectors/postgres/server.ts';
import { processCpuMs } from './proc.ts';

export interface BenchTarget {
  kind: 'postgres' | 'pglite';
  url: string;
  /** What the server is, for the figures (version, fsync and synchronous_commit settings). */
  describe: string;
  /** The pool the pipeline writes through. */
  pool: PostgresPool;
  /** Runs a statement on a connection of the benchmark's own (not the pipeline's pool). */
  query<R = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<R[]>;
  /** CPU-ms of the server's backends for this database so far; undefined for PGlite or a remote server. */
  serverCpuMs(): Promise<number | undefined>;
  close(): Promise<void>;
}

const isLoopback = (url: string) => ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);

export async function openTarget(opts: { postgres?: string; dataDir: string }): Promise<BenchTarget> {
  if (opts.postgres) {
    const db = await freshDatabase('bench_clickstream', { url: opts.postgres });
    const pool = new PostgresPool(db.url, { max: 4 });
    const own = new PostgresPool(db.url, { max: 1 });
    const query = async <R>(sql: string, values?: unknown[]) => {
      const s = await own.connect();
      try {
        return (await s.query<R>(sql, values)).rows;
      } finally {
        s.release();
      }
    };
    const [{ v, fsync, sc }] = await query<{ v: string; fsync: string; sc: string }>(
      "SELECT split_part(version(), ' ', 2) AS v, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc",
    );
    const ownPid = (await query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0].pid;
    const local = isLoopback(db.url);
    /** Per backend pid, its last CPU reading (a backend that has gone keeps its last one). */
    const seen = new Map<number, number>();
    return {
      kind: 'postgres',
      url: db.url,
      describe: `PostgreSQL ${v} (fsync=${fsync}, synchronous_commit=${sc})`,
      pool,
      query,
      async serverCpuMs() {
        if (!local) return undefined;
        const rows = await query<{ pid: number }>(
          'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> $1',
          [ownPid],
        );
        for (const { pid } of rows) {
          const ms = processCpuMs(pid);
          if (ms !== undefined) seen.set(pid, ms);
        }
        let sum = 0;
        for (const ms of seen.values()) sum += ms;
        return sum;
      },
      async close() {
        await pool.end();
        await own.end();
        await db.drop();
      },
    };
  }
  const embedded = await EmbeddedPostgres.start({ dir: join(opts.dataDir, 'postgres'), port: 0 });
  const pool = new PostgresPool(embedded.url, { max: 1 });
  const own = new PostgresPool(embedded.url, { max: 1 });
  const query = async <R>(sql: string, values?: unknown[]) => {
    const s = await own.connect();
    try {
      return (await s.query<R>(sql, values)).rows;
    } finally {
      s.release();
    }
  };
  const [{ v }] = await query<{ v: string }>("SELECT split_part(version(), ' ', 2) AS v");
  return {
    kind: 'pglite',
    url: embedded.url,
    describe: `embedded PGlite (PostgreSQL ${v} in WebAssembly, in this process)`,
    pool,
    query,
    serverCpuMs: async () => undefined,
    async close() {
      await pool.end();
      await own.end();
      await embedded.stop();
    },
  };
}
