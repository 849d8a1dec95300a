/**
 * The buffered MERGE sink (sinks/delta-merge.ts) merges again every `commitIntervalMs`
 * once the previous MERGE has finished, without waiting for the end of the run: rows and
 * progress reach orders_current batch after batch while the pipeline keeps running.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { openLog } from '../../src/log/open.ts';
import { generateOrders } from '../../src/scenarios/orders/generate.ts';
import { ordersPipeline } from '../../src/scenarios/orders/pipeline.ts';
import { readRows } from '../../src/table/index.ts';

type Run = Awaited<ReturnType<typeof ordersPipeline>> & {
  log: Awaited<ReturnType<typeof openLog>>;
  clock: ManualClock;
};

/** The orders pipeline on a manual clock in a temp directory, closed and removed after `fn`. */
async function withPipeline(currentCommitMs: number, fn: (run: Run) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-merge-cadence-'));
  const log = await openLog({ dataDir: dir });
  const clock = new ManualClock(Date.UTC(2026, 0, 27, 10, 0, 0));
  const run = await ordersPipeline({ dataDir: dir, log, clock, currentCommitMs, sleep: async () => {} });
  try {
    await fn({ ...run, log, clock });
  } finally {
    await run.pipeline.close();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('orders_current is merged again each interval while the pipeline runs', { timeout: 120_000 }, () =>
  withPipeline(1_000, async ({ pipeline, tables, sinks, log, clock }) => {
    const orders = new Set<string>();
    for (let round = 1; round <= 3; round++) {
      await generateOrders({ log, count: 300, seed: round, clock, malformedRate: 0 });
      clock.advance(1_001);
      const report = await pipeline.runBatch();
      assert.equal(report.records, 300);
      // The MERGE runs in the background; wait for it, never for the end of the run.
      await sinks.current.idle();
      const snap = await tables.current.snapshot();
      for (let p = 0; p < 4; p++) {
        const latest = (await log.offsets('orders', p)).latest;
        if (latest > 0)
          assert.equal(snap.txnVersion(sinks.current.appId(p)), latest - 1, `round ${round} p${p}`);
      }
      const events = await readRows(tables.events, await tables.events.snapshot());
      for (const e of events) orders.add(String(e.order_id));
      const current = await readRows(tables.current, snap);
      assert.equal(current.length, orders.size, `round ${round}`);
    }
  }),
);

test(
  'orders_current files that stopped changing are compacted between MERGEs, recent ones are not',
  {
    timeout: 120_000,
  },
  () =>
    withPipeline(0, async ({ pipeline, tables, sinks, log, clock }) => {
      const orders = new Set<string>();
      // Each round: new orders (a fresh generator, so earlier orders never change again),
      // then 20 s of clock, one batch and its MERGE: one new file per round.
      for (let round = 1; round <= 6; round++) {
        await generateOrders({ log, count: 300, seed: round, clock, malformedRate: 0 });
        clock.advance(20_000);
        await pipeline.runBatch();
        await sinks.current.idle();
      }
      // Compaction ran at most every 30 s; by the last MERGE (t = 120 s) the files of
      // t = 20, 40 and 60 s were a minute old and became one; those of 80, 100, 120 s stay.
      const snap = await tables.current.snapshot();
      const optimizes = (await tables.current.history()).filter((h) => h.operation === 'OPTIMIZE');
      assert.equal(optimizes.length, 1);
      assert.equal(optimizes[0].operationMetrics?.numRemovedFiles, '3');
      assert.equal(snap.files().length, 4);
      const events = await readRows(tables.events, await tables.events.snapshot());
      for (const e of events) orders.add(String(e.order_id));
      const current = await readRows(tables.current, snap);
      assert.equal(current.length, orders.size);
    }),
);
