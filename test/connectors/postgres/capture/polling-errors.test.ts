/**
 * The polling capture's errors and waits, on a real server and on PGlite:
 * - bad input stops it with a clear error before anything is published: an unreachable
 *   database (POSTGRES_UNAVAILABLE), a missing table (the tables there are listed), a
 *   missing cursor column (the timestamp columns are listed), a cursor that is not a
 *   timestamp, no primary key and no key given, a key column that may be null;
 * - a state file of another capture, or unreadable, is refused (CAPTURE_STATE_INVALID);
 *   the seed's first producer's timestamp-only state is resumed from;
 * - a server that goes away while capturing (a private cluster stopped and started) is
 *   waited for, and every row arrives.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PollingCapture, type PollingOptions } from '../../../../src/connectors/postgres/capture/polling.ts';
import { isTributaryError } from '../../../../src/core/errors.ts';
import type { Log } from '../../../../src/log/log.ts';
import { openLog } from '../../../../src/log/open.ts';
import { createStatements, FOOD_ORDERS_TABLE } from '../../../../src/scenarios/food-orders/schema.ts';
import { freshDatabase, postgresMissing, startCluster } from '../server.ts';
import { openTarget, readChanges, TARGETS, type Target } from './targets.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tributary-polling-err-'));
  dirs.push(d);
  return d;
};

const T = '"2025em1100102_orders"';

function capture(url: string, log: Log, dir: string, more: Partial<PollingOptions> = {}): PollingCapture {
  return new PollingCapture({
    name: 'test',
    url,
    table: FOOD_ORDERS_TABLE,
    log,
    topic: 'raw',
    partitions: 3,
    format: 'flat',
    stateDir: join(dir, 'state'),
    pollIntervalMs: 50,
    delayMs: 0,
    report: () => {},
    ...more,
  });
}

/** prepare()'s error, asserted to be a TributaryError of `code` whose message matches every pattern. */
async function refused(c: PollingCapture, code: string, ...patterns: RegExp[]): Promise<string> {
  try {
    await c.prepare();
  } catch (err) {
    assert.ok(isTributaryError(err), String(err));
    assert.equal(err.code, code, err.message);
    for (const p of patterns) assert.match(err.message, p);
    return err.message;
  } finally {
    await c.close();
  }
  assert.fail(`no ${code}`);
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

it('an unreachable database: POSTGRES_UNAVAILABLE naming the target, no password shown', async () => {
  const dir = tempDir();
  const log = await openLog({ dataDir: join(dir, 'log') });
  try {
    const url = `postgres://u:s3cret@127.0.0.1:${await freePort()}/shop`;
    const message = await refused(capture(url, log, dir), 'POSTGRES_UNAVAILABLE', /127\.0\.0\.1:\d+\/shop/);
    assert.doesNotMatch(message, /s3cret/);
  } finally {
    await log.close();
  }
});

for (const target of TARGETS) {
  describe(`polling capture, bad input (${target.name})`, { skip: target.skip, timeout: 120_000 }, () => {
    let t: Target;
    let log: Log;
    let dir: string;
    const at = (name: string, more: Partial<PollingOptions> = {}) =>
      capture(t.url, log, dir, { table: { schema: 'public', name }, ...more });

    it('is set up', async () => {
      t = await openTarget(target.name, 'poll_bad');
      dir = tempDir();
      log = await openLog({ dataDir: join(dir, 'log') });
      for (const s of createStatements()) await t.sql(s);
      await t.sql('CREATE TABLE no_key (id int, created_at timestamptz NOT NULL DEFAULT now())');
      await t.sql('CREATE TABLE int_cursor (id int PRIMARY KEY, created_at int)');
      await t.sql('CREATE TABLE null_key (id int, created_at timestamptz NOT NULL DEFAULT now())');
    });

    it('a missing table: the tables there are listed', async () => {
      await refused(
        at('2025em1100102_order'),
        'CAPTURE_TABLE_INVALID',
        /no table public\.2025em1100102_order /,
        /2025em1100102_orders/,
      );
    });

    it('a missing cursor column: the timestamp columns are listed', async () => {
      await refused(
        at('2025em1100102_orders', { cursor: 'inserted_at' }),
        'CAPTURE_TABLE_INVALID',
        /no column 'inserted_at'/,
        /timestamp columns: created_at, updated_at/,
      );
    });

    it('a cursor that is not a timestamp', async () => {
      await refused(at('int_cursor'), 'CAPTURE_TABLE_INVALID', /is integer; polling needs a timestamp/);
    });

    it('no primary key and no key given; a key column that may be null', async () => {
      await refused(
        at('no_key'),
        'CAPTURE_TABLE_INVALID',
        /no primary key and no key was given/,
        /source\.capture\.key/,
      );
      await refused(at('null_key', { key: ['id'] }), 'CAPTURE_TABLE_INVALID', /may be null/);
    });

    it('a state file of another capture, or unreadable, is refused; a timestamp-only one is resumed from', async () => {
      const stateDir = join(dir, 'state');
      mkdirSync(stateDir, { recursive: true });
      writeFileSync(
        join(stateDir, 'capture.json'),
        JSON.stringify({ table: 'public.other', cursor: 'created_at', key: ['order_id'], topic: 'raw' }),
      );
      await refused(
        at('2025em1100102_orders'),
        'CAPTURE_STATE_INVALID',
        /belongs to a capture of public\.other/,
      );
      rmSync(join(stateDir, 'capture.json'));
      writeFileSync(join(stateDir, 'last_processed_timestamp.txt'), '2025-13-01|x|y\n');
      await refused(
        at('2025em1100102_orders'),
        'CAPTURE_STATE_INVALID',
        /expected 'YYYY-MM-DD HH:MM:SS\.ffffff\|order_id'/,
      );
      // The seed's first producer saved a timestamp only: resumed after it.
      await t.sql(
        `INSERT INTO ${T} (customer_name, created_at) VALUES ('old', '2025-11-18 09:00:00+00'), ('new', '2025-11-18 10:00:00+00')`,
      );
      writeFileSync(join(stateDir, 'last_processed_timestamp.txt'), '2025-11-18 09:55:00\n');
      const c = at('2025em1100102_orders');
      await c.run({ untilCaughtUp: true });
      await c.close();
      assert.deepEqual(
        (await readChanges(log, 'raw')).map((x) => x.value.customer_name),
        ['new'],
      );
      await log.close();
      await t.close();
    });
  });
}

describe('polling capture: the server goes away and comes back', {
  skip: postgresMissing({ binaries: true }),
  timeout: 300_000,
}, () => {
  it('waits, reports it, and captures every row once it is back', async () => {
    const cluster = await startCluster();
    const dir = tempDir();
    const log = await openLog({ dataDir: join(dir, 'log') });
    try {
      const db = await freshDatabase('poll_outage', cluster);
      const t = { url: db.url };
      const pg = (await import('pg')).default;
      const exec = async (sql: string) => {
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        try {
          await c.query(sql);
        } finally {
          await c.end();
        }
      };
      for (const s of createStatements()) await exec(s);
      const insert = (n: number) =>
        exec(
          `INSERT INTO ${T} (customer_name, restaurant_name, item, amount, order_status) SELECT 'c' || g, 'r', 'i', 1.00, 'PLACED' FROM generate_series(1, ${n}) g`,
        );
      await insert(100);
      const lines: string[] = [];
      const c = capture(t.url, log, dir, { maxBackoffMs: 500, report: (l) => lines.push(l) });
      const stop = new AbortController();
      const running = c.run({ signal: stop.signal });
      while (c.metrics.published < 100) await sleep(50);
      await cluster.stop('immediate');
      await sleep(1_500);
      await cluster.start();
      await insert(100);
      await cluster.kill();
      await sleep(500);
      await cluster.start();
      await insert(100);
      const deadline = Date.now() + 60_000;
      while (c.metrics.published < 300 && Date.now() < deadline) await sleep(100);
      stop.abort();
      await running;
      await c.close();
      assert.ok(
        lines.some((l) => /waiting for PostgreSQL/.test(l)),
        lines.join('\n'),
      );
      const ids = (await readChanges(log, 'raw')).map((x) => Number(x.value.order_id));
      assert.equal(new Set(ids).size, 300);
      assert.equal(ids.length, 300);
    } finally {
      await log.close();
      await cluster.dispose();
    }
  });
});
