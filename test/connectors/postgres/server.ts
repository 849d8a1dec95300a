/**
 * Helpers for tests against a real PostgreSQL server.
 *
 * `npm test` (scripts/test.sh) runs scripts/provision/postgres.start.sh, which installs
 * Debian's PostgreSQL when it is absent, starts a throwaway cluster on a free loopback
 * port and sets:
 * - TRIBUTARY_TEST_POSTGRES: the superuser `postgres`, trusted (no password);
 * - TRIBUTARY_TEST_POSTGRES_PASSWORD_URL: the role `tributary` (password `tributary`),
 *   which must give its password, so a wrong one fails with SQLSTATE 28P01;
 * - TRIBUTARY_TEST_PG_BIN: the directory of initdb, pg_ctl, psql and pg_isready.
 *
 * Tests share that server through `freshDatabase` (a database of their own each), and
 * a test that stops, kills or restarts the database takes a private cluster with
 * `startCluster`, so the other tests never see it go away.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../../..');
const startScript = join(root, 'scripts/provision/postgres.start.sh');
const stopScript = join(root, 'scripts/provision/postgres.stop.sh');
const runs = join(root, '.cache/postgres/run');

const env = (name: string): string | undefined => {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
};

/** The shared test server's superuser URL (TRIBUTARY_TEST_POSTGRES), if one runs. */
export function testPostgresUrl(): string | undefined {
  return env('TRIBUTARY_TEST_POSTGRES');
}

/** The shared test server's URL for the role that needs a password. */
export function testPostgresPasswordUrl(): string | undefined {
  return env('TRIBUTARY_TEST_POSTGRES_PASSWORD_URL');
}

/** The directory of the PostgreSQL binaries (TRIBUTARY_TEST_PG_BIN). */
export function pgBin(): string | undefined {
  return env('TRIBUTARY_TEST_PG_BIN');
}

/** The real `psql` client, if the binaries are known and it is there. */
export function psqlPath(): string | undefined {
  const bin = pgBin();
  if (bin === undefined) return undefined;
  const path = join(bin, 'psql');
  return existsSync(path) ? path : undefined;
}

/**
 * Why tests needing the shared server (and, with `binaries`, the binaries for
 * `startCluster` and `psql`) cannot run here, or undefined when they can. Use it as
 * node:test's `skip` reason; in CI (`CI` set) register a failing test instead.
 */
export function postgresMissing(need: { binaries?: boolean } = {}): string | undefined {
  const how = 'run `npm test`, or `eval "$(bash scripts/provision/postgres.start.sh)"` first';
  if (testPostgresUrl() === undefined) return `TRIBUTARY_TEST_POSTGRES is not set; ${how}`;
  if (need.binaries && pgBin() === undefined) return `TRIBUTARY_TEST_PG_BIN is not set; ${how}`;
  return undefined;
}

const withDatabase = (url: string, database: string): string => {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
};

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

export interface FreshDatabase {
  /** The superuser's URL of the new database. */
  url: string;
  /** The password role's URL of it (the role owns the database), when the server has one. */
  passwordUrl: string | undefined;
  name: string;
  /** Drops the database, ending its connections first; a second call does nothing. */
  drop(): Promise<void>;
}

/**
 * Creates a database with a unique name starting with `prefix` (lower-cased, reduced
 * to letters, digits and underscores) on the shared test server, or on `server` (for
 * instance a cluster from `startCluster`). It is owned by the password role when there
 * is one, so both URLs may create schemas and tables in it.
 */
export async function freshDatabase(
  prefix: string,
  server: { url: string; passwordUrl?: string | undefined } | undefined = undefined,
): Promise<FreshDatabase> {
  const url = server?.url ?? testPostgresUrl();
  const passwordUrl = server === undefined ? testPostgresPasswordUrl() : server.passwordUrl;
  if (url === undefined) throw new Error(postgresMissing());
  const stem =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, '_')
      .slice(0, 40) || 'db';
  const name = `${/^[a-z_]/.test(stem) ? '' : 't_'}${stem}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const owner = passwordUrl === undefined ? undefined : decodeURIComponent(new URL(passwordUrl).username);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    // template0: nobody connects to it, so a concurrent session in template1 cannot
    // make CREATE DATABASE fail.
    await admin.query(
      `CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0${owner === undefined ? '' : ` OWNER ${quoteIdent(owner)}`}`,
    );
  } finally {
    await admin.end();
  }
  let dropped = false;
  return {
    url: withDatabase(url, name),
    passwordUrl: passwordUrl === undefined ? undefined : withDatabase(passwordUrl, name),
    name,
    async drop() {
      if (dropped) return;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
        dropped = true;
      } finally {
        await client.end();
      }
    },
  };
}

export interface Cluster {
  /** The superuser's URL (trusted), database `postgres`. */
  url: string;
  /** The password role's URL (`tributary`/`tributary`). */
  passwordUrl: string;
  port: number;
  /** Stops the server (`pg_ctl stop`); connections are refused until `start`. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same port with the same data, and waits until it accepts connections. */
  start(): Promise<void>;
  /** SIGKILLs the postmaster and all its processes at once, as a crash would, and waits until they are gone. */
  kill(): Promise<void>;
  /** Stops the cluster and deletes its files; a second call does nothing. */
  dispose(): Promise<void>;
}

export interface ClusterOptions {
  /** More server settings, e.g. `{ fsync: 'on' }` (it is off by default). */
  settings?: Record<string, string | number | boolean>;
  /** How long start and stop may take, in ms (default 60 s). */
  timeoutMs?: number;
}

const live = new Map<string, string>(); // port → URL of clusters not yet disposed
let exitHookInstalled = false;

/** Stops the clusters a test left running when the process exits (a crash, a forgotten dispose). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const url of live.values()) {
      try {
        execFileSync('bash', [stopScript], {
          env: { ...process.env, TRIBUTARY_TEST_POSTGRES: url },
          stdio: 'ignore',
        });
      } catch {
        // postgres.stop.sh sweeps clusters whose owner is gone on its next run.
      }
    }
  });
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** Runs a PostgreSQL binary as the cluster's owner (`postgres` when we are root). */
async function runAsPostgres(file: string, args: string[], timeoutMs: number): Promise<string> {
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  try {
    const { stdout } = await run(cmd, argv, { cwd: '/', timeout: timeoutMs });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string; stdout?: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${err.stderr || err.stdout || err.message}`.trim());
  }
}

/** The pids whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may hold spaces.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) children.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return children;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a private throwaway cluster (initdb + pg_ctl through
 * scripts/provision/postgres.start.sh, with the binaries of TRIBUTARY_TEST_PG_BIN), for
 * tests that stop, kill and restart the database. It keeps its port across stop and
 * start. postgres.stop.sh removes it once this process is gone, should `dispose` not run.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const bin = pgBin();
  if (bin === undefined) throw new Error(postgresMissing({ binaries: true }));
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const args = [startScript, '--owner', String(process.pid)];
  for (const [name, value] of Object.entries(opts.settings ?? {})) args.push('--set', `${name}=${value}`);
  let stdout: string;
  try {
    ({ stdout } = await run('bash', args, {
      env: {
        ...process.env,
        TRIBUTARY_TEST_PG_BIN: bin,
        POSTGRES_START_TIMEOUT: String(Math.ceil(timeoutMs / 1000)),
      },
      timeout: timeoutMs * 2,
    }));
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`postgres.start.sh failed: ${err.stderr || err.message}`);
  }
  const exported = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line);
    if (m) exported.set(m[1], m[2]);
  }
  const url = exported.get('TRIBUTARY_TEST_POSTGRES');
  const passwordUrl = exported.get('TRIBUTARY_TEST_POSTGRES_PASSWORD_URL');
  if (url === undefined || passwordUrl === undefined)
    throw new Error(`postgres.start.sh printed no URLs: ${stdout}`);
  const port = Number(new URL(url).port);
  // The real path: the folder may be a link to one under /tmp that the server reaches
  // and the link's path it may not.
  const dir = realpathSync(join(runs, String(port)));
  const data = join(dir, 'data');
  const seconds = String(Math.ceil(timeoutMs / 1000));
  live.set(String(port), url);
  installExitHook();

  const waitReady = async (): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await run(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'], {
          timeout: 5_000,
        });
        return;
      } catch {
        if (Date.now() > deadline)
          throw new Error(`PostgreSQL on port ${port} is not ready after ${timeoutMs} ms`);
        await sleep(100);
      }
    }
  };

  const postmasterPid = (): number | undefined => {
    try {
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
    } catch {
      return undefined;
    }
  };

  let disposed = false;
  return {
    url,
    passwordUrl,
    port,
    async stop(mode = 'fast') {
      await runAsPostgres(
        join(bin, 'pg_ctl'),
        ['-D', data, '-m', mode, '-w', '-t', seconds, 'stop'],
        timeoutMs * 2,
      );
    },
    async start() {
      await runAsPostgres(
        join(bin, 'pg_ctl'),
        ['-D', data, '-l', join(dir, 'postgres.log'), '-w', '-t', seconds, 'start'],
        timeoutMs * 2,
      );
      await waitReady();
    },
    async kill() {
      const pid = postmasterPid();
      if (pid === undefined) throw new Error(`PostgreSQL on port ${port} is not running`);
      // All at once: backends outliving their postmaster would keep its shared memory
      // and the next start would refuse to run.
      const victims = [pid, ...childrenOf(pid)];
      for (const p of victims) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      // Until the kernel has reaped them (a zombie postmaster still holds postmaster.pid's pid).
      const deadline = Date.now() + timeoutMs;
      while (victims.some((p) => existsSync(`/proc/${p}`))) {
        if (Date.now() > deadline)
          throw new Error(`PostgreSQL processes ${victims.join(', ')} outlived SIGKILL`);
        await sleep(50);
      }
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      try {
        await run('bash', [stopScript], {
          env: { ...process.env, TRIBUTARY_TEST_POSTGRES: url },
          timeout: 120_000,
        });
      } catch (e) {
        const err = e as Error & { stderr?: string };
        throw new Error(`postgres.stop.sh failed for port ${port}: ${err.stderr || err.message}`);
      }
      live.delete(String(port));
    },
  };
}
