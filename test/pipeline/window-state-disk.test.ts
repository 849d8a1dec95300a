/**
 * The windows' saved state on disk stays bounded as a pipeline runs: each batch saves a
 * state version in a directory of its own, and versions the sinks have moved past are
 * pruned with their directories, so a pipeline running for days does not leave one
 * directory per batch behind. The tables stay right throughout (counted per window).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compilePipeline } from '../../src/pipeline/compile.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import { readRows } from '../../src/table/index.ts';
import { withLog } from '../stream/with-log.ts';

const DEF = `
name: state_disk
source: { topic: clicks, partitions: 2 }
contract:
  name: clicks.v1
  fields:
    - { name: page, type: string }
    - { name: ts, type: integer }
event_time: { expr: epoch_ms(ts), watermark: 1 minute }
transforms:
  - name: per_minute
    window: { type: tumble, size: 1 minute }
    group_by: [page]
    aggregates: { views: count(*) }
    emit: final
sinks:
  - { name: page_minutes, type: delta_append, from: per_minute, table: page_minutes }
runtime: { trigger: 10ms, max_records_per_batch: 50 }
`;

const T0 = Date.UTC(2026, 10, 28, 9, 0, 0);
const MIN = 60_000;

describe('window state on disk', () => {
  it('keeps only the state versions the sinks still need, and no empty directory per pruned batch', async () => {
    await withLog('window-state-disk', async (log, dir) => {
      const dataDir = join(dir, 'data');
      await log.ensureTopic('clicks', { partitions: 2 });
      // 3,000 clicks, one a second, in order: 60 batches of 50, 50 minutes of event time.
      const clicks = Array.from({ length: 3000 }, (_, i) => ({ page: `p${i % 3}`, ts: T0 + i * 1000 }));
      await log.produce(
        clicks.map((c, i) => ({
          topic: 'clicks',
          partition: i % 2,
          value: new TextEncoder().encode(JSON.stringify(c)),
        })),
      );
      const c = await compilePipeline(fromYaml(DEF, 'state-disk.yaml'), { dataDir, log });
      try {
        await c.pipeline.run({ untilCaughtUp: true });
      } finally {
        await c.pipeline.close();
      }
      assert.ok(c.pipeline.metrics.batches >= 50, `${c.pipeline.metrics.batches} batches`);

      // Closed windows (end ≤ newest time − 1 minute), 3 pages each, 20 clicks per page.
      const table = c.tables.get('page_minutes')!;
      const rows = await readRows(table, await table.snapshot());
      const watermark = clicks.at(-1)!.ts - MIN;
      const closed = Math.floor((watermark - T0) / MIN);
      assert.equal(rows.length, closed * 3, 'each closed (minute, page) window once');
      assert.ok(rows.every((r) => Number(r.views) === 20));

      const stateDir = join(dataDir, 'state', 'state_disk', 'windows', 'per_minute');
      const versions = readdirSync(stateDir);
      const empty = versions.filter((v) => readdirSync(join(stateDir, v)).length === 0);
      assert.deepEqual(empty, [], 'no empty directory of a pruned state version');
      // Pruned every 10 batches: at most the last 10 versions are left.
      assert.ok(versions.length <= 11, `${versions.length} state versions kept`);
      const plans = readdirSync(join(dataDir, 'state', 'state_disk', 'plans'));
      assert.equal(plans.length, versions.length, 'one plan per state version kept');
    });
  });
});
