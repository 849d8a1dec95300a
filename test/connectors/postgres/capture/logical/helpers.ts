/**
 * Helpers for the logical capture's tests: a fresh database on the shared server with a
 * table, a capture into an embedded log in a temporary data directory, the topic read
 * back as change events, and the changes replayed into a plain-JS mirror (the
 * independent truth is the table itself, read with psql-equivalent SQL).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  createLogicalCapture,
  type LogicalCaptureOptions,
} from '../../../../../src/connectors/postgres/capture/logical/index.ts';
import { parseTableName } from '../../../../../src/connectors/postgres/tables.ts';
import type { Log } from '../../../../../src/log/log.ts';
import { openLog } from '../../../../../src/log/open.ts';
import { readTopic } from '../../../../scenarios/orders-oracle.ts';
import type { FreshDatabase } from '../../server.ts';

export const TOPIC = 'orders.changes';

/** The seed's orders table, with the replica identity logical capture needs. */
export const ORDERS_DDL = `CREATE TABLE orders (
  order_id integer PRIMARY KEY,
  customer_name text,
  restaurant_name text,
  item text,
  amount numeric(10,2),
  order_status text,
  created_at timestamptz
);
ALTER TABLE orders REPLICA IDENTITY FULL;`;

/** A flat change event as the topic holds it (change.ts `flat`). */
export interface FlatChange {
  row: Record<string, unknown>;
  op: 'c' | 'u' | 'd' | 'r';
  pos: bigint;
  seq: number;
  lsn: string | null;
  txid: number | null;
  commitTs: string;
  snapshot: boolean;
  partition: number;
  offset: number;
  key: string;
}

export function tempDir(prefix: string, dirs: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export function removeDirs(dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

export async function sql<R extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  text: string,
  values?: unknown[],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Parses a flat record value keeping `__pos` exact (a bigint beyond 2^53). */
export function parseFlat(value: Buffer, partition = 0, offset = 0): FlatChange {
  const text = value.toString();
  const pos = /"__pos":(\d+)/.exec(text);
  assert.ok(pos, `a flat change has __pos: ${text.slice(0, 200)}`);
  const o = JSON.parse(text) as Record<string, unknown>;
  const row: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!k.startsWith('__')) row[k] = v;
  return {
    row,
    op: o.__op as FlatChange['op'],
    pos: BigInt(pos[1]),
    seq: o.__seq as number,
    lsn: o.__lsn as string | null,
    txid: o.__txid as number | null,
    commitTs: o.__commit_ts as string,
    snapshot: o.__snapshot as boolean,
    partition,
    offset,
    key: '',
  };
}

/** Every change in the topic, in partition then offset order, with its record key. */
export async function readChanges(log: Log, topic = TOPIC): Promise<FlatChange[]> {
  const out: FlatChange[] = [];
  const { partitions } = await log.describeTopic(topic);
  for (let p = 0; p < partitions; p++) {
    let offset = (await log.offsets(topic, p)).earliest;
    const { latest } = await log.offsets(topic, p);
    while (offset < latest) {
      const res = await log.fetch(topic, p, offset, { maxRecords: 10_000 });
      for (const r of res.records) {
        const c = parseFlat(Buffer.from(r.value ?? []), p, r.offset);
        c.key = Buffer.from(r.key ?? []).toString();
        out.push(c);
      }
      if (res.records.length === 0) break;
      offset = res.nextOffset;
    }
  }
  return out;
}

export { readTopic };

const cmp = (a: FlatChange, b: FlatChange) => (a.pos < b.pos ? -1 : a.pos > b.pos ? 1 : a.seq - b.seq);

/** The changes with replays removed (first occurrence of each (pos, seq)), in position order. */
export function dedup(changes: readonly FlatChange[]): FlatChange[] {
  const seen = new Map<string, FlatChange>();
  for (const c of changes) {
    const id = `${c.pos}/${c.seq}`;
    const first = seen.get(id);
    if (first === undefined) seen.set(id, c);
    else assert.deepEqual(c.row, first.row, `a replay of change ${id} carries the same row`);
  }
  return [...seen.values()].sort(cmp);
}

/** Applies deduplicated changes in position order to an empty mirror keyed by `keyOf`. */
export function mirror(
  changes: readonly FlatChange[],
  keyOf: (row: Record<string, unknown>) => string,
): Map<string, Record<string, unknown>> {
  const m = new Map<string, Record<string, unknown>>();
  for (const c of dedup(changes)) {
    if (c.op === 'd') m.delete(keyOf(c.row));
    else m.set(keyOf(c.row), c.row);
  }
  return m;
}

/** Drops the database after the replication slots on it (which would keep DROP DATABASE from running). */
export async function dropDatabase(db: FreshDatabase): Promise<void> {
  const admin = new URL(db.url);
  admin.pathname = '/postgres';
  for (let i = 0; ; i++) {
    try {
      await sql(
        admin.toString(),
        `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL`,
        [db.name],
      );
      await sql(
        admin.toString(),
        `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`,
        [db.name],
      );
      break;
    } catch (err) {
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await db.drop();
}

export interface CaptureHarness {
  dataDir: string;
  log: Log;
  options: LogicalCaptureOptions;
  /** Runs a capture until every change present now is published. */
  catchUp(extra?: Partial<LogicalCaptureOptions>): Promise<void>;
  close(): Promise<void>;
}

export async function harness(
  url: string,
  table: string,
  dirs: string[],
  extra: Partial<LogicalCaptureOptions> = {},
): Promise<CaptureHarness> {
  const dataDir = tempDir('tributary-logical-', dirs);
  const log = await openLog({ dataDir });
  const lines: string[] = [];
  const options: LogicalCaptureOptions = {
    // Slots are the server's, not the database's: one name per test database.
    name: new URL(url).pathname.slice(1),
    url,
    table: parseTableName(table),
    log,
    topic: TOPIC,
    partitions: 3,
    format: 'flat',
    stateDir: join(dataDir, 'capture', 'orders'),
    report: (line) => lines.push(line),
    ...extra,
  };
  return {
    dataDir,
    log,
    options,
    async catchUp(more = {}) {
      const capture = createLogicalCapture({ ...options, ...more });
      try {
        await capture.run({ untilCaughtUp: true });
      } finally {
        await capture.close();
      }
    },
    async close() {
      await log.close();
    },
  };
}

/**
 * The table's rows by key as PostgreSQL renders them to JSON (to_jsonb, in UTC), with a
 * UTC offset written `Z` as change.ts writes it: the truth a mirror is compared with.
 */
export async function tableRows(
  url: string,
  table: string,
  key: string,
): Promise<Map<string, Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC' });
  await client.connect();
  try {
    const { rows } = await client.query<{ j: Record<string, unknown> }>(
      `SELECT to_jsonb(t) AS j FROM ${table} t ORDER BY ${key}`,
    );
    return new Map(rows.map((r) => [String(r.j[key]), normalize(r.j)]));
  } finally {
    await client.end();
  }
}

/** `+00:00` offsets as `Z`, so PostgreSQL's JSON and change.ts's compare equal. */
export function normalize(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] = typeof v === 'string' && /^\d{4}-\d\d-\d\dT.*\+00:00$/.test(v) ? `${v.slice(0, -6)}Z` : v;
  }
  return out;
}

/** Asserts the mirror holds exactly the table's rows. */
export function assertSameRows(
  actual: Map<string, Record<string, unknown>>,
  expected: Map<string, Record<string, unknown>>,
  what: string,
): void {
  const missing = [...expected.keys()].filter((k) => !actual.has(k));
  const extra = [...actual.keys()].filter((k) => !expected.has(k));
  assert.deepEqual(
    { missing: missing.slice(0, 10), extra: extra.slice(0, 10) },
    { missing: [], extra: [] },
    what,
  );
  for (const [k, row] of expected) assert.deepEqual(normalize(actual.get(k)!), row, `${what}: row ${k}`);
}
