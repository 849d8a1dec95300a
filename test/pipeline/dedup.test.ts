/**
 * Dedup as a step of a pipeline: repeated event ids (re-sent copies, in other partitions
 * and later batches, across a restart) are dropped before a window counts them, and a
 * sink of the deduplicated rows holds each event once — checked against the input's
 * distinct events in plain code. The dedup's keys are state saved with each batch.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Log } from '../../src/log/log.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import { readRows } from '../../src/table/index.ts';
import { withLog } from '../stream/with-log.ts';
import { runUntilCaughtUp } from './run-definition.ts';

const DEFINITION = `
name: unique_clicks
source: { topic: clicks, partitions: 3 }
contract:
  name: clicks.v1
  fields:
    - { name: event_id, type: string }
    - { name: page, type: string }
    - { name: ts, type: integer }
event_time: { expr: epoch_ms(ts), watermark: 1 minute }
transforms:
  - name: unique
    dedup: { key: event_id, horizon: 10 minutes }
  - name: per_minute
    from: unique
    window: { type: tumble, size: 1 minute }
    group_by: [page]
    aggregates: { views: count(*) }
  # A window may read a SQL transform of a dedup (its rows keep _p, _o, _t).
  - name: unique_views
    sql: SELECT * FROM "unique" WHERE page <> 'p3'
  - name: per_minute_views
    from: unique_views
    window: { type: tumble, size: 1 minute }
    group_by: [page]
    aggregates: { views: count(*) }
sinks:
  - { name: events, type: delta_append, from: unique, table: events }
  - { name: page_minutes, type: delta_append, from: per_minute, table: page_minutes }
  - { name: view_minutes, type: delta_append, from: per_minute_views, table: view_minutes }
runtime: { trigger: 10ms, max_records_per_batch: 300 }
`;

interface Click {
  event_id: string;
  page: string;
  ts: number;
}

const T0 = Date.UTC(2026, 10, 29, 12, 0, 0);

/** Events every 200 ms; 15 % re-sent 1–40 records later (a few seconds: within the horizon). */
function input(from: number, n: number): Click[] {
  const out: Click[] = [];
  let s = from + 1;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const resend: Array<{ at: number; c: Click }> = [];
  for (let i = from; i < from + n; i++) {
    const c = { event_id: `e${i}`, page: `p${i % 4}`, ts: T0 + i * 200 };
    out.push(c);
    if (rnd() < 0.15) resend.push({ at: out.length + 1 + Math.floor(rnd() * 40), c });
    for (const r of resend.filter((x) => x.at === out.length)) out.push(r.c);
  }
  return out;
}

async function produce(log: Log, rows: Click[]) {
  await log.produce(
    rows.map((c, i) => ({
      topic: 'clicks',
      partition: (i * 7) % 3,
      value: new TextEncoder().encode(JSON.stringify(c)),
    })),
  );
}

describe('dedup as a pipeline step', () => {
  it('drops repeated ids before the window counts, across batches, partitions and a restart', async () => {
    await withLog('dedup', async (log, dir) => {
      const dataDir = join(dir, 'data');
      const run = () => runUntilCaughtUp(fromYaml(DEFINITION, 'd.yaml'), { dataDir, log });
      await log.ensureTopic('clicks', { partitions: 3 });
      const a = input(0, 3000);
      // The first copies of some of the last events of `a` are re-sent after the restart.
      const again = a.slice(-30).filter((_, i) => i % 3 === 0);
      await produce(log, a);
      let c = await run();
      const b = [...again, ...input(3000, 2000)];
      await produce(log, b);
      c = await run();
      const all = [...a, ...b];
      const distinct = new Map(all.map((x) => [x.event_id, x]));
      assert.ok(all.length - distinct.size > 400, `${all.length - distinct.size} duplicates in the input`);

      const events = c.tables.get('events')!;
      const rows = await readRows(events, await events.snapshot());
      assert.equal(rows.length, distinct.size, 'each event once');
      assert.equal(new Set(rows.map((r) => r.event_id)).size, distinct.size);

      const maxTs = Math.max(...all.map((x) => x.ts));
      const counts = new Map<string, number>();
      for (const x of distinct.values()) {
        const start = Math.floor(x.ts / 60_000) * 60_000;
        if (start + 60_000 > maxTs - 60_000) continue; // not closed by the final watermark
        const k = `${new Date(start).toISOString()}|${x.page}`;
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      const minutes = c.tables.get('page_minutes')!;
      const got = (await readRows(minutes, await minutes.snapshot()))
        .map((r) => `${new Date(String(r.window_start)).toISOString()}|${r.page}|${r.views}`)
        .sort();
      const want = [...counts].map(([k, v]) => `${k}|${v}`).sort();
      assert.deepEqual(got, want, 'windows count each event once');
      const views = c.tables.get('view_minutes')!;
      const gotViews = (await readRows(views, await views.snapshot()))
        .map((r) => `${new Date(String(r.window_start)).toISOString()}|${r.page}|${r.views}`)
        .sort();
      assert.deepEqual(
        gotViews,
        want.filter((k) => !k.includes('|p3|')),
        'a window over a SQL transform of the dedup counts the same events',
      );
    });
  });
});
