/**
 * Every operation that commits, under every kind of storage fault, in seeded rounds:
 * create, appends with txn, overwrite, MERGE, UPDATE, DELETE, OPTIMIZE, checkpoints
 * (explicit and every 3 versions), VACUUM and log clean-up, on a LocalStore wrapped in
 * FaultyStore. A failed operation is retried as a user or a pipeline would: appends only
 * if the table's txn says the batch is not in yet, the others because they are
 * idempotent. After each operation a fresh reader without faults must see exactly the
 * rows of a plain-JS model (nothing lost, nothing duplicated) and the right txn version;
 * at the end of a round delta-rs must read the same table.
 *
 * TRIBUTARY_FAULT_SEEDS raises the number of rounds per fault kind (default 3).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import { type FaultKind, type FaultRule, FaultyStore } from '../../src/storage/faulty.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, overwrite } from '../../src/table/ops/append.ts';
import { merge } from '../../src/table/ops/merge.ts';
import { optimize } from '../../src/table/ops/optimize.ts';
import { deleteWhere, update } from '../../src/table/ops/rewrite-where.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import type { StructType } from '../../src/table/schema.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { deltaRsRead, pythonSkip } from '../interop/helpers.ts';
import { field, tempDir } from './data-helpers.ts';

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('id', 'long', false),
    field('status', 'string'),
    field('amount', 'long'),
    field('p', 'string'),
  ],
};
const SEEDS = Number(process.env.TRIBUTARY_FAULT_SEEDS ?? 3);
const DAY = 86_400_000;
const COMMIT_PUT: Partial<FaultRule> = { calls: ['putIfAbsent'], path: /^_delta_log\/\d{20}\.json$/ };
const LOG_GET: Partial<FaultRule> = { calls: ['get'], path: /^_delta_log\/\d{20}\.json$/ };
const pySkip = pythonSkip();

type Row = {
  id: number;
  status: string;
  amount: number;
  p: string;
};

/**
 * Faults of one kind: often on the commit put, now and then on any call, and once per
 * round an outage of reads of the log right after the first fault on a commit put (so
 * that commit's outcome cannot be settled: TABLE_COMMIT_OUTCOME_UNKNOWN).
 */
function rulesFor(kind: FaultKind | 'mixed', seed: number): FaultRule[] {
  const landAfterCalls = seed % 4;
  const one = (fault: FaultKind, commit: number, any: number): FaultRule[] =>
    fault === 'stale-list'
      ? [{ name: 'stale-list', fault, probability: commit, hide: 1 + (seed % 2) }]
      : [
          { name: `${fault} on commit`, fault, ...COMMIT_PUT, probability: commit, landAfterCalls },
          { name: `${fault} on any call`, fault, probability: any, landAfterCalls },
          {
            name: `outage after ${fault}`,
            fault: 'error-before',
            ...LOG_GET,
            after: `${fault} on commit`,
            times: 5,
          },
        ];
  if (kind !== 'mixed') return one(kind, 0.3, 0.03);
  return [
    ...one('error-after', 0.15, 0.01),
    ...one('hang', 0.15, 0.01),
    ...one('error-before', 0.1, 0.01),
    ...one('stale-list', 0.3, 0),
  ];
}

const key = (r: Row) => `${r.id}:${r.status}:${r.amount}:${r.p}`;
const rowOf = (id: number, status: string): Row => ({ id, status, amount: id * 3, p: id % 2 ? 'a' : 'b' });
const range = (from: number, to: number, status: string) =>
  Array.from({ length: to - from }, (_, i) => rowOf(from + i, status));

async function round(base: string, kind: FaultKind | 'mixed', seed: number) {
  const dir = `${base}/${kind}-${seed}`;
  const local = new LocalStore(dir);
  const faulty = new FaultyStore(local, { seed, rules: rulesFor(kind, seed) });
  const clock = new ManualClock(Date.now() + 10 * DAY);
  const ctx = { clock, outcomeCheck: { sleep: async () => {} } };
  const model = new Map<number, Row>();
  const where = (op: string) => `${kind}, seed ${seed}, ${op}`;
  const stats = { retries: 0, unknown: 0 };
  let txn: number | undefined;

  /** Runs `fn` until it succeeds; only retryable errors are retried. */
  async function retry<T>(op: string, fn: () => Promise<T>): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await fn();
      } catch (err) {
        if (!isTributaryError(err) || !err.retryable || i >= 60) {
          throw new Error(
            `${where(op)}: ${String(err)}\nfaults fired: ${JSON.stringify(faulty.fired.slice(-8))}`,
            {
              cause: err,
            },
          );
        }
        stats.retries++;
        if (isTributaryError(err, 'TABLE_COMMIT_OUTCOME_UNKNOWN')) stats.unknown++;
      }
    }
  }

  async function verify(op: string): Promise<void> {
    faulty.enabled = false;
    const t = await DeltaTable.open(local);
    const snap = await t.snapshot();
    const got = await readRows(t, snap, { orderBy: 'id' });
    const rows = got.map((r) =>
      key({ id: Number(r.id), status: String(r.status), amount: Number(r.amount), p: String(r.p) }),
    );
    const want = [...model.values()].sort((a, b) => a.id - b.id).map(key);
    assert.deepEqual(rows, want, `${where(op)}: rows`);
    assert.equal(snap.txnVersion('app'), txn, `${where(op)}: txn version`);
    faulty.enabled = true;
  }

  let table: DeltaTable | undefined;
  let tries = 0;
  await retry('create', async () => {
    try {
      table = await DeltaTable.create(
        faulty,
        {
          schema: SCHEMA,
          partitionColumns: ['p'],
          configuration: { 'delta.checkpointInterval': '3', 'delta.logRetentionDuration': 'interval 1 day' },
        },
        ctx,
      );
    } catch (err) {
      // Only a create whose outcome was unknown may find the table there on its retry.
      if (tries++ > 0 && isTributaryError(err, 'TABLE_ALREADY_EXISTS'))
        table = await DeltaTable.open(faulty, ctx);
      else throw err;
    }
  });
  await verify('create');
  // Each operation opens the table afresh, as a restarted process would: a cold load
  // through the (possibly stale) listing and _last_checkpoint.
  let t = table!;
  const reopen = async () => {
    t = await retry('open', () => DeltaTable.open(faulty, ctx));
  };

  const appendBatch = async (k: number) => {
    const rows = range(k * 10, k * 10 + 10, 'new');
    await reopen();
    await retry(`append txn ${k}`, async () => {
      // As a pipeline does after a failure: the table's txn says whether the batch is in.
      if (((await t.snapshot()).txnVersion('app') ?? -1) >= k) return;
      await append(t, { rows }, { txn: [{ appId: 'app', version: k }] });
    });
    for (const r of rows) model.set(r.id, r);
    txn = k;
    await verify(`append txn ${k}`);
  };
  const step = async (op: string, fn: () => Promise<unknown>, apply: () => void) => {
    clock.advance(1000);
    await reopen();
    await retry(op, fn);
    apply();
    await verify(op);
  };

  await appendBatch(0);
  await appendBatch(1);
  const replaced = range(0, 15, 'over');
  await step(
    'overwrite',
    () => overwrite(t, { rows: replaced }),
    () => {
      model.clear();
      for (const r of replaced) model.set(r.id, r);
    },
  );
  await appendBatch(2);
  const upserts = range(10, 30, 'merged');
  await step(
    'merge',
    () => merge(t, { rows: upserts }, { on: ['id'] }),
    () => {
      for (const r of upserts) model.set(r.id, r);
    },
  );
  await step(
    'update',
    () => update(t, { where: 'id % 3 = 0', set: { status: "'upd'" } }),
    () => {
      for (const r of model.values()) if (r.id % 3 === 0) r.status = 'upd';
    },
  );
  await step(
    'delete',
    () => deleteWhere(t, 'id % 5 = 0'),
    () => {
      for (const id of [...model.keys()]) if (id % 5 === 0) model.delete(id);
    },
  );
  await step(
    'optimize',
    () => optimize(t),
    () => {},
  );
  await step(
    'checkpoint',
    () => t.checkpoint(),
    () => {},
  );
  await appendBatch(3);
  await step(
    'vacuum',
    () => t.vacuum({ retentionMs: 0 }),
    () => {},
  );
  await step(
    'log clean-up',
    () => t.cleanupLog(),
    () => {},
  );
  await appendBatch(4);

  faulty.enabled = false;
  if (!pySkip) {
    const ours = await (await DeltaTable.open(local)).snapshot();
    const rs = await deltaRsRead(dir);
    assert.equal(rs.version, ours.version, where('delta-rs version'));
    const rsRows = rs.rows
      .map((r) =>
        key({ id: Number(r.id), status: String(r.status), amount: Number(r.amount), p: String(r.p) }),
      )
      .sort();
    assert.deepEqual(rsRows, [...model.values()].map(key).sort(), where('delta-rs rows'));
  }
  return { fired: faulty.fired, ...stats };
}

describe('every operation under storage faults, seeded rounds', () => {
  const tmp = tempDir('tributary-ops-faults-');
  after(() => tmp.cleanup());

  for (const kind of ['error-after', 'hang', 'error-before', 'stale-list', 'mixed'] as const) {
    test(`${kind}: ${SEEDS} rounds, nothing lost or duplicated, txn right, delta-rs reads the same`, async (ctx) => {
      let onCommit = 0;
      let unknown = 0;
      const log: string[] = [];
      for (let seed = 1; seed <= SEEDS; seed++) {
        const r = await round(tmp.dir, kind, seed);
        onCommit += r.fired.filter((f) => f.rule.endsWith('on commit')).length;
        unknown += r.unknown;
        log.push(
          `seed ${seed}: ${r.fired.length} faults, ${r.retries} retries, ${r.unknown} unknown outcomes`,
        );
        if (kind === 'stale-list' || kind === 'mixed') {
          assert.ok(
            r.fired.some((f) => f.hidden?.some((h) => /^_delta_log\/\d{20}\./.test(h))),
            'a listing of the log missed files',
          );
        }
      }
      if (kind !== 'stale-list') {
        assert.ok(onCommit > 0, 'faults hit commit puts');
        assert.ok(unknown > 0, 'some commit outcomes were unknown');
      }
      ctx.diagnostic(log.join('; '));
    });
  }
});
