/**
 * Bad input to a logical capture, each a clear error with its code that says what to do,
 * and nothing left behind (no slot, no publication created by a start that failed its
 * checks), never a slot taken from the process that holds it:
 * the embedded PGlite, an unreachable server, a missing table, a table without a key or
 * without REPLICA IDENTITY FULL, a role without REPLICATION, a missing publication the
 * role may not create, a publication without the table, wal_level below logical (a
 * cluster of its own), a slot streamed by another process, a slot of the name that this
 * capture has no state for, and a slot dropped under a capture.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { EmbeddedPostgres } from '../../../../../src/connectors/postgres/embedded.ts';
import { TributaryError } from '../../../../../src/core/errors.ts';
import { type FreshDatabase, freshDatabase, postgresMissing, startCluster } from '../../server.ts';
import { dropDatabase, harness, ORDERS_DDL, removeDirs, sql, tempDir } from './helpers.ts';

const skip = postgresMissing({ binaries: true });
const dirs: string[] = [];
const dbs: FreshDatabase[] = [];
const roles: string[] = [];
let admin: string;
after(async () => {
  removeDirs(dirs);
  for (const d of dbs) await dropDatabase(d);
  for (const r of roles) await sql(admin, `DROP ROLE IF EXISTS ${r}`).catch(() => {});
});

async function rejects(run: Promise<unknown>, code: string, ...patterns: RegExp[]): Promise<TributaryError> {
  let caught: unknown;
  try {
    await run;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof TributaryError, `a TributaryError, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

async function ordersDb(prefix: string): Promise<FreshDatabase> {
  const db = await freshDatabase(prefix);
  dbs.push(db);
  await sql(db.url, ORDERS_DDL);
  return db;
}

const withUser = (url: string, user: string, password: string) => {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString();
};

async function slotsOf(db: FreshDatabase): Promise<string[]> {
  return (
    await sql<{ slot_name: string }>(
      db.url,
      'SELECT slot_name FROM pg_replication_slots WHERE database = $1',
      [db.name],
    )
  ).map((r) => r.slot_name);
}

async function publications(db: FreshDatabase): Promise<string[]> {
  return (await sql<{ pubname: string }>(db.url, 'SELECT pubname FROM pg_publication')).map((r) => r.pubname);
}

/** Runs a capture once to the end (untilCaughtUp). */
async function once(url: string, table: string, extra: Parameters<typeof harness>[3] = {}) {
  const h = await harness(url, table, dirs, extra);
  try {
    await h.catchUp();
  } finally {
    await h.close();
  }
}

describe('logical capture: bad input', { skip }, () => {
  before(() => {
    admin = process.env.TRIBUTARY_TEST_POSTGRES!;
  });

  it('says logical replication needs a PostgreSQL server when pointed at the embedded PGlite', async () => {
    const again = await EmbeddedPostgres.start({
      dir: join(tempDir('tributary-pglite-', dirs), 'pg'),
      port: 0,
    });
    try {
      const c = new pg.Client({ connectionString: again.url });
      await c.connect();
      await c.query(
        'CREATE TABLE orders (order_id integer PRIMARY KEY, item text); ALTER TABLE orders REPLICA IDENTITY FULL',
      );
      await c.end();
      await rejects(
        once(again.url, 'orders'),
        'CAPTURE_LOGICAL_UNSUPPORTED',
        /needs a PostgreSQL server/,
        /polling/,
      );
    } finally {
      await again.stop();
    }
  });

  it('says an unreachable server is unavailable', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    await rejects(
      once(`postgres://postgres@127.0.0.1:${port}/db`, 'orders'),
      'POSTGRES_UNAVAILABLE',
      new RegExp(`127.0.0.1:${port}/db is unavailable`),
    );
  });

  it('names a missing table, a missing key and a missing REPLICA IDENTITY FULL, and creates nothing', async () => {
    const db = await ordersDb('logical_bad_table');
    await rejects(once(db.url, 'public.nope'), 'CAPTURE_TABLE_INVALID', /no table public\.nope/);
    await sql(db.url, 'CREATE TABLE nokey (a int, b text); ALTER TABLE nokey REPLICA IDENTITY FULL');
    await rejects(once(db.url, 'nokey'), 'CAPTURE_TABLE_INVALID', /no primary key/, /key columns/);
    await rejects(
      once(db.url, 'nokey', { key: ['c'] }),
      'CAPTURE_TABLE_INVALID',
      /'c' is not in public\.nokey/,
    );
    await sql(db.url, 'CREATE TABLE plain (id int PRIMARY KEY, body text)');
    await rejects(
      once(db.url, 'plain'),
      'CAPTURE_TABLE_INVALID',
      /ALTER TABLE "public"\."plain" REPLICA IDENTITY FULL/,
      /TOAST/,
    );
    assert.deepEqual(await slotsOf(db), [], 'no slot left behind');
    assert.deepEqual(await publications(db), [], 'no publication created');
  });

  it('asks for a role with REPLICATION, and for a publication the role may not create', async () => {
    const db = await ordersDb('logical_bad_role');
    const role = `cap_${db.name.slice(-6)}`;
    roles.push(role);
    await sql(admin, `CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
    await sql(db.url, `GRANT SELECT ON orders TO ${role}`);
    const url = withUser(db.url, role, 'pw');
    await rejects(
      once(url, 'orders'),
      'CAPTURE_PERMISSION_DENIED',
      new RegExp(`ALTER ROLE "${role}" REPLICATION`),
    );

    await sql(admin, `ALTER ROLE ${role} REPLICATION`);
    const err = await rejects(
      once(url, 'orders'),
      'CAPTURE_PERMISSION_DENIED',
      /publication '.*' does not exist/,
      /CREATE PUBLICATION ".*" FOR TABLE "public"\."orders"/,
    );
    assert.deepEqual(await slotsOf(db), [], 'no slot left behind');

    // An administrator runs the statement the message gives; then the capture works.
    await sql(db.url, /(CREATE PUBLICATION .*\))/.exec(err.message)![1]);
    await sql(db.url, `INSERT INTO orders VALUES (1, 'A', 'R', 'I', 1, 'S', now())`);
    await once(url, 'orders');
    await sql(db.url, `REVOKE ALL ON orders FROM ${role}`);
    await rejects(
      once(url, 'orders'),
      'CAPTURE_PERMISSION_DENIED',
      new RegExp(`GRANT SELECT ON "public"\\."orders" TO "${role}"`),
    );
  });

  it('names the statement when the publication does not publish the table', async () => {
    const db = await ordersDb('logical_bad_pub');
    await sql(db.url, 'CREATE TABLE other (id int PRIMARY KEY)');
    await sql(db.url, 'CREATE PUBLICATION mine FOR TABLE other');
    await rejects(
      once(db.url, 'orders', { publication: 'mine' }),
      'CAPTURE_PUBLICATION_INVALID',
      /ALTER PUBLICATION "mine" ADD TABLE "public"\."orders"/,
    );
    await sql(db.url, `CREATE PUBLICATION ins_only FOR TABLE orders WITH (publish = 'insert')`);
    await rejects(
      once(db.url, 'orders', { publication: 'ins_only' }),
      'CAPTURE_PUBLICATION_INVALID',
      /does not publish update, delete/,
    );
    assert.deepEqual(await slotsOf(db), []);
  });

  it('says how to set wal_level when it is not logical', async () => {
    const cluster = await startCluster({ settings: { wal_level: 'replica' } });
    try {
      const db = await freshDatabase('logical_bad_wal', cluster);
      await sql(db.url, ORDERS_DDL);
      await rejects(once(db.url, 'orders'), 'CAPTURE_LOGICAL_UNSUPPORTED', /wal_level = logical/, /restart/);
    } finally {
      await cluster.dispose();
    }
  });

  it('never takes a slot another process streams from, nor one it has no state for', async () => {
    const db = await ordersDb('logical_bad_slot');
    const first = await harness(db.url, 'orders', dirs);
    await first.catchUp();
    const slot = `tributary_${db.name}`;
    // Another process streams from the slot.
    const other = new pg.Client({ connectionString: db.url, replication: 'database' } as pg.ClientConfig);
    await other.connect();
    other.on('error', () => {});
    other
      .query(`START_REPLICATION SLOT ${slot} LOGICAL 0/0 (proto_version '1', publication_names '${slot}')`)
      .catch(() => {});
    let pid: number | null = null;
    for (let i = 0; i < 50 && pid === null; i++) {
      pid = (
        await sql<{ p: number | null }>(
          db.url,
          'SELECT active_pid AS p FROM pg_replication_slots WHERE slot_name = $1',
          [slot],
        )
      )[0].p;
      if (pid === null) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(pid !== null, 'the other process holds the slot');
    await rejects(
      first.catchUp({ slotWaitMs: 500 }),
      'CAPTURE_SLOT_IN_USE',
      new RegExp(`in use by another process \\(PID ${pid}\\)`),
      new RegExp(`pg_terminate_backend\\(${pid}\\)`),
    );
    const [held] = await sql<{ p: number }>(
      db.url,
      'SELECT active_pid AS p FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    assert.equal(held.p, pid, 'the slot is still the other process');
    await other.end();
    await first.catchUp({ slotWaitMs: 10_000 });

    // A second capture of the same name with a state directory of its own finds the slot and does not take it.
    const second = await harness(db.url, 'orders', dirs);
    await rejects(
      second.catchUp(),
      'CAPTURE_SLOT_IN_USE',
      /already exists .* no state for it/,
      /pg_drop_replication_slot/,
      /snapshot: never/,
    );
    assert.deepEqual(await slotsOf(db), [slot], 'the slot is kept');
    await first.close();
    await second.close();
  });

  it('says the slot is lost when it was dropped under the capture', async () => {
    const db = await ordersDb('logical_bad_lost');
    const h = await harness(db.url, 'orders', dirs);
    await h.catchUp();
    await sql(db.url, 'SELECT pg_drop_replication_slot($1)', [`tributary_${db.name}`]);
    await rejects(
      h.catchUp(),
      'CAPTURE_SLOT_LOST',
      /no longer exists/,
      /delete the capture's state directory/,
    );
    await h.close();
  });
});
