/**
 * A user gives the PostgreSQL connector bad input, through `tributary run clickstream
 * --postgres URL` as they would: a string that is not a URL, another scheme, a password
 * that breaks the URL, a server that is not there, a database that does not exist, a
 * wrong or missing password, and realtime tables that exist with columns the sinks cannot
 * write. Each must stop the command at once with its error code, the documented exit code
 * and a message that says what to do — never printing the password — and leave nothing
 * written: no rows, no progress, no bronze commit. A table that is compatible (wider
 * types, extra nullable columns, a unique index for the key) is written, exactly.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openLog } from '../../../src/log/open.ts';
import { pythonSkip } from '../../interop/helpers.ts';
import { readTopic } from '../../scenarios/orders-oracle.ts';
import { type Finished, runCli } from './cli.ts';
import { assertOutputs, TrackedProducer } from './clickstream-truth.ts';
import { freshDatabase, postgresMissing, testPostgresPasswordUrl, testPostgresUrl } from './server.ts';

const skip = postgresMissing() ?? pythonSkip();

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A data directory whose `user-events` topic holds `n` clickstream records. */
async function dataDirWithRecords(n: number, seed: number) {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-pg-bad-'));
  dirs.push(dir);
  const log = await openLog({ dataDir: dir });
  const producer = new TrackedProducer(log, seed);
  await producer.produce(n);
  await log.close();
  return { dir, kinds: producer.kinds };
}

/** Nothing of the pipeline's output exists in `dir`: no bronze commit, no DLQ record. */
async function assertNothingWritten(dir: string): Promise<void> {
  assert.ok(
    !existsSync(join(dir, 'tables', 'bronze_user_events', '_delta_log')),
    'no bronze commit (not even the table)',
  );
  const log = await openLog({ dataDir: dir });
  try {
    const topics = (await log.listTopics()).map((t) => t.name);
    if (topics.includes('user-events.dlq')) assert.deepEqual(await readTopic(log, 'user-events.dlq'), []);
  } finally {
    await log.close();
  }
}

async function query<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

/** A loopback port where nothing listens (taken from the OS, then freed). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const withPassword = (url: string, password: string) => {
  const u = new URL(url);
  u.password = encodeURIComponent(password);
  return u.toString();
};

const SECRET = `Sekr3t-${process.pid}-x9`;

function assertNoSecret(r: Finished, secret = SECRET): void {
  for (const s of [secret, encodeURIComponent(secret)]) {
    assert.ok(!r.stdout.includes(s), `stdout shows the password: ${r.stdout}`);
    assert.ok(!r.stderr.includes(s), `stderr shows the password: ${r.stderr}`);
  }
}

/** The one error line a failed command prints, with its code. */
function errorLine(r: Finished, code: string): string {
  const line = r.stderr.split('\n').find((l) => l.startsWith('tributary: error ['));
  assert.ok(line, `an error line on stderr: ${r.stderr}`);
  assert.ok(line.startsWith(`tributary: error [${code}]: `), line);
  return line;
}

describe('bad connection URLs: a clear error at once, the password never shown', { skip }, () => {
  let dir: string;
  before(async () => {
    ({ dir } = await dataDirWithRecords(500, 1));
  });
  const run = (url: string, env: Record<string, string> = {}) =>
    runCli(['run', 'clickstream', '--postgres', url, '--data-dir', dir, '--until-caught-up'], env, 60_000);

  it('not a URL', async () => {
    const r = await run('localhost:5432');
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      errorLine(r, 'CONFIG_INVALID'),
      /'localhost:5432' is not a PostgreSQL URL; expected a URL: postgres:\/\/user:password@host:port\/database$/,
    );
    await assertNothingWritten(dir);
  });

  it("a key=value connection string (libpq's other form) is refused without being shown", async () => {
    const r = await run(`host=127.0.0.1 port=5432 dbname=shop user=app password=${SECRET}`);
    assert.equal(r.code, 2, r.stderr);
    assertNoSecret(r);
    assert.match(
      errorLine(r, 'CONFIG_INVALID'),
      /the PostgreSQL connection is a key=value string \(host=\.\.\. dbname=\.\.\.\), which is not read here \(not shown: it may hold a password\); expected a URL/,
    );
  });

  it('another scheme', async () => {
    const r = await run(`mysql://app:${SECRET}@127.0.0.1:3306/shop`);
    assert.equal(r.code, 2, r.stderr);
    assertNoSecret(r);
    assert.match(
      errorLine(r, 'CONFIG_INVALID'),
      /'mysql:\/\/app:\*\*\*@127\.0\.0\.1:3306\/shop' is not a PostgreSQL URL \(its scheme is 'mysql'\); expected a URL: postgres:\/\//,
    );
  });

  it('a password that breaks the URL (an unescaped /) is not printed', async () => {
    const secret = `${SECRET}/abc`;
    const r = await run(`postgres://app:${secret}@127.0.0.1:5432/shop`);
    assert.equal(r.code, 2, r.stderr);
    assertNoSecret(r, secret);
    assertNoSecret(r, SECRET);
    assert.match(
      errorLine(r, 'CONFIG_INVALID'),
      /'postgres:\/\/app:\*\*\*@127\.0\.0\.1:5432\/shop' is not a PostgreSQL URL/,
    );
    assert.match(r.stderr, /percent-encoded \(\/ as %2F\)/);
  });

  it('a port out of range', async () => {
    const r = await run(`postgres://app:${SECRET}@127.0.0.1:99999/shop`);
    assert.equal(r.code, 2, r.stderr);
    assertNoSecret(r);
    assert.match(errorLine(r, 'CONFIG_INVALID'), /with a port from 1 to 65535/);
  });

  it('nothing listening at the host and port: stops at start (exit 1), not waited for', async () => {
    const port = await freePort();
    for (const url of [
      `postgres://app:${SECRET}@127.0.0.1:${port}/shop`,
      `postgres://app@127.0.0.1:${port}/shop?password=${SECRET}`,
    ]) {
      const r = await run(url);
      assert.equal(r.code, 1, r.stderr);
      const line = errorLine(r, 'POSTGRES_UNAVAILABLE');
      assert.match(
        line,
        new RegExp(
          `PostgreSQL at 127\\.0\\.0\\.1:${port}/shop is unavailable \\(connecting\\): connect ECONNREFUSED`,
        ),
      );
      assert.match(
        line,
        /Nothing was started: check that the server runs and accepts connections at the host and port of postgres:\/\/app(:\*\*\*)?@127\.0\.0\.1:\d+\/shop(\?password=\*\*\*)?\./,
      );
      assert.match(
        line,
        /A pipeline that has started waits for its database when it goes away; at start it does not/,
      );
      assertNoSecret(r);
    }
    await assertNothingWritten(dir);
  });

  it('a database that does not exist: POSTGRES_FAILED (3D000), not retried', async () => {
    const u = new URL(testPostgresUrl()!);
    u.pathname = '/tributary_no_such_db';
    const r = await run(u.toString());
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      errorLine(r, 'POSTGRES_FAILED'),
      /has no database 'tributary_no_such_db' \[3D000\]: correct the database name at the end of the connection URL, or create it \(CREATE DATABASE tributary_no_such_db\)/,
    );
    await assertNothingWritten(dir);
  });

  it('SSL asked of a server without it: POSTGRES_FAILED saying so', async () => {
    const u = new URL(testPostgresUrl()!);
    u.searchParams.set('sslmode', 'verify-full');
    const r = await run(u.toString());
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      errorLine(r, 'POSTGRES_FAILED'),
      /does not support SSL connections, which the connection URL asks for \(sslmode\): remove sslmode from the URL, or enable SSL on the server\.$/,
    );
  });

  it('a wrong password: POSTGRES_AUTH, never printed (from --postgres and from $TRIBUTARY_POSTGRES)', async (t) => {
    const url = testPostgresPasswordUrl();
    if (url === undefined) return t.skip('the test server has no password role');
    const wrong = withPassword(url, SECRET);
    for (const r of [
      await run(wrong),
      await runCli(
        ['run', 'clickstream', '--data-dir', dir, '--until-caught-up'],
        { TRIBUTARY_POSTGRES: wrong },
        60_000,
      ),
    ]) {
      assert.equal(r.code, 2, r.stderr);
      assertNoSecret(r);
      assert.match(
        errorLine(r, 'POSTGRES_AUTH'),
        /refused the login: password authentication failed for user "tributary" \[28P01\]\. Check the user and password in the connection URL/,
      );
    }
    await assertNothingWritten(dir);
  });

  it('no password where the server asks for one: POSTGRES_AUTH at once (the connection is closed, the command ends)', async (t) => {
    const url = testPostgresPasswordUrl();
    if (url === undefined) return t.skip('the test server has no password role');
    const u = new URL(url);
    u.password = '';
    // Left open, the refused connection kept the process alive until the server's
    // authentication timeout (a minute); the command is killed after 45 s.
    const r = await runCli(
      ['run', 'clickstream', '--postgres', u.toString(), '--data-dir', dir, '--until-caught-up'],
      {},
      45_000,
    );
    assert.equal(r.signal, null, 'the command ended by itself');
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      errorLine(r, 'POSTGRES_AUTH'),
      /asks for a password and none was given: put it in the connection URL \(postgres:\/\/user:password@host:port\/database\) or in \$PGPASSWORD/,
    );
  });
});

describe('realtime tables that exist with columns the sinks cannot write', { skip }, () => {
  let dir: string;
  before(async () => {
    ({ dir } = await dataDirWithRecords(1500, 2));
  });

  const cases: Array<{ name: string; ddl: string; expect: RegExp[]; table?: string }> = [
    {
      name: 'a missing column',
      ddl: `CREATE TABLE realtime.events_per_minute (window_start timestamptz, event_type text, updated_at timestamptz, PRIMARY KEY (window_start, event_type))`,
      expect: [
        /column event_count \(bigint\) is missing \(ALTER TABLE "realtime"\."events_per_minute" ADD COLUMN "event_count" bigint\)/,
      ],
    },
    {
      name: 'a count as text',
      ddl: `CREATE TABLE realtime.events_per_minute (window_start timestamptz, event_type text, event_count text, updated_at timestamptz, PRIMARY KEY (window_start, event_type))`,
      expect: [/column event_count is text and the sink writes bigint: make it bigint or numeric/],
    },
    {
      name: 'a timestamp without time zone',
      ddl: `CREATE TABLE realtime.events_per_minute (window_start timestamp, event_type text, event_count bigint, updated_at timestamptz, PRIMARY KEY (window_start, event_type))`,
      expect: [
        /column window_start is timestamp without time zone and the sink writes timestamp with time zone \(a timestamp without time zone would hold the UTC instants converted to the session's time zone\): make it timestamp with time zone/,
      ],
    },
    {
      name: 'no key',
      ddl: `CREATE TABLE realtime.events_per_minute (window_start timestamptz, event_type text, event_count bigint, updated_at timestamptz)`,
      expect: [
        /it has no primary key or unique index on exactly \(window_start, event_type\), the key the sink upserts by \(ALTER TABLE "realtime"\."events_per_minute" ADD PRIMARY KEY \("window_start", "event_type"\)\)/,
      ],
    },
    {
      name: 'a unique index on other columns',
      ddl: `CREATE TABLE realtime.events_per_minute (window_start timestamptz, event_type text, event_count bigint, updated_at timestamptz, UNIQUE (window_start))`,
      expect: [/no primary key or unique index on exactly \(window_start, event_type\)/],
    },
    {
      name: 'a NOT NULL column the sink does not write',
      ddl: `CREATE TABLE realtime.events_per_minute (window_start timestamptz, event_type text, event_count bigint, updated_at timestamptz, region text NOT NULL, PRIMARY KEY (window_start, event_type))`,
      expect: [/column region is NOT NULL without a default, and the sink does not write it/],
    },
    {
      name: "the last sink's table (narrower: integer for a bigint count)",
      ddl: `CREATE TABLE realtime.purchases_per_minute (window_start timestamptz PRIMARY KEY, purchase_count integer, updated_at timestamptz)`,
      table: 'realtime.purchases_per_minute',
      expect: [
        /sink 'purchases_per_minute': .*column purchase_count is integer and the sink writes bigint: make it bigint or numeric/,
      ],
    },
  ];

  for (const c of cases) {
    it(`${c.name}: POSTGRES_TABLE_INCOMPATIBLE before anything is written`, async () => {
      const db = await freshDatabase('bad_table');
      try {
        await query(db.url, `CREATE SCHEMA realtime; ${c.ddl}`);
        const r = await runCli([
          'run',
          'clickstream',
          '--postgres',
          db.url,
          '--data-dir',
          dir,
          '--until-caught-up',
        ]);
        assert.equal(r.code, 2, r.stderr);
        const line = errorLine(r, 'POSTGRES_TABLE_INCOMPATIBLE');
        const table = c.table ?? 'realtime.events_per_minute';
        assert.match(line, new RegExp(`PostgreSQL table ${table.replace('.', '\\.')} exists, but `));
        for (const e of c.expect) assert.match(line, e);
        assert.match(
          line,
          /No rows were written\. Change the table, or let the sink create one under another name/,
        );
        // Nothing written: no realtime row, no progress, no bronze commit, no DLQ record.
        // (Sinks open in order: the tables of the sinks before the refused one are created, empty.)
        const tables = await query<{ t: string }>(
          db.url,
          `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_schema IN ('realtime', 'tributary') ORDER BY 1`,
        );
        for (const { t } of tables) {
          assert.deepEqual(await query(db.url, `SELECT * FROM ${t}`), [], `${t} is empty`);
        }
        await assertNothingWritten(dir);
      } finally {
        await db.drop();
      }
    });
  }

  it('compatible tables (wider types, a unique index, extra columns) are written, exactly', async () => {
    const db = await freshDatabase('wide_table');
    const { dir: own, kinds } = await dataDirWithRecords(3000, 3);
    try {
      await query(
        db.url,
        `CREATE SCHEMA realtime;
         CREATE TABLE realtime.events_per_minute (window_start timestamptz, event_type varchar, event_count numeric,
           updated_at timestamptz, note text, PRIMARY KEY (window_start, event_type));
         CREATE TABLE realtime.logins_per_source (id bigserial PRIMARY KEY, window_start timestamptz NOT NULL,
           source text NOT NULL, login_count numeric(20,0), updated_at timestamptz, added_by text NOT NULL DEFAULT 'sink');
         CREATE UNIQUE INDEX ON realtime.logins_per_source (source, window_start);
         CREATE TABLE realtime.purchases_per_minute (window_start timestamptz PRIMARY KEY, purchase_count bigint, updated_at timestamptz);`,
      );
      // The purchase count written as integer: a bigint column holds it.
      const r = await runCli([
        'run',
        'clickstream',
        '--postgres',
        db.url,
        '--data-dir',
        own,
        '--until-caught-up',
        '--set',
        'sinks.purchases_per_minute.column_types={purchase_count: integer}',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const log = await openLog({ dataDir: own });
      try {
        await assertOutputs({ log, kinds, url: db.url, dataDir: own });
      } finally {
        await log.close();
      }
      const [added] = await query<{ n: string }>(
        db.url,
        `SELECT count(*) AS n FROM realtime.logins_per_source WHERE added_by = 'sink' AND id IS NOT NULL`,
      );
      assert.ok(Number(added.n) > 0);
    } finally {
      await db.drop();
    }
  });
});
