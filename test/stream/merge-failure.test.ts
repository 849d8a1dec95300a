/**
 * A MERGE that fails in the background must stop the next one: its changes are not in
 * orders_current, so a MERGE of later batches must not commit progress past them. Here
 * the first MERGE's commit fails (its outcome unknown) exactly while the sink buffers the
 * next batch; before the fix the sink then merged the next batch alone and its txn moved
 * progress past the first batch, whose orders were lost for good.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { TributaryError } from '../../src/core/errors.ts';
import { openLog } from '../../src/log/open.ts';
import { generateOrders } from '../../src/scenarios/orders/generate.ts';
import { ordersPipeline } from '../../src/scenarios/orders/pipeline.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { assertOutputs, expectedFrom, readTopic } from '../scenarios/orders-oracle.ts';

test('a MERGE failing while the next batch is buffered is not passed over', {
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-merge-failure-'));
  const log = await openLog({ dataDir: dir });
  try {
    const clock = new ManualClock(Date.UTC(2026, 0, 27, 10, 0, 0));
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let failing = true;
    let armed = false;
    const wrapStore = (inner: ObjectStore, table: string): ObjectStore => {
      if (table !== 'orders_current') return inner;
      const faulty: ObjectStore = Object.create(inner);
      faulty.putIfAbsent = async (path, data) => {
        if (failing && path.startsWith('_delta_log/')) {
          armed = true;
          await gate;
          throw new TributaryError('STORAGE_IO', `injected: the write of ${path} failed`, { path });
        }
        return inner.putIfAbsent(path, data);
      };
      faulty.get = async (path) => {
        // The read-back cannot tell either: the outcome stays unknown.
        if (armed && failing && path.startsWith('_delta_log/0'))
          throw new TributaryError('STORAGE_INVALID_PATH', `injected: cannot read ${path}`, { path });
        return inner.get(path);
      };
      return faulty;
    };
    const { pipeline, tables, sinks } = await ordersPipeline({
      dataDir: dir,
      log,
      clock,
      sleep: async () => {},
      outcomeCheck: { attempts: 1, sleep: async () => {} },
      durableTables: false,
      wrapStore,
    });
    // Batch 1: its MERGE starts in the background and waits at its commit.
    await generateOrders({ log, count: 300, seed: 1, clock, malformedRate: 0 });
    await pipeline.runBatch();
    // Batch 2 (new orders only): the first MERGE fails while the sink buffers this batch.
    await generateOrders({ log, count: 300, seed: 2, clock, malformedRate: 0 });
    const sink = sinks.current as unknown as { opts: { select: (from: string) => string } };
    const select = sink.opts.select;
    let calls = 0;
    sink.opts.select = (from) => {
      if (++calls === 1) {
        release();
        // The first MERGE's read-back (its next store call) still fails; then the store heals.
        setImmediate(() => {
          failing = false;
        });
      }
      return select(from);
    };
    const errors: unknown[] = [];
    await pipeline.run({ untilCaughtUp: true, retryBackoffMs: 0, onError: (err) => errors.push(err) });
    await pipeline.close();
    assert.ok(errors.length > 0, 'the failed MERGE was reported');
    await assertOutputs(expectedFrom(await readTopic(log, 'orders')), tables, log, 'orders.dlq');
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
