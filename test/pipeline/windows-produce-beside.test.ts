/**
 * A windowed pipeline reading the embedded log while this process keeps producing into
 * it: each batch reads every partition up to the ends they had at one instant
 * (Log.endsNow), so no partition is read further than another and nothing on time
 * becomes late. The watermark is the newest event time over all partitions less its
 * delay: before, a batch read its partitions at successive turns of the event loop, and
 * a partition read later held records produced meanwhile — minutes newer here — which
 * moved the watermark past records of the same moments on the partitions read earlier;
 * those then went to the DLQ as late (the clickstream outage test met it about once in
 * four runs on a loaded machine).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openLog } from '../../src/log/open.ts';
import { compilePipeline } from '../../src/pipeline/compile.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import { decodeDeadLetter } from '../../src/stream/dead-letter.ts';
import { readRows } from '../../src/table/index.ts';
import { MIN, T0 } from './window-fixtures.ts';

const DEFINITION = `
name: beside
source: { topic: clicks, partitions: 3 }
contract:
  name: clicks.v1
  fields:
    - { name: page, type: string }
    - { name: ts, type: integer }
event_time: { expr: epoch_ms(ts), watermark: 2 minutes }
transforms:
  - name: per_minute
    window: { type: tumble, size: 1 minute }
    group_by: [page]
    aggregates: { views: count(*) }
    emit: update
    late: dlq
sinks:
  - { name: minutes, type: delta_merge, from: per_minute, table: minutes, key: [window_start, page] }
runtime: { trigger: 1ms }
`;

test('a windowed pipeline beside a producer in the same process: every partition read to one instant, nothing late', {
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-beside-'));
  const log = await openLog({ dataDir: dir });
  try {
    await log.ensureTopic('clicks', { partitions: 3 });
    const c = await compilePipeline(fromYaml(DEFINITION, 'beside.yaml'), { dataDir: dir, log });
    const stop = new AbortController();
    const running = c.pipeline.run({ signal: stop.signal });
    // Bursts of one record per partition, each four minutes of event time after the one
    // before, one burst per turn of the event loop: a pipeline reading its partitions at
    // successive turns sees them minutes apart. Every record is on time in production
    // order (the newest event time is never 2 minutes ahead of a record produced after it).
    const BURSTS = 600;
    let produced = 0;
    for (let b = 0; b < BURSTS; b++) {
      await log.produce(
        [0, 1, 2].map((p) => ({
          topic: 'clicks',
          partition: p,
          value: new TextEncoder().encode(JSON.stringify({ page: `p${p}`, ts: T0 + b * 4 * MIN })),
        })),
      );
      produced += 3;
      await new Promise((r) => setImmediate(r));
    }
    // Drained: every record read; then stop.
    while (c.pipeline.positions().reduce((a, b) => a + b, 0) < produced) {
      await new Promise((r) => setTimeout(r, 20));
    }
    stop.abort();
    await running;
    await c.pipeline.close();

    let late = 0;
    for (let p = 0; p < 3; p++) {
      const r = await log.fetch('clicks.dlq', p, 0, { maxRecords: 100_000 }).catch(() => undefined);
      for (const rec of r?.records ?? []) if (decodeDeadLetter(rec.value!).rule === 'late') late++;
    }
    const table = c.tables.get('minutes')!;
    const rows = await readRows(table, await table.snapshot());
    const views = rows.reduce((a, r) => a + Number(r.views), 0);
    assert.equal(late, 0, `records sent to the DLQ as late (of ${produced})`);
    assert.equal(views, produced, 'every record counted in its window');
    assert.equal(rows.length, produced, 'a window per page and minute');
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
