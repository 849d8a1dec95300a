/**
 * The orders pipeline over storage that misbehaves: both tables' stores are wrapped in a
 * fault-injecting store (src/storage/faulty.ts) while the pipeline appends, MERGEs,
 * compacts (OPTIMIZE), checkpoints and VACUUMs. Each round injects one kind of fault on
 * every kind of call, seeded:
 *
 * - error-after: the write lands, then the call fails (the answer is lost);
 * - error-before: the call fails, nothing is written;
 * - hang: the call times out; the write lands later, while the pipeline goes on;
 * - stale-list: a listing misses the newest objects;
 * - and all of them mixed.
 *
 * The pipeline retries every failed batch (no back-off). Afterwards, with the faults off
 * and every held write landed, the tables and the DLQ must hold exactly what the log
 * says (orders-oracle.ts, every column), and delta-rs must read both tables as
 * Tributary does: nothing lost, nothing duplicated, the tables always readable.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { openLog } from '../../src/log/open.ts';
import { generateOrders } from '../../src/scenarios/orders/generate.ts';
import { ordersPipeline } from '../../src/scenarios/orders/pipeline.ts';
import { openOrdersTables } from '../../src/scenarios/orders/tables.ts';
import { type FaultKind, type FaultRule, FaultyStore } from '../../src/storage/faulty.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { pythonSkip } from '../interop/helpers.ts';
import { assertDeltaRsReads, assertOutputs, expectedFrom, readTopic } from '../scenarios/orders-oracle.ts';

const noSleep = async () => {};

function rules(kind: FaultKind | 'mixed'): FaultRule[] {
  const p = 0.06;
  const one = (fault: FaultKind): FaultRule[] => {
    if (fault === 'stale-list')
      return [{ name: 'stale-list', fault, calls: ['list'], probability: 0.3, hide: 2 }];
    const out: FaultRule[] = [
      // Commits are few and matter most: they meet faults more often.
      { name: `${fault}-commit`, fault, calls: ['putIfAbsent'], path: /_delta_log\//, probability: 0.15 },
      { name: `${fault}-write`, fault, calls: ['put', 'putIfAbsent', 'delete'], probability: p },
    ];
    if (fault !== 'hang')
      out.push({ name: `${fault}-read`, fault, calls: ['get', 'list', 'head'], probability: p / 2 });
    return out.map((r) => ({ ...r, landAfterCalls: 3 }));
  };
  if (kind !== 'mixed') return one(kind);
  return (['error-after', 'error-before', 'hang', 'stale-list'] as const).flatMap((k) =>
    one(k).map((r) => ({ ...r, probability: (r.probability ?? 1) / 2 })),
  );
}

async function round(kind: FaultKind | 'mixed', seed: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `tributary-pipeline-faults-${kind}-`));
  const log = await openLog({ dataDir: dir });
  const stores: FaultyStore[] = [];
  try {
    const start = Date.UTC(2026, 0, 27, 9, 59, 50);
    let n = 0;
    await generateOrders({
      log,
      count: 30_000,
      seed,
      clock: { now: () => start + Math.floor(n++ / 2000) * 1000 },
      malformedRate: 0.01,
      duplicateRate: 0.01,
      outOfOrderRate: 0.05,
      activeOrders: 1_000,
    });
    const expected = expectedFrom(await readTopic(log, 'orders'));

    // The clock moves 5 s a batch: maintenance (OPTIMIZE, checkpoint, VACUUM) every 2
    // batches, orders_current's compaction of files a minute old every 6.
    const clock = new ManualClock(start + 60_000);
    const wrapStore = (inner: ObjectStore, table: string) => {
      const s = new FaultyStore(inner, {
        rules: rules(kind),
        seed: seed * 31 + table.length,
        sleep: noSleep,
      });
      // Faults start once the pipeline is open (a pipeline that cannot open stops, and its
      // service manager restarts it); from then on every failure must be retried.
      s.enabled = false;
      stores.push(s);
      return s;
    };
    const { pipeline } = await ordersPipeline({
      dataDir: dir,
      log,
      clock,
      sleep: noSleep,
      maxRecordsPerBatch: 1_000,
      maintenanceIntervalMs: 10_000,
      checkpointInterval: 3,
      vacuumRetentionMs: 0,
      durableTables: false,
      outcomeCheck: { sleep: noSleep },
      wrapStore,
    });
    const failures: string[] = [];
    for (const s of stores) s.enabled = true;
    await pipeline.run({
      untilCaughtUp: true,
      retryBackoffMs: 0,
      maxRetries: 1_000,
      onBatch: () => clock.advance(5_000),
      onError: (err) => failures.push((err as Error).message),
    });
    await pipeline.close();
    for (const s of stores) {
      s.enabled = false;
      await s.settle();
    }
    const fired = stores.flatMap((s) => s.fired);
    assert.ok(fired.length > 0, 'faults fired');
    if (kind !== 'stale-list') {
      assert.ok(
        fired.some((f) => f.call === 'putIfAbsent' && f.path.startsWith('_delta_log/')),
        `a commit met a fault (${fired.length} faults)`,
      );
      assert.ok(failures.length > 0, 'batches failed and were retried');
    }

    const tables = await openOrdersTables(dir);
    await assertOutputs(expected, tables, log, 'orders.dlq');
    await assertDeltaRsReads(join(dir, 'tables'), expected, tables);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('orders pipeline over storage that fails, hangs and lists stale', {
  skip: pythonSkip(),
  timeout: 600_000,
}, () => {
  for (const kind of ['error-after', 'error-before', 'hang', 'stale-list', 'mixed'] as const) {
    for (const seed of [3, 4]) test(`${kind}, seed ${seed}`, () => round(kind, seed));
  }
});
