/**
 * Each partition's share of a batch (src/stream/batch-limits.ts), and what it is for: a
 * backlog on a keyed topic whose partitions are unequally busy drains without any on-time
 * event counted as late (with equal shares the quiet partitions ran ahead in event time
 * and the watermark passed the busy partitions' events).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fromYaml } from '../../src/pipeline/load.ts';
import { batchLimits } from '../../src/stream/batch-limits.ts';
import { readRows } from '../../src/table/index.ts';
import { runUntilCaughtUp } from '../pipeline/run-definition.ts';
import { withLog } from './with-log.ts';

describe('batchLimits', () => {
  it('splits a backlog larger than the batch in proportion to each partition', () => {
    const limits = batchLimits([0, 100, 0], [6000, 2600, 1500], 1000, 9000);
    assert.deepEqual(
      limits.map((l) => l.maxRecords),
      [600, 250, 150],
    );
    assert.deepEqual(
      limits.map((l) => l.maxBytes),
      [5400, 2250, 1350],
    );
  });

  it('reads all of a backlog that fits, with an equal share of the rest for what arrived since', () => {
    const limits = batchLimits([10, 10, 10], [410, 60, 10], 1000, 3000);
    assert.deepEqual(
      limits.map((l) => l.maxRecords),
      [583, 233, 183],
    );
  });

  it('gives equal shares when the ends are not known or nothing is behind', () => {
    const equal = [334, 334, 334];
    assert.deepEqual(
      batchLimits([0, 0, 0], [5, undefined, 7], 1000, 3000).map((l) => l.maxRecords),
      equal,
    );
    assert.deepEqual(
      batchLimits([5, 6, 7], [5, 6, 7], 1000, 3000).map((l) => l.maxRecords),
      equal,
    );
  });
});

const T0 = Date.UTC(2026, 0, 27, 9, 0, 0);
const MIN = 60_000;

const DEFINITION = `
name: keyed_counts
source: { topic: events, partitions: 3 }
contract:
  name: events.v1
  fields:
    - { name: user, type: integer }
    - { name: ts, type: integer }
event_time: { expr: epoch_ms(ts), watermark: 2 minutes }
transforms:
  - name: per_minute
    window: { type: tumble, size: 1 minute }
    aggregates: { n: count(*) }
    emit: final
    late: dlq
sinks:
  - { name: minutes, type: delta_append, from: per_minute, table: minutes }
runtime: { trigger: 10ms, max_records_per_batch: 600 }
`;

describe('a keyed backlog with unequal partitions', () => {
  it('drains with no on-time event late and every closed minute counted', async () => {
    await withLog('keyed-backlog', async (log, dir) => {
      await log.ensureTopic('events', { partitions: 3 });
      // 6,000 events, one every 250 ms (25 minutes), in order; 60 / 25 / 15 % of them on
      // partitions 0 / 1 / 2, as a busy key puts them. Batches of 600 span 2.5 minutes.
      const events = Array.from({ length: 6000 }, (_, i) => {
        const r = (i * 7919) % 100;
        return { partition: r < 60 ? 0 : r < 85 ? 1 : 2, user: i % 97, ts: T0 + i * 250 };
      });
      await log.produce(
        events.map((e) => ({
          topic: 'events',
          partition: e.partition,
          value: new TextEncoder().encode(JSON.stringify({ user: e.user, ts: e.ts })),
        })),
      );
      const c = await runUntilCaughtUp(fromYaml(DEFINITION, 'keyed.yaml'), {
        dataDir: join(dir, 'data'),
        log,
      });
      assert.equal(
        c.pipeline.metrics.late,
        0,
        'no event is late: every one is within 0.25 s of its neighbours',
      );
      const watermark = events[events.length - 1].ts - 2 * MIN;
      const expected = new Map<number, number>();
      for (const e of events) {
        const start = Math.floor(e.ts / MIN) * MIN;
        if (start + MIN <= watermark) expected.set(start, (expected.get(start) ?? 0) + 1);
      }
      const table = c.tables.get('minutes')!;
      const rows = await readRows(table, await table.snapshot());
      const actual = new Map(rows.map((r) => [Date.parse(String(r.window_start)), Number(r.n)]));
      assert.deepEqual(
        [...actual].sort((a, b) => a[0] - b[0]),
        [...expected].sort((a, b) => a[0] - b[0]),
      );
    });
  });
});
