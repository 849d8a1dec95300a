/**
 * A windowed pipeline defined in YAML, run in three stretches with restarts between them
 * (the windows' state is saved with each batch and restored on start): 1-minute tumbling
 * counts (emit final, appended) and 2-minute hopping counts every minute (emit update,
 * MERGEd by window and page), checked against the same windows computed in plain code
 * from the raw input; records far behind the watermark go to the DLQ with reason `late`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Log } from '../../src/log/log.ts';
import { compilePipeline } from '../../src/pipeline/compile.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import { decodeDeadLetter } from '../../src/stream/dead-letter.ts';
import { readRows } from '../../src/table/index.ts';
import { withLog } from '../stream/with-log.ts';

export const WINDOWED = `
name: page_counts
source: { topic: clicks, partitions: 3 }
contract:
  name: clicks.v1
  fields:
    - { name: user_id, type: string }
    - { name: page, type: string }
    - { name: ts, type: integer }
event_time: { expr: epoch_ms(ts), watermark: 2 minutes }
transforms:
  - name: per_minute
    window: { type: tumble, size: 1 minute }
    group_by: [page]
    aggregates: { views: count(*), users: count(distinct user_id) }
    emit: final
  - name: per_two_minutes
    window: { type: hop, size: 2 minutes, slide: 1 minute }
    group_by: [page]
    aggregates: { views: count(*), first_seen: min(ts) }
    emit: update
sinks:
  - { name: page_minutes, type: delta_append, from: per_minute, table: page_minutes }
  - { name: page_hops, type: delta_merge, from: per_two_minutes, table: page_hops, key: [window_start, page] }
runtime: { trigger: 10ms, max_records_per_batch: 900 }
`;

export interface Click {
  user_id: string;
  page: string;
  ts: number;
}

const T0 = Date.UTC(2026, 10, 28, 9, 0, 0);
const PAGES = ['home', 'search', 'cart', 'checkout'];

/** Clicks every ~250 ms with disorder under 90 s (inside the 2-minute watermark delay). */
export function clicks(seed: number, from: number, n: number): Click[] {
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  return Array.from({ length: n }, (_, i) => ({
    user_id: `u${Math.floor(rnd() * 30)}`,
    page: PAGES[Math.floor(rnd() * PAGES.length)],
    ts: T0 + (from + i) * 250 + Math.floor(rnd() * 90_000),
  }));
}

export async function produceClicks(log: Log, rows: readonly Click[]): Promise<void> {
  await log.produce(
    rows.map((c, i) => ({
      topic: 'clicks',
      partition: i % 3,
      value: new TextEncoder().encode(JSON.stringify(c)),
    })),
  );
}

const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** The windows of `on` (on-time clicks) in plain code: tumbling closed by `watermark`, and every hop window. */
export function expectedWindows(on: readonly Click[], watermark: number) {
  const tumble = new Map<string, { views: number; users: Set<string> }>();
  const hop = new Map<string, { views: number; first: number }>();
  for (const c of on) {
    const start = Math.floor(c.ts / MIN) * MIN;
    const k = `${iso(start)}|${c.page}`;
    const t = tumble.get(k) ?? { views: 0, users: new Set<string>() };
    t.views++;
    t.users.add(c.user_id);
    tumble.set(k, t);
    for (const hs of [start - MIN, start]) {
      const hk = `${iso(hs)}|${c.page}`;
      const h = hop.get(hk) ?? { views: 0, first: Number.POSITIVE_INFINITY };
      h.views++;
      h.first = Math.min(h.first, c.ts);
      hop.set(hk, h);
    }
  }
  const final = [...tumble]
    .filter(([k]) => Date.parse(k.split('|')[0]) + MIN <= watermark)
    .map(([k, v]) => `${k}|${v.views}|${v.users.size}`)
    .sort();
  const hops = [...hop].map(([k, v]) => `${k}|${v.views}|${v.first}`).sort();
  return { final, hops };
}

export async function tableLines(c: Awaited<ReturnType<typeof compilePipeline>>) {
  const minutes = c.tables.get('page_minutes')!;
  const hops = c.tables.get('page_hops')!;
  const m = (await readRows(minutes, await minutes.snapshot())).map(
    (r) => `${new Date(String(r.window_start)).toISOString()}|${r.page}|${r.views}|${r.users}`,
  );
  const h = (await readRows(hops, await hops.snapshot())).map(
    (r) => `${new Date(String(r.window_start)).toISOString()}|${r.page}|${r.views}|${r.first_seen}`,
  );
  return { final: m.sort(), hops: h.sort() };
}

describe('a windowed pipeline', () => {
  it('tumbling (final) and hopping (update) windows across restarts equal a plain recomputation; late records to the DLQ', async () => {
    await withLog('windows', async (log, dir) => {
      const dataDir = join(dir, 'data');
      const def = fromYaml(WINDOWED, 'windows.yaml');
      let lateCounted = 0;
      const run = async () => {
        const c = await compilePipeline(def, { dataDir, log });
        try {
          await c.pipeline.run({ untilCaughtUp: true });
        } finally {
          await c.pipeline.close();
        }
        lateCounted += c.pipeline.metrics.late;
        return c;
      };
      await log.ensureTopic('clicks', { partitions: 3 });
      const a = clicks(1, 0, 3000);
      await produceClicks(log, a);
      let c = await run();
      // Held back: nothing is final past the watermark of what was read.
      const wmA = Math.max(...a.map((x) => x.ts)) - 2 * MIN;
      assert.deepEqual((await tableLines(c)).final, expectedWindows(a, wmA).final);

      // Far behind the watermark now: late under any batching.
      const late = [
        { user_id: 'u1', page: 'home', ts: T0 + 1000 },
        { user_id: 'u2', page: 'cart', ts: T0 + 5 * MIN },
      ];
      const b = clicks(2, 3000, 2000);
      await produceClicks(log, [...late, ...b]);
      c = await run();
      const rest = clicks(3, 5000, 1500);
      await produceClicks(log, rest);
      c = await run();

      const on = [...a, ...b, ...rest];
      const watermark = Math.max(...on.map((x) => x.ts)) - 2 * MIN;
      const want = expectedWindows(on, watermark);
      const got = await tableLines(c);
      assert.ok(want.final.length > 100, `${want.final.length} final windows`);
      assert.deepEqual(got.final, want.final, 'each closed 1-minute window once, with its final counts');
      assert.deepEqual(got.hops, want.hops, 'every hopping window with its value over all on-time clicks');
      assert.equal(lateCounted, 2, 'the late records are counted');

      const dlq: Array<{ reason: string; value: string | null }> = [];
      for (let p = 0; p < 3; p++) {
        const r = await log.fetch('clicks.dlq', p, 0, { maxRecords: 100 });
        for (const rec of r.records) {
          const d = decodeDeadLetter(rec.value!);
          dlq.push({ reason: `${d.rule}: ${d.reason}`, value: d.value });
        }
      }
      assert.equal(dlq.length, 2, 'each late record once');
      for (const l of late) {
        const mine = dlq.filter((d) => d.value === JSON.stringify(l));
        assert.equal(mine.length, 1, `late record ${JSON.stringify(l)} in the DLQ, with its bytes`);
        assert.match(
          mine[0].reason,
          /^late: per_minute,per_two_minutes: event time 2026-11-28T09:0\d:\d\d\.\d{3}Z is behind the watermark 2026-11-28T09:\d\d:\d\d\.\d{3}Z of window 'per_minute' .*; event time .* of window 'per_two_minutes'/,
        );
      }
    });
  });
});
