/**
 * DuckDB failing under the pipeline: a transient failure (an I/O error of DuckDB while a
 * sink writes a batch's files) is retried with back-off and the run completes with every record
 * exactly once; a permanent one (a sink's select DuckDB cannot bind) stops the run at
 * once with its code and a message that says what to fix.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { JsonDecoder } from '../../src/connectors/json/decoder.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import { ordersContract } from '../../src/scenarios/orders/contract.ts';
import { generateOrders } from '../../src/scenarios/orders/generate.ts';
import { eventsSelect, ordersPipeline } from '../../src/scenarios/orders/pipeline.ts';
import { Pipeline } from '../../src/stream/pipeline.ts';
import { DeltaAppendSink } from '../../src/stream/sinks/delta-append.ts';
import { TopicSource } from '../../src/stream/sources/topic.ts';
import type { BatchView, ExtraTxn, Progress, Sink } from '../../src/stream/types.ts';
import type { DeltaTable } from '../../src/table/table.ts';
import { assertOutputs, expectedFrom, readTopic } from '../scenarios/orders-oracle.ts';
import { withLog } from './with-log.ts';

const T0 = Date.UTC(2026, 0, 27, 10, 0, 0);

describe('DuckDB failing under the pipeline', { timeout: 180_000 }, () => {
  test('an I/O error while a sink writes its files: retried with back-off, every record exactly once', () =>
    withLog('duckdb-failures', async (log, dir) => {
      await generateOrders({ log, count: 4_000, seed: 41, clock: new ManualClock(T0), malformedRate: 0.01 });
      const { tables, sinks, pipeline: full } = await ordersPipeline({ dataDir: dir, log });
      await full.close();
      // For one batch, orders_events' Parquet files go where DuckDB cannot create them (a
      // directory that is a plain file, like a scratch directory gone read-only): DuckDB
      // itself fails the COPY with an I/O error.
      const notADir = join(dir, 'not-a-directory');
      writeFileSync(notADir, '');
      let calls = 0;
      let injected: unknown;
      const events: Sink & { table: DeltaTable } = new Proxy(sinks.events, {
        get(target, key) {
          if (key === 'write') {
            return async (batch: BatchView, ...rest: [Progress, ExtraTxn]) => {
              if (++calls !== 2) return target.write(batch, ...rest);
              const conn = new Proxy(batch.conn, {
                get(c, k, receiver) {
                  if (k !== 'run') return Reflect.get(c, k, receiver);
                  return (sql: string, ...args: unknown[]) =>
                    (c.run as (...a: unknown[]) => Promise<unknown>)(
                      sql.startsWith('COPY')
                        ? sql.replace(/ TO '[^']*\/([^'/]+)' \(/, ` TO '${notADir}/$1' (`)
                        : sql,
                      ...args,
                    );
                },
              });
              try {
                return await target.write({ ...batch, conn }, ...rest);
              } catch (err) {
                injected = err;
                throw err;
              }
            };
          }
          const v = Reflect.get(target, key);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      const sleeps: number[] = [];
      const pipeline = new Pipeline({
        name: 'orders',
        source: new TopicSource(log, 'orders'),
        decoder: new JsonDecoder(ordersContract),
        sinks: [events, sinks.current],
        dlq: { log: log, topic: 'orders.dlq', progressIn: events },
        maxRecordsPerBatch: 1_000,
        triggerMs: 0,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      });
      await pipeline.open();
      const errors: unknown[] = [];
      await pipeline.run({ untilCaughtUp: true, retryBackoffMs: 5, onError: (e) => errors.push(e) });
      await pipeline.close();
      assert.ok(isTributaryError(injected, 'DUCKDB_IO'), `DuckDB's I/O error, mapped: ${String(injected)}`);
      assert.match((injected as Error).message, /IO Error: .*not-a-directory/);
      assert.deepEqual(errors, [injected], 'reported once, then retried');
      assert.deepEqual(sleeps, [5], 'after the back-off');
      await assertOutputs(expectedFrom(await readTopic(log, 'orders')), tables, log, 'orders.dlq');
    }));

  test('a sink select DuckDB cannot bind stops the run with DUCKDB_SQL and says what to fix', () =>
    withLog('duckdb-failures', async (log, dir) => {
      await generateOrders({ log, count: 500, seed: 42, clock: new ManualClock(T0), malformedRate: 0 });
      const { tables, pipeline: full } = await ordersPipeline({ dataDir: dir, log });
      await full.close();
      const events = new DeltaAppendSink({
        name: 'orders_events',
        appIdPrefix: 'orders/orders_events/orders',
        table: tables.events,
        select: (from) => eventsSelect(from).replace('currency,', 'currency_code AS currency,'),
      });
      const pipeline = new Pipeline({
        name: 'orders',
        source: new TopicSource(log, 'orders'),
        decoder: new JsonDecoder(ordersContract),
        sinks: [events],
        sleep: async () => {},
      });
      await pipeline.open();
      const retried: unknown[] = [];
      try {
        await assert.rejects(
          pipeline.run({ untilCaughtUp: true, onError: (e) => retried.push(e) }),
          (err: unknown) => {
            assert.ok(isTributaryError(err, 'DUCKDB_SQL'), String(err));
            assert.equal(err.retryable, false);
            assert.match(err.message, /Binder Error: .*currency_code/);
            assert.match(err.message, /a sink's select/);
            return true;
          },
        );
      } finally {
        await pipeline.close();
      }
      assert.equal(retried.length, 0, 'not retried');
      assert.equal((await tables.events.snapshot()).files().length, 0, 'nothing written');
    }));
});
