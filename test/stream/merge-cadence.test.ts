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

test('orders_current is merged again each interval while the pipeline runs', {
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-merge-cadence-'));
  const log = await openLog({ dataDir: dir });
  const clock = new ManualClock(Date.UTC(2026, 0, 27, 10, 0, 0));
  const { pipeline, tables, sinks } = await ordersPipeline({
    dataDir: dir,
    log,
    clock,
    currentCommitMs: 1_000,
    sleep: async () => {},
  });
  try {
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
  } finally {
    await pipeline.close();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
