/**
 * Logical capture under SIGKILL while a workload inserts, updates and deletes orders:
 * the capture runs as a child process (capture-child.ts) that is killed
 * - at each named crash point (checked reached: the crash trace shows the kill there):
 *   the slot created before the snapshot is read, the snapshot staged, a snapshot chunk
 *   published before its progress is recorded, a batch published before the slot is
 *   acknowledged, and after the acknowledgement;
 * - at random moments after those (start-up included; the snapshot's stages are covered by
 *   the named points, reached in order by the first runs).
 * The table has 12,000 rows before the first start (three snapshot chunks). Afterwards
 * a last run catches up, and the topic must hold:
 * - every (pos, seq) repeated only with the same row (a replay, removed by position);
 * - each key's changes in one partition, first occurrences in increasing position;
 * - the snapshot rows exactly the orders live at the consistent point, and the streamed
 *   changes exactly the workload's transactions after it (by the xid each transaction
 *   read from the server), every one once, in commit order, with its changes in order;
 * - replayed with the image chain checked (workload.ts replayStrict), the table row for
 *   row.
 * This is checked at the topic; the lake side (delta_append dedup + delta_merge mirror)
 * removes replays by the same positions.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CrashPointName } from '../../../../../src/core/crash-points.ts';
import { openLog } from '../../../../../src/log/open.ts';
import { type FreshDatabase, freshDatabase, postgresMissing } from '../../server.ts';
import {
  assertSameRows,
  dedup,
  dropDatabase,
  type FlatChange,
  ORDERS_DDL,
  readChanges,
  removeDirs,
  sql,
  tableRows,
  tempDir,
} from './helpers.ts';
import { assertExactlyOnce, OrdersWorkload, replayStrict } from './workload.ts';

const skip = postgresMissing();
const CHILD = join(import.meta.dirname, 'capture-child.ts');
const ARMED_TIMEOUT_MS = 60_000;
const RANDOM_KILLS = 8;
const dirs: string[] = [];
const dbs: FreshDatabase[] = [];
after(async () => {
  removeDirs(dirs);
  for (const d of dbs) await dropDatabase(d);
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, [CHILD, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TRIBUTARY_CRASH_AT: '', TRIBUTARY_CRASH_TRACE: '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  return {
    child,
    exit: new Promise((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
    ),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The kills at named points, in the order the capture reaches them (the snapshot's first). */
const NAMED: [CrashPointName, number][] = [
  ['capture.logical.slot-created', 1],
  ['capture.logical.snapshot-staged', 1],
  ['capture.logical.snapshot-published', 1],
  ['capture.logical.snapshot-published', 2],
  ['capture.logical.published', 1],
  ['capture.logical.published', 5],
  ['capture.logical.acknowledged', 1],
  ['capture.logical.acknowledged', 7],
  ['capture.logical.published', 12],
];

describe('logical capture under SIGKILL', { skip }, () => {
  it('holds every committed change once, in commit order per key, after kills at every point and at random', async () => {
    const db = await freshDatabase('logical_crash');
    dbs.push(db);
    await sql(db.url, ORDERS_DDL);
    const dataDir = tempDir('tributary-logical-crash-', dirs);
    const trace = join(dataDir, 'crash-trace');
    const workload = new OrdersWorkload(db.url, 11);
    await workload.seed(12_000);
    workload.start(150);
    const args = [db.url, 'orders', dataDir];
    const runs: string[] = [];
    try {
      for (const [point, n] of NAMED) {
        const { child, exit } = start([...args, 'run'], {
          TRIBUTARY_CRASH_AT: `${point}:${n}`,
          TRIBUTARY_CRASH_TRACE: trace,
        });
        const timer = setTimeout(() => child.kill('SIGTERM'), ARMED_TIMEOUT_MS);
        const e = await exit;
        clearTimeout(timer);
        assert.equal(e.signal, 'SIGKILL', `killed at ${point}:${n} (${e.stderr}${e.stdout})`);
        const lines = readFileSync(trace, 'utf8').split('\n');
        assert.ok(
          lines.some((l) => l.startsWith(`${point}\t${n}\t${child.pid}\tcrash`)),
          `the kill happened at ${point}:${n}`,
        );
        runs.push(`${point}:${n}`);
      }
      for (let i = 0; i < RANDOM_KILLS; i++) {
        const { child, exit } = start([...args, 'run'], {});
        const delay = 150 + Math.floor(Math.random() * 2500);
        await sleep(delay);
        child.kill('SIGKILL');
        const e = await exit;
        assert.ok(e.signal === 'SIGKILL' || e.code === 0, `random kill after ${delay} ms: ${e.stderr}`);
        runs.push(`random ${delay} ms`);
      }
    } finally {
      await workload.stop();
    }
    const last = start([...args, 'catch-up'], {});
    const e = await last.exit;
    assert.equal(e.code, 0, `the last run catches up: ${e.stderr}`);

    const log = await openLog({ dataDir });
    try {
      const all = await readChanges(log);
      const changes = dedup(all); // asserts a repeated (pos, seq) carries the same row
      assert.ok(
        all.length > changes.length,
        `kills made the capture repeat changes (${all.length - changes.length})`,
      );

      // Each key in one partition, first occurrences in position order.
      const partitionOf = new Map<string, number>();
      const lastPos = new Map<string, FlatChange>();
      const seen = new Set<string>();
      for (const c of [...all].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
        const key = String(c.row.order_id);
        const p = partitionOf.get(key);
        if (p === undefined) partitionOf.set(key, c.partition);
        else assert.equal(c.partition, p, `order ${key} stays in one partition`);
        const id = `${c.pos}/${c.seq}`;
        if (seen.has(id)) continue;
        seen.add(id);
        const prev = lastPos.get(key);
        if (prev !== undefined) {
          assert.ok(
            prev.pos < c.pos || (prev.pos === c.pos && prev.seq < c.seq),
            `order ${key}: a new change follows the changes before it in its partition`,
          );
        }
        lastPos.set(key, c);
      }

      assertExactlyOnce(all, workload);
      assert.ok(workload.committed > 500, `the workload committed ${workload.committed} transactions`);
      assertSameRows(
        replayStrict(all),
        await tableRows(db.url, 'orders', 'order_id'),
        'the mirror equals the table',
      );
      const slots = await sql<{ n: string }>(
        db.url,
        'SELECT count(*) AS n FROM pg_replication_slots WHERE database = $1',
        [db.name],
      );
      assert.equal(Number(slots[0].n), 1, 'one slot, none leaked by the restarts');
      assert.ok(
        !existsSync(join(dataDir, 'capture', 'orders', 'snapshot.jsonl')),
        'the staged snapshot is removed',
      );
    } finally {
      await log.close();
    }
  });
});
