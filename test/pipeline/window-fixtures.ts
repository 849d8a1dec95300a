/** The windowed pipeline of the window tests: its definition, input and plain-code truth. */
import assert from 'node:assert/strict';
import type { Log } from '../../src/log/log.ts';
import type { compilePipeline } from '../../src/pipeline/compile.ts';
import { readRows } from '../../src/table/index.ts';

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
  - name: busy
    sql: SELECT window_start, page, views FROM per_minute WHERE views >= 5
sinks:
  - { name: page_minutes, type: delta_append, from: per_minute, table: page_minutes }
  - { name: page_hops, type: delta_merge, from: per_two_minutes, table: page_hops, key: [window_start, page] }
  - { name: minutes_out, type: topic, from: per_minute, topic: page_minutes, key: page, partitions: 2 }
  - { name: busy_minutes, type: delta_append, from: busy, table: busy_minutes }
runtime: { trigger: 10ms, max_records_per_batch: 900 }
`;

export interface Click {
  user_id: string;
  page: string;
  ts: number;
}

export const T0 = Date.UTC(2026, 10, 28, 9, 0, 0);
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

export async function produceClicks(log: Log, rows: readonly Click[], topic = 'clicks'): Promise<void> {
  await log.produce(
    rows.map((c, i) => ({
      topic,
      partition: i % 3,
      value: new TextEncoder().encode(JSON.stringify(c)),
    })),
  );
}

export const MIN = 60_000;
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
  const busyTable = c.tables.get('busy_minutes')!;
  const busy = (await readRows(busyTable, await busyTable.snapshot())).map(
    (r) => `${new Date(String(r.window_start)).toISOString()}|${r.page}|${r.views}`,
  );
  return { final: m.sort(), hops: h.sort(), busy: busy.sort() };
}

/** The records of topic `page_minutes` (the topic sink's output), as sorted lines, and each partition's in order. */
export async function topicLines(log: Log, topic = 'page_minutes') {
  const lines: string[] = [];
  const perPartition: string[][] = [];
  for (let q = 0; q < 2; q++) {
    const part: string[] = [];
    const { latest } = await log.offsets(topic, q);
    for (let at = 0; at < latest; ) {
      const r = await log.fetch(topic, q, at, { maxRecords: 1000 });
      for (const rec of r.records) {
        const o = JSON.parse(new TextDecoder().decode(rec.value!));
        const line = `${new Date(`${o.window_start}Z`).toISOString()}|${o.page}|${o.views}|${o.users}`;
        part.push(line);
        lines.push(line);
        assert.equal(new TextDecoder().decode(rec.key!), o.page, 'keyed by page');
      }
      at = r.nextOffset;
    }
    perPartition.push(part);
  }
  return { lines: lines.sort(), perPartition };
}
