/**
 * A Delta table read as a stream: bronze → silver chained continuously. Pipeline
 * `clicks` lands events in table `clicks`; pipeline `purchases` reads that table's new
 * versions and keeps the rows with an amount. Run interleaved and restarted, the silver
 * table holds exactly the bronze rows with an amount, once each; a table whose versions
 * rewrite rows (MERGE) is refused as a stream source with the version named.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import type { Log } from '../../src/log/log.ts';
import { compilePipeline } from '../../src/pipeline/compile.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import { readRows } from '../../src/table/index.ts';
import { withLog } from '../stream/with-log.ts';
import { runUntilCaughtUp } from './run-definition.ts';

const BRONZE = `
name: clicks
source: { topic: clicks, partitions: 2 }
contract:
  name: clicks.v1
  fields:
    - { name: user_id, type: string }
    - { name: page, type: string }
    - { name: ts, type: integer }
    - { name: amount, type: number, required: false, decimals: 2 }
transforms:
  - name: rows
    sql: SELECT user_id, page, epoch_ms(ts) AS seen_at, amount::DECIMAL(10,2) AS amount FROM input
  - name: last
    sql: SELECT user_id, arg_max(page, seen_at) AS page, max(seen_at) AS seen_at FROM rows GROUP BY user_id
sinks:
  - { name: clicks, type: delta_append, from: rows, table: clicks }
  - { name: last_page, type: delta_merge, from: last, table: last_page, key: [user_id], newest_by: [seen_at] }
runtime: { trigger: 10ms, max_records_per_batch: 400 }
`;

const SILVER = `
name: purchases
source: { table: clicks }
transforms:
  - name: bought
    sql: SELECT user_id, seen_at, amount, _o AS bronze_version FROM input WHERE amount IS NOT NULL
sinks:
  - { name: purchases, type: delta_append, from: bought, table: purchases }
runtime: { trigger: 10ms, max_records_per_batch: 500 }
`;

async function produce(log: Log, from: number, n: number) {
  await log.produce(
    Array.from({ length: n }, (_, k) => {
      const i = from + k;
      const click = {
        user_id: `u${i % 17}`,
        page: `p${i % 5}`,
        ts: 1_764_000_000_000 + i * 1000,
        ...(i % 3 === 0 ? { amount: (i % 100) + 0.25 } : {}),
      };
      return { topic: 'clicks', partition: i % 2, value: new TextEncoder().encode(JSON.stringify(click)) };
    }),
  );
}

describe('a Delta table read as a stream', () => {
  it('chains bronze → silver exactly once across interleaved runs and restarts', async () => {
    await withLog('table-source', async (log, dir) => {
      const dataDir = join(dir, 'data');
      const run = (yaml: string) => runUntilCaughtUp(fromYaml(yaml, 'p.yaml'), { dataDir, log });
      await log.ensureTopic('clicks', { partitions: 2 });
      await produce(log, 0, 1500);
      await run(BRONZE);
      await run(SILVER);
      await produce(log, 1500, 1200);
      const bronze = await run(BRONZE);
      await run(SILVER);
      const silver = await run(SILVER); // nothing new: a restart that reads nothing twice

      const clicks = bronze.tables.get('clicks')!;
      const want = (await readRows(clicks, await clicks.snapshot()))
        .filter((r) => r.amount !== null)
        .map((r) => `${r.user_id}|${new Date(String(r.seen_at)).toISOString()}|${r.amount}`)
        .sort();
      const purchases = silver.tables.get('purchases')!;
      const rows = await readRows(purchases, await purchases.snapshot());
      const got = rows
        .map((r) => `${r.user_id}|${new Date(String(r.seen_at)).toISOString()}|${r.amount}`)
        .sort();
      assert.equal(want.length, 900);
      assert.deepEqual(got, want, 'every bronze row with an amount, once');
      const versions = new Set(rows.map((r) => Number(r.bronze_version)));
      assert.ok(versions.size > 3, 'rows came from several bronze versions');
      const snap = await purchases.snapshot();
      assert.equal(
        snap.txnVersion('purchases/purchases/clicks/0'),
        (await clicks.snapshot()).version,
        'progress: the last bronze version read',
      );
    });
  });

  it('refuses a source table whose versions rewrite rows, naming the version', async () => {
    await withLog('table-source-merge', async (log, dir) => {
      const dataDir = join(dir, 'data');
      await log.ensureTopic('clicks', { partitions: 2 });
      await produce(log, 0, 300);
      const b = await compilePipeline(fromYaml(BRONZE, 'b.yaml'), { dataDir, log });
      await b.pipeline.run({ untilCaughtUp: true });
      await b.pipeline.close();
      await produce(log, 300, 300);
      const b2 = await compilePipeline(fromYaml(BRONZE, 'b.yaml'), { dataDir, log });
      await b2.pipeline.run({ untilCaughtUp: true });
      await b2.pipeline.close();
      const fromMerge = SILVER.replace('source: { table: clicks }', 'source: { table: last_page }').replace(
        'SELECT user_id, seen_at, amount, _o AS bronze_version FROM input WHERE amount IS NOT NULL',
        'SELECT user_id, page FROM input',
      );
      const c = await compilePipeline(fromYaml(fromMerge, 's.yaml'), { dataDir, log });
      try {
        await assert.rejects(
          c.pipeline.run({ untilCaughtUp: true, maxRetries: 0 }),
          (err) =>
            isTributaryError(err, 'SOURCE_UNSUPPORTED_CHANGE') &&
            /table 'last_page' version \d+ \(MERGE\) removes or rewrites rows/.test(err.message),
        );
      } finally {
        await c.pipeline.close();
      }
    });
  });

  it('validate refuses a source table that does not exist yet', async () => {
    await withLog('table-source-missing', async (log, dir) => {
      await assert.rejects(
        compilePipeline(fromYaml(SILVER, 's.yaml'), { dataDir: join(dir, 'data'), log }),
        /s\.yaml:3:18: source\.table: no Delta table at .*tables\/clicks \(yet\): run the pipeline that writes it first/,
      );
    });
  });
});
