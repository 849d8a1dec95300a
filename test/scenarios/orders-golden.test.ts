/**
 * Golden check of the orders system: generate events with a seed into the embedded log,
 * run the pipeline until caught up (in several batches), and compare the tables and the
 * DLQ with the truth recomputed from the log (orders-oracle.ts). Then run it again and
 * check that nothing changes. Twice: orders_current merged as often as possible, and
 * merged every few batches from buffered changes.
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
import { assertOutputs, expectedFrom, readTopic } from './orders-oracle.ts';

async function golden(currentCommitMs: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-orders-golden-'));
  const log = await openLog({ dataDir: dir });
  try {
    // Event time advances 1 s every 2,000 records: many events of one order share a second.
    const start = Date.UTC(2026, 0, 27, 9, 59, 50);
    let n = 0;
    const produced = await generateOrders({
      log,
      count: 30_000,
      seed: 42,
      clock: { now: () => start + Math.floor(n++ / 2000) * 1000 },
      malformedRate: 0.01,
      duplicateRate: 0.01,
      outOfOrderRate: 0.05,
      activeOrders: 2_000,
    });
    assert.equal(produced, 30_000);
    const expected = expectedFrom(await readTopic(log, 'orders'));
    assert.ok(
      expected.rejects.size > 100 && expected.duplicates > 100,
      'the run exercises rejects and duplicates',
    );

    // The pipeline's clock moves 1 s per batch, so buffered merges happen every few batches.
    const clock = new ManualClock(start + 60_000);
    const first = await ordersPipeline({
      dataDir: dir,
      log,
      maxRecordsPerBatch: 7_000,
      clock,
      currentCommitMs,
    });
    await first.pipeline.run({ untilCaughtUp: true, onBatch: () => clock.advance(1_000) });
    const batches = first.pipeline.metrics.batches;
    const merges = first.pipeline.metrics.sink('orders_current').commits;
    assert.ok(batches >= 5, 'the backlog was absorbed over several batches');
    // MERGEs run in the background, one at a time: "every batch" means as often as they finish.
    assert.ok(merges > 1 && merges <= batches, `several MERGEs (${merges} for ${batches} batches)`);
    await first.pipeline.close();
    await assertOutputs(expected, first.tables, log, 'orders.dlq');
    const versions = [
      (await first.tables.events.snapshot()).version,
      (await first.tables.current.snapshot()).version,
    ];

    // A restart resumes from the tables' offsets: nothing is read again or committed.
    const again = await ordersPipeline({ dataDir: dir, log, clock, currentCommitMs });
    await again.pipeline.run({ untilCaughtUp: true });
    assert.equal(again.pipeline.metrics.recordsIn, 0);
    await again.pipeline.close();
    assert.deepEqual(
      [(await again.tables.events.snapshot()).version, (await again.tables.current.snapshot()).version],
      versions,
    );
    await assertOutputs(expected, again.tables, log, 'orders.dlq');
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('orders golden run: every valid event once, every invalid one in the DLQ once, latest state per order', {
  timeout: 240_000,
}, () => {
  test('orders_current merged as often as possible', () => golden(0));
  test('orders_current merged from buffered batches', () => golden(2_500));
});
