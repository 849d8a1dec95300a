/**
 * The orders tables as the pipeline leaves them — appends by the hour, copy-on-write
 * MERGEs into small snappy files, compaction in key order (zstd) during the run, money
 * as DECIMAL(12,2), nested items — read the same, row for row, in delta-rs, in Spark
 * and in Tributary.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { openLog } from '../../src/log/open.ts';
import { generateOrders } from '../../src/scenarios/orders/generate.ts';
import { ordersPipeline } from '../../src/scenarios/orders/pipeline.ts';
import { ORDERS_CURRENT_SCHEMA, ORDERS_EVENTS_SCHEMA } from '../../src/scenarios/orders/tables.ts';
import { readRows } from '../../src/table/index.ts';
import { cleanup, deltaRsRead, normRows, pythonSkip, tempDir } from '../interop/helpers.ts';
import { Spark, sparkSkip } from './spark.ts';

const skip = sparkSkip() ?? pythonSkip();

describe('orders tables read by delta-rs and Spark', { skip, timeout: 600_000 }, () => {
  let dir: string;
  let spark: Spark;
  before(async () => {
    dir = await tempDir('orders-interop');
    spark = await Spark.start();
  });
  after(async () => {
    await spark?.close();
    await cleanup(dir);
  });

  test('after MERGEs and compaction, every reader sees the same rows', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 27, 9, 50, 0));
    const log = await openLog({ dataDir: dir });
    try {
      await generateOrders({ log, count: 12_000, seed: 5, clock, malformedRate: 0.01 });
      // 20 s of clock per batch: MERGEs write small files, and compaction (every 30 s, of
      // files a minute old) rewrites the older ones while the run goes on.
      const { pipeline, tables } = await ordersPipeline({
        dataDir: dir,
        log,
        clock,
        maxRecordsPerBatch: 1_000,
      });
      await pipeline.run({ untilCaughtUp: true, onBatch: () => clock.advance(20_000) });
      await pipeline.close();
      const history = await tables.current.history();
      assert.ok(
        history.some((h) => h.operation === 'OPTIMIZE'),
        'orders_current was compacted during the run',
      );

      for (const [name, table, schema] of [
        ['orders_events', tables.events, ORDERS_EVENTS_SCHEMA],
        ['orders_current', tables.current, ORDERS_CURRENT_SCHEMA],
      ] as const) {
        const ours = normRows(await readRows(table, await table.snapshot()), schema);
        assert.ok(ours.length > 1_000, `${name} has rows`);
        const path = `${dir}/tables/${name}`;
        const deltaRs = await deltaRsRead(path);
        assert.equal(deltaRs.rows.length, ours.length, `${name}: delta-rs row count`);
        assert.deepEqual(deltaRs.rows, ours, `${name}: delta-rs reads our rows`);
        const theirs = await spark.read(path);
        assert.equal(theirs.rows.length, ours.length, `${name}: Spark row count`);
        assert.deepEqual(theirs.rows, ours, `${name}: Spark reads our rows`);
      }
      // Money sums exactly (DECIMAL) in Spark as in our rows.
      const [sum] = await spark.sql(
        `SELECT CAST(sum(total_amount) AS STRING) AS s FROM delta.\`${dir}/tables/orders_current\``,
      );
      const cents = (await readRows(tables.current, await tables.current.snapshot())).reduce(
        (n, r) => n + BigInt(String(r.total_amount).replace('.', '')),
        0n,
      );
      assert.equal(sum.s, `${cents / 100n}.${String(cents % 100n).padStart(2, '0')}`);
    } finally {
      await log.close();
    }
  });
});
