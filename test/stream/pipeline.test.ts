/**
 * Runtime behaviour on the orders scenario with the embedded log: a sink that is behind
 * catches up alone; dedup state survives restarts and looks late records up in the
 * table; maintenance runs on the clock; backpressure bounds batch sizes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JsonDecoder } from '../../src/connectors/json/decoder.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { TributaryError } from '../../src/core/errors.ts';
import type { Log } from '../../src/log/log.ts';
import { ordersContract } from '../../src/scenarios/orders/contract.ts';
import { generateOrders } from '../../src/scenarios/orders/generate.ts';
import { eventsSelect, ordersPipeline } from '../../src/scenarios/orders/pipeline.ts';
import { Pipeline } from '../../src/stream/pipeline.ts';
import { DeltaAppendSink } from '../../src/stream/sinks/delta-append.ts';
import { TopicSource } from '../../src/stream/sources/topic.ts';
import type { Sink, SinkResult } from '../../src/stream/types.ts';
import type { DeltaTable } from '../../src/table/table.ts';
import { assertOutputs, expectedFrom, readTopic } from '../scenarios/orders-oracle.ts';
import { withLog } from './with-log.ts';

const T0 = Date.UTC(2026, 0, 27, 10, 0, 0);

function event(id: number, order: number, ts: number, status = 'CREATED'): string {
  const hex = id.toString(16).padStart(12, '0');
  return JSON.stringify({
    event_id: `00000000-0000-4000-8000-${hex}`,
    event_type: `ORDER_${status}`,
    event_timestamp: ts,
    order_id: `ord-20260127-${String(order).padStart(10, '0')}`,
    user_id: 'u-1',
    total_amount: 10,
    currency: 'USD',
    payment_method: 'PAYPAL',
    items: [{ sku: 'SKU-1', quantity: 1, unit_price: 10, category: 'Books' }],
    current_status: status,
  });
}

async function produce(log: Log, values: string[]): Promise<void> {
  await log.ensureTopic('orders', { partitions: 4 });
  await log.produce(
    values.map((v) => ({ topic: 'orders', key: Buffer.from(JSON.parse(v).order_id), value: Buffer.from(v) })),
  );
}

function eventsSink(table: DeltaTable, dedup = true): DeltaAppendSink {
  return new DeltaAppendSink({
    name: 'orders_events',
    appIdPrefix: 'orders/orders_events/orders',
    table,
    select: eventsSelect,
    dedup: dedup
      ? { key: 'event_id', batchTime: 'event_timestamp', tableTime: 'event_timestamp', horizonSeconds: 60 }
      : undefined,
  });
}

/**
 * Generates 4,000 events (`seed`), then runs a pipeline whose only sink is orders_events
 * without dedup (only the progress kept in the table prevents a second write), written
 * through `write` (which may fail), in batches of 1,000, retrying until caught up.
 * Returns the errors it reported, the rows in the table and what the topic says.
 */
async function runFlaky(
  log: Log,
  dir: string,
  seed: number,
  write: (
    inner: DeltaAppendSink,
    ...args: [...Parameters<Sink['write']>, pipeline: Pipeline, table: DeltaTable]
  ) => Promise<SinkResult>,
) {
  await generateOrders({ log, count: 4_000, seed, clock: new ManualClock(T0), malformedRate: 0.01 });
  const { tables, pipeline: full } = await ordersPipeline({ dataDir: dir, log });
  await full.close();
  const inner = eventsSink(tables.events, false);
  const flaky: Sink & { table: DeltaTable } = {
    name: inner.name,
    usesBatchConnection: true,
    table: tables.events,
    open: (conn, partitions) => inner.open(conn, partitions),
    write: (batch, progress, extra) => write(inner, batch, progress, extra, pipeline, tables.events),
  };
  const pipeline = new Pipeline({
    name: 'orders',
    source: new TopicSource(log, 'orders'),
    decoder: new JsonDecoder(ordersContract),
    sinks: [flaky],
    dlq: { log: log, topic: 'orders.dlq', progressIn: flaky },
    maxRecordsPerBatch: 1_000,
    sleep: async () => {},
  });
  await pipeline.open();
  const errors: unknown[] = [];
  await pipeline.run({ untilCaughtUp: true, onError: (e) => errors.push(e) });
  await pipeline.close();
  const rows = (await tables.events.snapshot())
    .files()
    .reduce((n, f) => n + JSON.parse(f.stats!).numRecords, 0);
  return { errors, rows, expected: expectedFrom(await readTopic(log, 'orders')), metrics: pipeline.metrics };
}

describe('stream runtime', { timeout: 180_000 }, () => {
  test('commits lost to another writer of the table are counted as conflicts, and nothing is lost', () =>
    withLog('stream', async (log, dir) => {
      let other = 0;
      const { errors, rows, expected, metrics } = await runFlaky(
        log,
        dir,
        23,
        (inner, batch, progress, extra, _pipeline, table) =>
          inner.write(batch, progress, async () => {
            const more = await extra();
            // Between this batch's snapshot and its commit, another writer commits to the
            // table (a progress marker of its own): the batch's first try loses the race.
            const snap = await table.snapshot();
            // (The first batch creates the table: nothing to race with yet.)
            if (snap.version < 0) return more;
            await table.commit([{ txn: { appId: 'another-writer', version: ++other } }], {
              readSnapshot: snap,
              operation: 'STREAMING UPDATE',
            });
            return more;
          }),
      );
      assert.deepEqual(errors, []);
      assert.equal(
        rows,
        expected.events.size + expected.duplicates,
        'every valid record once (no dedup here)',
      );
      assert.ok(other >= 3, `${other} batches raced`);
      const c = metrics.sink('orders_events');
      assert.equal(c.conflicts, other, 'one lost try per batch raced');
      assert.equal(c.commits, other + 1);
    }));

  test('a sink that is behind re-processes only what it lacks', () =>
    withLog('stream', async (log, dir) => {
      await generateOrders({ log, count: 6_000, seed: 8, clock: new ManualClock(T0), malformedRate: 0.01 });
      const full = await ordersPipeline({ dataDir: dir, log });
      await full.pipeline.close();
      // First only orders_events runs (a pipeline with that sink alone)...
      const [events] = [
        new DeltaAppendSink({
          name: 'orders_events',
          appIdPrefix: 'orders/orders_events/orders',
          table: full.tables.events,
          select: eventsSelect,
          dedup: {
            key: 'event_id',
            batchTime: 'event_timestamp',
            tableTime: 'event_timestamp',
            horizonSeconds: 60,
          },
        }),
      ];
      const alone = new Pipeline({
        name: 'orders',
        source: new TopicSource(log, 'orders'),
        decoder: new JsonDecoder(ordersContract),
        sinks: [events],
        dlq: { log: log, topic: 'orders.dlq', progressIn: events },
      });
      await alone.open();
      await alone.run({ untilCaughtUp: true });
      await alone.close();
      const eventsVersion = (await full.tables.events.snapshot()).version;
      // ...then the full pipeline: orders_current catches up from the start, alone.
      const both = await ordersPipeline({ dataDir: dir, log, maxRecordsPerBatch: 2_500 });
      await both.pipeline.run({ untilCaughtUp: true });
      await both.pipeline.close();
      assert.equal(both.pipeline.metrics.sink('orders_events').rows, 0);
      assert.equal(both.pipeline.metrics.dlqWritten, 0, 'the DLQ is not written twice');
      assert.ok(both.pipeline.metrics.sink('orders_current').rows > 0);
      assert.equal(
        (await full.tables.events.snapshot()).version,
        eventsVersion,
        'orders_events got no commit',
      );
      await assertOutputs(expectedFrom(await readTopic(log, 'orders')), full.tables, log, 'orders.dlq');
    }));

  test('a failed batch whose commit did land is not written twice', () =>
    withLog('stream', async (log, dir) => {
      let failures = 0;
      // The commit happens, then the storage "fails" before answering: an ambiguous commit.
      const run = await runFlaky(log, dir, 12, async (inner, batch, progress, extra) => {
        const res = await inner.write(batch, progress, extra);
        if (failures++ < 2) throw new TributaryError('STORAGE_IO', 'lost the answer', {});
        return res;
      });
      assert.equal(run.errors.length, 2);
      assert.equal(
        run.rows,
        run.expected.events.size + run.expected.duplicates,
        'every valid record once (no dedup here)',
      );
    }));

  test('a batch that fails before its commit is read again, though the next one was already read ahead', () =>
    withLog('stream', async (log, dir) => {
      let calls = 0;
      let aheadWhenFailing = false;
      // Batches 2 and 3 fail before writing anything; batch 4 is read ahead meanwhile.
      const run = await runFlaky(log, dir, 13, async (inner, batch, progress, extra, pipeline) => {
        calls++;
        if (calls === 2 || calls === 3) {
          aheadWhenFailing ||= (pipeline as unknown as { ahead?: unknown }).ahead !== undefined;
          throw new TributaryError('STORAGE_IO', 'disk hiccup', {});
        }
        return inner.write(batch, progress, extra);
      });
      assert.equal(run.errors.length, 2);
      assert.ok(aheadWhenFailing, 'the next batch was being read ahead when the batch failed');
      assert.equal(
        run.rows,
        run.expected.events.size + run.expected.duplicates,
        'every valid record exactly once',
      );
      assert.equal(
        (await readTopic(log, 'orders.dlq')).length,
        run.expected.rejects.size,
        'every rejected record in the DLQ exactly once',
      );
    }));

  test('dedup survives restarts and checks records older than the horizon in the table', () =>
    withLog('stream', async (log, dir) => {
      const sec = T0 / 1000;
      const run = async () => {
        const p = await ordersPipeline({ dataDir: dir, log, dedupHorizonSeconds: 5 });
        await p.pipeline.run({ untilCaughtUp: true });
        await p.pipeline.close();
        return p;
      };
      await produce(log, [event(1, 1, sec), event(2, 2, sec + 1)]);
      await run();
      // A restart must still know events 1 and 2; the watermark moves 100 s ahead.
      await produce(log, [event(1, 1, sec), event(3, 3, sec + 100)]);
      await run();
      // Event 2 again, now far older than the horizon: found in the table, not admitted.
      // Event 4 is as old but new: admitted. Event 3 again, in the same batch as itself.
      await produce(log, [
        event(2, 2, sec + 1),
        event(4, 4, sec + 2),
        event(3, 3, sec + 100),
        event(3, 3, sec + 100),
      ]);
      const last = await run();
      assert.equal(last.pipeline.metrics.sink('orders_events').duplicates, 3);
      await assertOutputs(expectedFrom(await readTopic(log, 'orders')), last.tables, log, 'orders.dlq');
    }));

  test('maintenance runs on the clock: OPTIMIZE compacts, data unchanged', () =>
    withLog('stream', async (log, dir) => {
      const clock = new ManualClock(T0);
      await generateOrders({ log, count: 3_000, seed: 2, clock });
      const { pipeline, tables } = await ordersPipeline({
        dataDir: dir,
        log,
        clock,
        maintenanceIntervalMs: 60_000,
        maxRecordsPerBatch: 1_000,
      });
      await pipeline.run({ untilCaughtUp: true });
      assert.ok(pipeline.metrics.batches >= 3, 'backpressure: 3,000 records in batches of 1,000');
      const before = (await tables.events.snapshot()).files().length;
      assert.ok(before >= 3);
      assert.equal(await pipeline.maybeMaintain(), false, 'not due yet');
      clock.advance(60_000);
      assert.equal(await pipeline.maybeMaintain(), true);
      await pipeline.close();
      const ops = (await tables.events.history()).map((h) => h.operation);
      assert.ok(ops.includes('OPTIMIZE'), `history: ${ops.join(', ')}`);
      assert.ok((await tables.events.snapshot()).files().length < before);
      await assertOutputs(expectedFrom(await readTopic(log, 'orders')), tables, log, 'orders.dlq');
    }));
});
