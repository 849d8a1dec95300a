/**
 * `tributary demo clickstream` as a user runs it: the command prints how to connect to its
 * embedded PostgreSQL; the real `psql` (Debian's postgresql-client) connects and reads the
 * realtime tables while the pipeline writes them, and sees them grow; Ctrl-C stops the
 * demo cleanly. Then the same data directory is run again (`run clickstream
 * --until-caught-up`): the database reopens with every row, and the counts in
 * realtime.events_per_minute add up to the deduplicated, on-time events of the bronze
 * table — read with DuckDB from the Delta table, not through the pipeline.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { EmbeddedPostgres } from '../../src/connectors/postgres/embedded.ts';
import { openLog } from '../../src/log/open.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { decodeDeadLetter, originalBytes } from '../../src/stream/dead-letter.ts';
import { DeltaTable, readRows } from '../../src/table/index.ts';
import { psqlPath } from '../connectors/postgres/server.ts';
import { readTopic } from './orders-oracle.ts';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'tributary.js');
const run = promisify(execFile);
const psql = psqlPath();

async function query(port: number, sql: string): Promise<string> {
  const { stdout } = await run(
    psql!,
    ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-At', '-c', sql, 'postgres'],
    {
      timeout: 60_000,
    },
  );
  return stdout.trim();
}

test("psql reads the demo's realtime tables while the pipeline writes them", {
  skip: psql ? false : 'no psql (TRIBUTARY_TEST_PG_BIN unset: run through npm test)',
  timeout: 240_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-demo-clickstream-'));
  try {
    const child = spawn(
      process.execPath,
      [
        BIN,
        'demo',
        'clickstream',
        '--data-dir',
        dir,
        '--rate',
        '2000',
        '--seed',
        '7',
        '--postgres-port',
        '0',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const waitFor = async (re: RegExp) => {
      for (let i = 0; i < 1200; i++) {
        const m = re.exec(out);
        if (m) return m;
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`demo output never matched ${re}:\n${out}\n${err}`);
    };
    const [, port] = await waitFor(/psql -h 127\.0\.0\.1 -p (\d+) -U postgres postgres/);
    await waitFor(/realtime upserts [1-9]/);
    const tables = await query(
      Number(port),
      "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'realtime'",
    );
    assert.equal(tables, 'events_per_minute,logins_per_source,purchases_per_minute');
    const first = Number(
      await query(Number(port), 'SELECT coalesce(sum(event_count), 0) FROM realtime.events_per_minute'),
    );
    await new Promise((r) => setTimeout(r, 3000));
    const second = Number(
      await query(Number(port), 'SELECT coalesce(sum(event_count), 0) FROM realtime.events_per_minute'),
    );
    assert.ok(first > 0, `psql sees counted events (${first})`);
    assert.ok(second > first, `the counts grow while the demo runs (${first} → ${second})`);
    child.kill('SIGINT');
    assert.equal(await exited, 0, `the demo stops cleanly on Ctrl-C:\n${out}\n${err}`);

    // Again on the same data directory: everything produced is counted, nothing twice.
    const again = spawn(
      process.execPath,
      [BIN, 'run', 'clickstream', '--data-dir', dir, '--until-caught-up', '--postgres-port', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let againErr = '';
    again.stderr.on('data', (d) => {
      againErr += d;
    });
    assert.equal(await new Promise((r) => again.on('exit', r)), 0, againErr);

    // Plain code over the bronze table and the DLQ: per minute and event type, the distinct
    // event ids that were not late (late ones are in the DLQ with rule 'late').
    const log = await openLog({ dataDir: dir });
    const late = new Set<string>();
    let lateRecords = 0;
    try {
      for (const r of await readTopic(log, 'user-events.dlq')) {
        const d = decodeDeadLetter(r.value);
        if (d.rule !== 'late') continue;
        lateRecords++;
        late.add(JSON.parse(Buffer.from(originalBytes(d)!).toString('utf8')).event_id);
      }
    } finally {
      await log.close();
    }
    const bronze = await DeltaTable.open(new LocalStore(join(dir, 'tables', 'bronze_user_events')));
    const expected = new Map<string, Set<string>>();
    for (const row of await readRows(bronze, await bronze.snapshot())) {
      const id = String(row.event_id);
      if (late.has(id)) continue;
      const minute = new Date(String(row.timestamp).replace(' ', 'T').replace(/\+00$/, 'Z'))
        .toISOString()
        .slice(0, 16);
      const key = `${minute}|${row.event_type}`;
      if (!expected.has(key)) expected.set(key, new Set());
      expected.get(key)!.add(id);
    }
    const db = await EmbeddedPostgres.start({ dir: join(dir, 'postgres'), port: 0 });
    const client = new pg.Client({ connectionString: db.url });
    try {
      await client.connect();
      const { rows } = await client.query<{ m: string; t: string; n: string }>(
        `SELECT to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI') AS m, event_type AS t, event_count AS n FROM realtime.events_per_minute`,
      );
      const actual = new Map(rows.map((r) => [`${r.m}|${r.t}`, Number(r.n)]));
      const want = new Map([...expected].map(([k, ids]) => [k, ids.size]));
      assert.deepEqual(
        new Map([...actual].sort()),
        new Map([...want].sort()),
        'realtime.events_per_minute equals the bronze table, deduplicated, without the late events',
      );
      assert.ok(lateRecords > 0, 'the generator sent late events, and the DLQ has them');
    } finally {
      await client.end();
      await db.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
