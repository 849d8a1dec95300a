/**
 * The orders pipeline creates its tables with their first batch: opening it writes no
 * table, and version 0 of orders_events and of orders_current each hold the table's
 * protocol, metaData, the first batch's rows and the stream's progress (txn, the DLQ's
 * in orders_events), as Spark and delta-rs number a table's versions. delta-rs reads
 * the rows at version 0. A restart reads its progress from version 0 and reads nothing
 * again.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { openLog } from '../../src/log/open.ts';
import { generateOrders } from '../../src/scenarios/orders/generate.ts';
import { ordersPipeline } from '../../src/scenarios/orders/pipeline.ts';
import { tablesDir } from '../../src/scenarios/orders/tables.ts';
import type { Action } from '../../src/table/actions.ts';
import { readRows } from '../../src/table/index.ts';
import type { DeltaTable } from '../../src/table/table.ts';
import { deltaRsRead, pythonSkip } from '../interop/helpers.ts';

async function version0(table: DeltaTable): Promise<Action[]> {
  const text = new TextDecoder().decode(await table.store.get('_delta_log/00000000000000000000.json'));
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Action);
}

test('the first batch of the orders pipeline is version 0 of each table, with its rows and progress', {
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-orders-v0-'));
  const log = await openLog({ dataDir: dir });
  const clock = new ManualClock(Date.UTC(2026, 1, 2, 10, 0, 0));
  const opened = await ordersPipeline({ dataDir: dir, log, clock, sleep: async () => {} });
  const { pipeline, tables } = opened;
  try {
    const eventsDir = join(tablesDir(dir), 'orders_events');
    const currentDir = join(tablesDir(dir), 'orders_current');
    // Opened, and an empty log read: no table yet, and empty progress.
    assert.equal((await pipeline.runBatch()).records, 0);
    assert.equal(existsSync(join(eventsDir, '_delta_log')), false);
    assert.equal(existsSync(join(currentDir, '_delta_log')), false);
    assert.ok(pipeline.positions().every((p) => p === 0));

    await generateOrders({ log, count: 500, seed: 8, clock, malformedRate: 0.02 });
    assert.equal((await pipeline.runBatch()).records, 500);
    await pipeline.close();

    for (const [name, table] of [
      ['orders_events', tables.events],
      ['orders_current', tables.current],
    ] as const) {
      const actions = await version0(table);
      const kinds = new Set(actions.map((a) => Object.keys(a)[0]));
      for (const k of ['commitInfo', 'protocol', 'metaData', 'add', 'txn'])
        assert.ok(kinds.has(k), `${name} version 0 has ${k}: ${[...kinds].join(', ')}`);
      const snap0 = await table.snapshot({ version: 0 });
      const rows = await readRows(table, snap0);
      assert.ok(rows.length > 0, `${name} has rows at version 0`);
      if (pythonSkip() === undefined) {
        const rs = await deltaRsRead(name === 'orders_events' ? eventsDir : currentDir, { version: 0 });
        assert.equal(rs.version, 0);
        assert.equal(rs.rows.length, rows.length, `delta-rs reads ${name}'s first batch at version 0`);
      }
    }
    const txns = (await version0(tables.events))
      .filter((a) => 'txn' in a)
      .map((a) => ('txn' in a ? a.txn.appId : ''));
    assert.ok(
      txns.some((id) => /dlq/i.test(id)),
      `the DLQ's progress rides in orders_events' version 0: ${txns.join(', ')}`,
    );

    // A restart reads its progress from version 0: nothing is read or committed again.
    const again = await ordersPipeline({ dataDir: dir, log, clock, sleep: async () => {} });
    assert.equal((await again.pipeline.runBatch()).records, 0);
    await again.pipeline.close();
    assert.equal((await again.tables.events.snapshot()).version, 0);
    assert.equal((await again.tables.current.snapshot()).version, 0);
  } finally {
    await pipeline.close();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
