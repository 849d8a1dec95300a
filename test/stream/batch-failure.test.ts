/**
 * A failed batch is retried only once all of its work has settled: the DLQ write, every
 * sink's write and the MERGE sink's background commit. Progress reloaded while that work
 * still ran read the DLQ's tail too early (the retried batch sent its rejects again) and
 * reset the MERGE sink under a write still buffering into it. These runs retry with no
 * back-off, so no sleep hides the race.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JsonDecoder } from '../../src/connectors/json/decoder.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { TributaryError } from '../../src/core/errors.ts';
import type { Log } from '../../src/log/log.ts';
import { ordersContract } from '../../src/scenarios/orders/contract.ts';
import { generateOrders } from '../../src/scenarios/orders/generate.ts';
import { ordersPipeline } from '../../src/scenarios/orders/pipeline.ts';
import { decodeDeadLetter, originalBytes } from '../../src/stream/dead-letter.ts';
import { Pipeline } from '../../src/stream/pipeline.ts';
import { TopicSource } from '../../src/stream/sources/topic.ts';
import type { Sink } from '../../src/stream/types.ts';
import type { DeltaTable } from '../../src/table/table.ts';
import { assertOutputs, expectedFrom, readTopic } from '../scenarios/orders-oracle.ts';
import { withLog } from './with-log.ts';

const T0 = Date.UTC(2026, 0, 27, 10, 0, 0);
const DLQ = 'orders.dlq';

/**
 * The real log, except that once armed, the next produce to the DLQ is held back until
 * another DLQ produce arrives or `holdMs` pass: a slow acknowledgement, slower than a
 * retry's reload and re-read of the batch.
 */
function slowDlqLog(log: Log, holdMs = 400) {
  let armed = false;
  let release: (() => void) | undefined;
  let held = 0;
  const produce: Log['produce'] = async (records) => {
    if (records.some((r) => r.topic === DLQ)) {
      const waiting = release;
      release = undefined;
      waiting?.();
      if (armed) {
        armed = false;
        held++;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, holdMs);
          release = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        release = undefined;
      }
    }
    return log.produce(records);
  };
  const wrapped = new Proxy(log, {
    get(target, key) {
      if (key === 'produce') return produce;
      const v = Reflect.get(target, key);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return {
    log: wrapped,
    arm: () => {
      armed = true;
    },
    held: () => held,
  };
}

/** Source offsets of the DLQ's records: each must appear once, with its original bytes. */
async function assertDlqExactlyOnce(log: Log, expected: Map<string, Buffer>): Promise<void> {
  const seen = new Map<string, Buffer>();
  for (const r of await readTopic(log, DLQ)) {
    const d = decodeDeadLetter(r.value);
    const key = `${d.source_partition}/${d.source_offset}`;
    assert.ok(!seen.has(key), `record ${key} is in the DLQ more than once`);
    seen.set(key, Buffer.from(originalBytes(d) ?? []));
  }
  assert.equal(seen.size, expected.size, 'every rejected record is in the DLQ once');
  for (const [key, bytes] of expected) assert.ok(seen.get(key)?.equals(bytes), `DLQ holds ${key} as sent`);
}

/** A sink that fails (retryably, before writing anything) on the `failOn`-th write. */
function failingOn<S extends Sink>(
  inner: S,
  failOn: number,
  onFail: () => void,
  error = new TributaryError('STORAGE_IO', 'injected: the disk hiccuped', {}),
): S {
  let calls = 0;
  return new Proxy(inner, {
    get(target, key) {
      if (key === 'write') {
        return (...args: Parameters<Sink['write']>) => {
          if (++calls === failOn) {
            onFail();
            return Promise.reject(error);
          }
          return target.write(...args);
        };
      }
      const v = Reflect.get(target, key);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** `count` order events of `seed` with a share `malformed` of malformed ones. */
function orders(log: Log, count: number, seed: number, malformed: number): Promise<number> {
  return generateOrders({ log, count, seed, clock: new ManualClock(T0), malformedRate: malformed });
}

describe('a failed batch', { timeout: 180_000 }, () => {
  test('is retried once its DLQ write settled: every reject in the DLQ exactly once', () =>
    withLog('batch-failure', async (base, dir) => {
      await orders(base, 4_000, 31, 0.02);
      const { tables, sinks, pipeline: full } = await ordersPipeline({ dataDir: dir, log: base });
      await full.close();
      const slow = slowDlqLog(base);
      // The events sink fails its second batch while that batch's rejects are being produced.
      const events = failingOn(sinks.events, 2, slow.arm) as Sink & { table: DeltaTable };
      const pipeline = new Pipeline({
        name: 'orders',
        source: new TopicSource(slow.log, 'orders'),
        decoder: new JsonDecoder(ordersContract),
        sinks: [events],
        dlq: { log: slow.log, topic: DLQ, progressIn: events },
        maxRecordsPerBatch: 1_000,
        sleep: async () => {},
      });
      await pipeline.open();
      const errors: unknown[] = [];
      await pipeline.run({ untilCaughtUp: true, retryBackoffMs: 0, onError: (e) => errors.push(e) });
      await pipeline.close();
      assert.equal(errors.length, 1, 'the injected failure, once');
      assert.equal(slow.held(), 1, 'the failed batch had rejects to produce');
      const expected = expectedFrom(await readTopic(base, 'orders'));
      await assertDlqExactlyOnce(base, expected.rejects);
      const rows = (await tables.events.snapshot())
        .files()
        .reduce((n, f) => n + JSON.parse(f.stats!).numRecords, 0);
      assert.equal(rows, expected.events.size, 'every valid event once');
    }));

  test('is retried once the MERGE in flight and the DLQ write settled: tables and DLQ exact', () =>
    withLog('batch-failure', async (base, dir) => {
      await orders(base, 4_000, 32, 0.02);
      // A buffer of one row is always over-full: each write of orders_current waits for
      // the MERGE in flight before starting the next.
      const {
        tables,
        sinks,
        pipeline: full,
      } = await ordersPipeline({
        dataDir: dir,
        log: base,
        currentMaxBufferedRows: 1,
      });
      await full.close();
      const slow = slowDlqLog(base);
      // orders_current's commits are slow: its background MERGE is in flight for most of
      // each batch, and still is when orders_events fails its third batch.
      const store = tables.current.store;
      const putIfAbsent = store.putIfAbsent.bind(store);
      let slowCommits = 0;
      store.putIfAbsent = async (path, data) => {
        if (path.startsWith('_delta_log/') && path.endsWith('.json')) {
          slowCommits++;
          await new Promise((r) => setTimeout(r, 150));
        }
        return putIfAbsent(path, data);
      };
      const current = sinks.current;
      // Reloads and writes of orders_current must never overlap.
      let writing = 0;
      let openedWhileWriting = 0;
      const watched: Sink = new Proxy(current, {
        get(target, key) {
          if (key === 'write') {
            return async (...args: Parameters<Sink['write']>) => {
              writing++;
              try {
                return await target.write(...args);
              } finally {
                writing--;
              }
            };
          }
          if (key === 'open') {
            return (...args: Parameters<Sink['open']>) => {
              if (writing > 0) openedWhileWriting++;
              return target.open(...args);
            };
          }
          const v = Reflect.get(target, key);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      const events = failingOn(sinks.events, 3, slow.arm) as Sink & { table: DeltaTable };
      const pipeline = new Pipeline({
        name: 'orders',
        source: new TopicSource(slow.log, 'orders'),
        decoder: new JsonDecoder(ordersContract),
        sinks: [events, watched],
        dlq: { log: slow.log, topic: DLQ, progressIn: events },
        maxRecordsPerBatch: 1_000,
        sleep: async () => {},
      });
      await pipeline.open();
      const errors: unknown[] = [];
      await pipeline.run({ untilCaughtUp: true, retryBackoffMs: 0, onError: (e) => errors.push(e) });
      await pipeline.close();
      assert.equal(
        errors.length,
        1,
        `the injected failure, once: ${errors.map((e) => (e as Error).message)}`,
      );
      assert.ok(slowCommits > 1, 'orders_current committed through the slow store');
      assert.equal(
        openedWhileWriting,
        0,
        'orders_current was reloaded while a write of the failed batch ran',
      );
      await assertOutputs(expectedFrom(await readTopic(base, 'orders')), tables, base, DLQ);
    }));

  test('reports its first failure and passes on the others', () =>
    withLog('batch-failure', async (base, dir) => {
      await orders(base, 3_000, 33, 0.01);
      const { tables, sinks, pipeline: full } = await ordersPipeline({ dataDir: dir, log: base });
      await full.close();
      const appendFailed = new TributaryError('STORAGE_IO', 'injected: orders_events', {});
      const mergeFailed = new TributaryError('LOG_BROKER', 'injected: orders_current', {});
      const events = failingOn(sinks.events, 2, () => {}, appendFailed) as Sink & { table: DeltaTable };
      const current = failingOn(sinks.current, 2, () => {}, mergeFailed);
      const pipeline = new Pipeline({
        name: 'orders',
        source: new TopicSource(base, 'orders'),
        decoder: new JsonDecoder(ordersContract),
        sinks: [events, current],
        dlq: { log: base, topic: DLQ, progressIn: events },
        maxRecordsPerBatch: 1_000,
        sleep: async () => {},
      });
      await pipeline.open();
      const reports: Array<{ err: unknown; others: readonly unknown[] }> = [];
      await pipeline.run({
        untilCaughtUp: true,
        retryBackoffMs: 0,
        onError: (err, _attempt, others) => reports.push({ err, others }),
      });
      await pipeline.close();
      assert.equal(reports.length, 1, 'one failed batch');
      assert.equal(reports[0].others.length, 1);
      assert.deepEqual(
        new Set([reports[0].err, ...reports[0].others]),
        new Set([appendFailed, mergeFailed]),
        'both failures reported, neither twice',
      );
      await assertOutputs(expectedFrom(await readTopic(base, 'orders')), tables, base, DLQ);
    }));
});
