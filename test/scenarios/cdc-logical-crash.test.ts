/**
 * Food-orders CDC by logical replication under SIGKILL: `tributary run cdc --capture
 * logical --source URL` runs as a child process on a real PostgreSQL server while this
 * process's workload inserts, updates and deletes orders, and is killed again and again —
 * while the slot is new and the snapshot is staged or half published (the table holds
 * 6,000 rows before the start), after a batch is in the topic before the slot is
 * acknowledged, and mid-way through the lake's MERGEs and commits, plus at random moments.
 * Each armed run must die at its point (the crash trace says so). A last run with
 * --until-caught-up lands what is left. Then, against the source:
 * - the mirror equals the table row for row (cdc-oracle.ts, also read by delta-rs);
 * - the change log (food.orders and food.orders_failed) holds, per order, each committed
 *   insert and update exactly once and in commit order, after the order's snapshot row if
 *   it existed when the slot was made — checked against an audit table a trigger fills
 *   in the same transactions as the changes (an independent record of what committed).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import pg from 'pg';
import { Rng } from '../../src/connectors/generators/rng.ts';
import { PostgresPool } from '../../src/connectors/postgres/client.ts';
import { runQuery } from '../../src/query/run.ts';
import { setupFoodOrders } from '../../src/scenarios/food-orders/schema.ts';
import { FoodOrdersWorkload } from '../../src/scenarios/food-orders/workload.ts';
import { freshDatabase, postgresMissing } from '../connectors/postgres/server.ts';
import { assertKilledAt, type Kill, killedRun, startCli } from '../helpers/cli-child.ts';
import { assertLakeMatchesSource } from './cdc-oracle.ts';

const ARMED_TIMEOUT_MS = 40_000;
const T = '"2025em1100102_orders"';

/** The audit trigger: every change to the orders table, recorded in its own transaction. */
const AUDIT = [
  `CREATE TABLE audit (seq bigserial PRIMARY KEY, op text NOT NULL, order_id bigint NOT NULL, row jsonb)`,
  `CREATE FUNCTION audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF TG_OP = 'DELETE' THEN
       INSERT INTO audit (op, order_id, row) VALUES ('d', OLD.order_id, NULL);
     ELSE
       INSERT INTO audit (op, order_id, row) VALUES (lower(left(TG_OP, 1)), NEW.order_id, to_jsonb(NEW));
     END IF;
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER audit_change AFTER INSERT OR UPDATE OR DELETE ON ${T} FOR EACH ROW EXECUTE FUNCTION audit_change()`,
];

const FIELDS = ['order_id', 'customer_name', 'restaurant_name', 'item', 'amount', 'order_status'] as const;

/** A row's compared fields as text (amount with two decimals, as NUMERIC(10,2) holds it). */
function image(r: Record<string, unknown>): string {
  return FIELDS.map((f) => {
    const v = r[f];
    if (v === null || v === undefined) return 'null';
    return f === 'amount' ? Number(v).toFixed(2) : String(v);
  }).join('|');
}

interface AuditRow {
  op: string;
  order_id: string;
  row: Record<string, unknown> | null;
}

/**
 * Per order, the change log must be: the snapshot row (if any) equal to the order's state
 * after some prefix of its committed changes (absent when there is no snapshot row), then
 * exactly the inserts and updates after that prefix, in order.
 */
function assertChangeLog(
  audit: readonly AuditRow[],
  lake: ReadonlyArray<{ order_id: string; snapshot: boolean; image: string }>,
): { orders: number; changes: number; snapshotRows: number } {
  const committed = new Map<string, AuditRow[]>();
  for (const a of audit) committed.set(a.order_id, [...(committed.get(a.order_id) ?? []), a]);
  const landed = new Map<string, Array<{ snapshot: boolean; image: string }>>();
  for (const l of lake) landed.set(l.order_id, [...(landed.get(l.order_id) ?? []), l]);
  let snapshotRows = 0;
  for (const id of new Set([...committed.keys(), ...landed.keys()])) {
    const changes = committed.get(id) ?? [];
    const log = landed.get(id) ?? [];
    const snap = log[0]?.snapshot ? log[0] : undefined;
    if (snap) snapshotRows++;
    const streamed = log.slice(snap ? 1 : 0);
    assert.ok(
      streamed.every((l) => !l.snapshot),
      `order ${id}: a snapshot row comes first, once (${JSON.stringify(log)})`,
    );
    let fits = false;
    // An order inserted before the audit trigger (the table's first rows) starts as its snapshot row.
    const before: Array<string | null> = [null];
    for (const c of changes) before.push(c.op === 'd' ? null : image(c.row!));
    for (let k = 0; k <= changes.length && !fits; k++) {
      const state = k === 0 ? (snap && changes[0]?.op !== 'i' ? snap.image : null) : before[k];
      if ((snap?.image ?? null) !== state) continue;
      const after = changes
        .slice(k)
        .filter((c) => c.op !== 'd')
        .map((c) => image(c.row!));
      fits = after.length === streamed.length && after.every((x, i) => x === streamed[i].image);
    }
    assert.ok(
      fits,
      `order ${id}: the change log holds each committed change once, in commit order, after its snapshot row\n` +
        `committed: ${JSON.stringify(changes.map((c) => [c.op, c.row && image(c.row)]))}\n` +
        `landed: ${JSON.stringify(log)}`,
    );
  }
  return { orders: committed.size, changes: lake.length - snapshotRows, snapshotRows };
}

function schedule(seed: number): Kill[] {
  const rng = new Rng(seed);
  const rest: Kill[] = [
    { point: 'capture.logical.published', n: 2 },
    { point: 'capture.logical.published', n: 5 },
    { point: 'capture.logical.acknowledged', n: 2 },
    { point: 'capture.logical.acknowledged', n: 5 },
    { point: 'merge.written', n: 2 },
    { point: 'commit.after-put', n: 3 },
    { point: 'sink.merge.committed', n: 2 },
    { point: 'log.append.written', n: 3 },
    ...Array.from({ length: 3 }, () => ({ delayMs: 1_500 + rng.int(3_000) })),
  ];
  for (let i = rest.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [rest[i], rest[j]] = [rest[j], rest[i]];
  }
  // The snapshot's steps happen once, at the start: killed there first.
  return [
    { point: 'capture.logical.slot-created', n: 1 },
    { point: 'capture.logical.snapshot-staged', n: 1 },
    { point: 'capture.logical.snapshot-published', n: 1 },
    ...rest,
  ];
}

async function scenario(t: TestContext): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-cdc-logical-crash-'));
  const db = await freshDatabase('cdc_logical_crash');
  const pool = new PostgresPool(db.url, { max: 2 });
  const trace = join(dir, 'trace.tsv');
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await setupFoodOrders(pool);
    await client.query(`ALTER TABLE ${T} REPLICA IDENTITY FULL`);
    await client.query(
      `INSERT INTO ${T} (customer_name, restaurant_name, item, amount, order_status, created_at, updated_at)
       SELECT 'Customer ' || i, 'Spice Garden', 'Butter Chicken', 100 + i % 50, 'PLACED', now(), now() FROM generate_series(1, 6000) i`,
    );
    for (const sql of AUDIT) await client.query(sql);
    const args = ['run', 'cdc', '--capture', 'logical', '--source', db.url, '--data-dir', join(dir, 'data')];
    args.push('--trigger-ms', '50');
    // Slots belong to the server, not the database: a name of its own, apart from other
    // tests' captures on the shared server.
    args.push('--set', `source.capture.slot=t_crash_${Date.now().toString(36)}`);
    const stopWork = new AbortController();
    const workload = new FoodOrdersWorkload({
      db: pool,
      rate: 150,
      mix: { insert: 0.5, update: 0.3, delete: 0.2 },
      invalidRate: 0.05,
      seed: 23,
      signal: stopWork.signal,
    });
    const working = workload.run();
    const kills = schedule(5);
    const selfKilled = new Map<number, string>();
    try {
      for (const [i, kill] of kills.entries()) {
        const armed = 'point' in kill;
        const what = armed
          ? `run ${i} armed at ${kill.point}:${kill.n}`
          : `run ${i} (kill after ${kill.delayMs} ms)`;
        const run = await killedRun(args, kill, { trace, armedTimeoutMs: ARMED_TIMEOUT_MS, what });
        if (armed && !run.reached) assert.fail(`${what} did not reach its point in ${ARMED_TIMEOUT_MS} ms`);
        if (armed) selfKilled.set(run.pid, kill.point);
      }
    } finally {
      stopWork.abort();
    }
    const stats = await working;
    assertKilledAt(trace, selfKilled);
    const final = startCli([...args, '--until-caught-up']);
    const done = await final.exit;
    assert.equal(done.code, 0, `the last run failed:\n${done.stderr}`);

    const check = await assertLakeMatchesSource(db.url, join(dir, 'data'));
    const audit = (
      await client.query<AuditRow>('SELECT op, order_id::text AS order_id, row FROM audit ORDER BY seq')
    ).rows;
    const { rows } = await runQuery(
      `SELECT order_id::VARCHAR AS order_id, customer_name, restaurant_name, item, amount::VARCHAR AS amount,
         order_status, __snapshot AS snapshot FROM (
           SELECT * FROM food.orders UNION ALL BY NAME SELECT * FROM food.orders_failed)
       ORDER BY order_id, __pos, __seq`,
      { dataDir: join(dir, 'data') },
    );
    const lake = rows.map((r) => ({
      order_id: String(r.order_id),
      snapshot: r.snapshot === true,
      image: image(r),
    }));
    const log = assertChangeLog(audit, lake);
    assert.ok(log.snapshotRows >= 6000, `${log.snapshotRows} snapshot rows`);
    assert.ok(stats.deleted > 0 && stats.updated > 0, 'the workload updated and deleted orders');
    t.diagnostic(
      `${kills.length} kills (${selfKilled.size} at crash points); workload +${stats.inserted} ~${stats.updated} -${stats.deleted} ` +
        `(${stats.invalid} invalid); source ${check.source} orders; change log: ${log.snapshotRows} snapshot rows, ${log.changes} changes`,
    );
    // One slot left, this capture's.
    const slots = await client.query(
      `SELECT slot_name FROM pg_replication_slots WHERE database = current_database()`,
    );
    assert.equal(slots.rows.length, 1, `one replication slot: ${JSON.stringify(slots.rows)}`);
    await client.query(`SELECT pg_drop_replication_slot($1)`, [slots.rows[0].slot_name]);
  } finally {
    await client.end();
    await pool.end();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('food-orders CDC by logical replication under SIGKILL', () => {
  test(
    'killed at the snapshot, the acknowledgement and the lake commits, and at random: mirror and change log equal the source',
    { skip: postgresMissing(), timeout: 600_000 },
    (t) => scenario(t),
  );
});
