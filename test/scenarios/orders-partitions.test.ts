/**
 * orders_events is partitioned by the UTC hour of `event_timestamp`: each file's
 * `event_hour` partition value is that hour for every row in it, both for a batch
 * inside one hour (written as one file, without PARTITION_BY) and for a batch spanning
 * two hours.
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
import { readRows, scan } from '../../src/table/index.ts';

function hourOf(ts: unknown): string {
  const d = new Date(typeof ts === 'string' || typeof ts === 'number' ? ts : String(ts));
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}-${p(d.getUTCHours())}`;
}

test('orders_events files hold the UTC hour of their rows as event_hour', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-orders-hours-'));
  const log = await openLog({ dataDir: dir });
  // 23:59:50 UTC: the second generation crosses midnight, into the next day's first hour.
  const clock = new ManualClock(Date.UTC(2026, 0, 31, 23, 59, 50));
  const { pipeline, tables } = await ordersPipeline({ dataDir: dir, log, clock, sleep: async () => {} });
  try {
    await generateOrders({ log, count: 200, seed: 3, clock, malformedRate: 0 });
    assert.equal((await pipeline.runBatch()).records, 200);
    const first = (await tables.events.snapshot()).files();
    assert.deepEqual(
      first.map((f) => f.partitionValues.event_hour),
      ['2026-01-31-23'],
    );
    await generateOrders({ log, count: 100, seed: 4, clock, malformedRate: 0 });
    clock.advance(20_000);
    await generateOrders({ log, count: 100, seed: 5, clock, malformedRate: 0 });
    assert.equal((await pipeline.runBatch()).records, 200);
    const snap = await tables.events.snapshot();
    const hours = new Set(snap.files().map((f) => f.partitionValues.event_hour));
    assert.deepEqual([...hours].sort(), ['2026-01-31-23', '2026-02-01-00']);
    let rows = 0;
    for (const hour of hours) {
      const files = await scan(tables.events, snap, {
        filter: [{ column: 'event_hour', op: '=', value: hour }],
      });
      for (const f of files) assert.equal(f.partitionValues.event_hour, hour);
      const inHour = await readRows(tables.events, snap, {
        filter: [{ column: 'event_hour', op: '=', value: hour }],
      });
      for (const r of inHour) assert.equal(hourOf(r.event_timestamp), hour, String(r.event_timestamp));
      rows += inHour.length;
    }
    assert.equal(rows, (await readRows(tables.events, snap)).length);
    assert.ok(rows > 350, `rows ${rows}`);
  } finally {
    await pipeline.close();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
