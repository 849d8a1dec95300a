/**
 * The PostgreSQL test helpers (server.ts) against the real server that
 * scripts/provision/postgres.start.sh starts: databases of their own, the password
 * role, a private cluster that stops, crashes and comes back with its data, and the
 * real `psql` client.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  type Cluster,
  freshDatabase,
  postgresMissing,
  psqlPath,
  startCluster,
  testPostgresPasswordUrl,
  testPostgresUrl,
} from './server.ts';

const run = promisify(execFile);
const clusterRuns = resolve(import.meta.dirname, '../../../.cache/postgres/run');

const missing = postgresMissing({ binaries: true });
if (missing !== undefined && process.env.CI) {
  test('a PostgreSQL server for the PostgreSQL tests', () => {
    throw new Error(`${missing} (in CI, scripts/test.sh must start it)`);
  });
}

/** Runs `fn` with a connected client and ends it. */
async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The error a connection attempt fails with (and fails the test if it succeeds). */
async function connectError(url: string): Promise<Error & { code?: string }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (e) {
    return e as Error & { code?: string };
  }
  await client.end();
  assert.fail(`connecting to ${url} succeeded`);
}

describe('PostgreSQL test server', { skip: missing ?? false, timeout: 120_000 }, () => {
  test('freshDatabase creates a database of its own, both roles use it, drop removes it', async () => {
    const db = await freshDatabase('Server Test-1');
    assert.match(db.name, /^server_test_1_[a-z0-9]+_[0-9a-f]{6}$/);
    const other = await freshDatabase('server_test');
    assert.notEqual(other.name, db.name);
    await other.drop();

    await withClient(db.url, async (c) => {
      const { rows } = await c.query('SELECT current_database() AS db, current_user AS who');
      assert.deepEqual(rows, [{ db: db.name, who: 'postgres' }]);
    });
    // The password role owns it: it creates a schema and a table and writes rows.
    assert.ok(db.passwordUrl);
    await withClient(db.passwordUrl, async (c) => {
      await c.query('CREATE SCHEMA realtime');
      await c.query('CREATE TABLE realtime.t (k int PRIMARY KEY, v text)');
      await c.query("INSERT INTO realtime.t VALUES (1, 'a'), (2, 'b')");
    });
    // A connection left open does not stop drop (WITH (FORCE) ends it).
    const lingering = new pg.Client({ connectionString: db.url });
    lingering.on('error', () => {});
    await lingering.connect();
    const seen = await lingering.query('SELECT count(*)::int AS n FROM realtime.t');
    assert.equal(seen.rows[0].n, 2);

    await db.drop();
    await db.drop(); // a second drop does nothing
    await lingering.end().catch(() => {});
    const url = testPostgresUrl();
    assert.ok(url);
    await withClient(url, async (c) => {
      const { rows } = await c.query('SELECT count(*)::int AS n FROM pg_database WHERE datname = $1', [
        db.name,
      ]);
      assert.equal(rows[0].n, 0);
    });
    const err = await connectError(db.url);
    assert.equal(err.code, '3D000', `expected "database does not exist", got ${err.code}: ${err.message}`);
  });

  test('the password role is refused with a wrong password (28P01) and accepted with the right one', async () => {
    const good = testPostgresPasswordUrl();
    assert.ok(good, 'TRIBUTARY_TEST_POSTGRES_PASSWORD_URL is set with TRIBUTARY_TEST_POSTGRES');
    const wrong = new URL(good);
    wrong.password = 'not-the-password';
    const err = await connectError(wrong.toString());
    assert.equal(err.code, '28P01', `expected invalid_password, got ${err.code}: ${err.message}`);
    assert.match(err.message, /password authentication failed for user "tributary"/);

    const who = await withClient(good, async (c) => (await c.query('SELECT current_user AS u')).rows[0].u);
    assert.equal(who, 'tributary');
    // Not a superuser: what it may do, it was granted.
    const superuser = await withClient(
      good,
      async (c) =>
        (await c.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).rows[0].rolsuper,
    );
    assert.equal(superuser, false);
  });

  test('psql, the real client, runs a statement against the server', async () => {
    const psql = psqlPath();
    assert.ok(psql, 'psql is in TRIBUTARY_TEST_PG_BIN');
    const db = await freshDatabase('server_psql');
    try {
      await withClient(db.url, (c) => c.query("CREATE TABLE t AS SELECT 'from pg' AS src"));
      const { stdout } = await run(psql, [db.url, '-X', '-A', '-t', '-c', 'SELECT src FROM t']);
      assert.equal(stdout.trim(), 'from pg');
      // And through the password role.
      assert.ok(db.passwordUrl);
      const viaPassword = await run(psql, [db.passwordUrl, '-X', '-A', '-t', '-c', 'SELECT current_user']);
      assert.equal(viaPassword.stdout.trim(), 'tributary');
    } finally {
      await db.drop();
    }
  });

  describe('startCluster: a database that goes away mid-run', () => {
    let cluster: Cluster | undefined;
    after(async () => {
      await cluster?.dispose();
    });

    test('stop refuses connections, start brings it back on the same port with its data; so does a SIGKILL', async () => {
      cluster = await startCluster();
      const c = cluster;
      assert.equal(new URL(c.url).port, String(c.port));
      assert.notEqual(c.url, testPostgresUrl(), 'a cluster of its own, not the shared server');
      await withClient(c.url, async (client) => {
        await client.query('CREATE TABLE kept (k int PRIMARY KEY)');
        await client.query('INSERT INTO kept SELECT generate_series(1, 100)');
      });

      // A client connected while the server stops sees its connection end.
      const connected = new pg.Client({ connectionString: c.url });
      const ended = new Promise<Error>((resolve) => connected.on('error', resolve));
      await connected.connect();
      await c.stop();
      // pg reports the end of the socket ("Connection terminated unexpectedly"), or the
      // server's FATAL 57P01 (admin shutdown) when it reads that first.
      const lost = (await ended) as Error & { code?: string };
      assert.ok(
        lost.code === '57P01' || /terminated/.test(lost.message),
        `connection ended: ${lost.message}`,
      );
      await connected.end().catch(() => {});

      const refused = await connectError(c.url);
      assert.equal(
        refused.code,
        'ECONNREFUSED',
        `refused while stopped, got ${refused.code}: ${refused.message}`,
      );

      await c.start();
      assert.equal(
        await withClient(
          c.url,
          async (client) => (await client.query('SELECT count(*)::int AS n FROM kept')).rows[0].n,
        ),
        100,
      );

      // A crash: committed rows survive, the server recovers on start.
      await withClient(c.url, (client) => client.query('INSERT INTO kept SELECT generate_series(101, 150)'));
      const doomed = new pg.Client({ connectionString: c.url });
      const broken = new Promise<Error>((resolve) => doomed.on('error', resolve));
      await doomed.connect();
      await c.kill();
      await broken;
      await doomed.end().catch(() => {});
      assert.equal((await connectError(c.url)).code, 'ECONNREFUSED');
      await c.start();
      const rows = await withClient(c.url, async (client) => {
        const r = await client.query('SELECT count(*)::int AS n, max(k) AS top FROM kept');
        return r.rows[0];
      });
      assert.deepEqual(rows, { n: 150, top: 150 });

      // The password role exists there too.
      const wrong = new URL(c.passwordUrl);
      wrong.password = 'nope';
      const err = await connectError(wrong.toString());
      assert.equal(err.code, '28P01');
      await withClient(c.passwordUrl, (client) => client.query('SELECT 1'));

      // psql against the private cluster.
      const psql = psqlPath();
      assert.ok(psql);
      const { stdout } = await run(psql, [c.url, '-X', '-A', '-t', '-c', 'SELECT count(*) FROM kept']);
      assert.equal(stdout.trim(), '150');

      await c.dispose();
      assert.equal((await connectError(c.url)).code, 'ECONNREFUSED');
      assert.equal(existsSync(join(clusterRuns, String(c.port))), false, 'dispose removes its files');
    });
  });
});
