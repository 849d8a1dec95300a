/**
 * A windowed pipeline with its state kept per source partition (`state: per_partition`):
 * clicks keyed by user, deduplicated by click id, counted per user and minute (final) and
 * per user, page and two minutes (update). Its input, produced with each user's clicks in
 * one partition, and its truth in plain code, partition by partition.
 */
import type { Log } from '../../src/log/log.ts';
import { compilePipeline } from '../../src/pipeline/compile.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import type { S3Store } from '../../src/storage/s3.ts';
import { readRows } from '../../src/table/index.ts';

export function partitionedDefinition(
  opts: { topic?: string; partitions?: number; dlq?: string } = {},
): string {
  const topic = opts.topic ?? 'uclicks';
  return `
name: user_minutes
source: { topic: ${topic}, partitions: ${opts.partitions ?? 3}, key: user_id }
state: per_partition
contract:
  name: uclicks.v1
  fields:
    - { name: click_id, type: string }
    - { name: user_id, type: string }
    - { name: page, type: string }
    - { name: ts, type: integer }
event_time: { expr: epoch_ms(ts), watermark: 2 minutes }
transforms:
  - name: deduped
    dedup: { key: click_id, horizon: 5 minutes }
  - name: per_minute
    from: deduped
    window: { type: tumble, size: 1 minute }
    group_by: [user_id]
    aggregates: { views: count(*), pages: count(distinct page) }
    emit: final
  - name: per_two_minutes
    from: deduped
    window: { type: hop, size: 2 minutes, slide: 1 minute }
    group_by: [user_id, page]
    aggregates: { views: count(*), first_seen: min(ts) }
    emit: update
sinks:
  - { name: user_minutes, type: delta_append, from: per_minute, table: user_minutes }
  - name: user_hops
    type: delta_merge
    from: per_two_minutes
    table: user_hops
    key: [window_start, user_id, page]
${opts.dlq ? `dlq: { topic: ${opts.dlq} }\n` : ''}runtime: { trigger: 10ms, max_records_per_batch: 300 }
`;
}

export interface UClick {
  click_id: string;
  user_id: string;
  page: string;
  ts: number;
}

export interface Produced {
  partition: number;
  click: UClick;
}

export const T0 = Date.UTC(2026, 10, 29, 9, 0, 0);
const PAGES = ['home', 'search', 'cart', 'checkout', 'help'];
const USERS = 24;

/** A user's partition: fixed per user, as a producer keying by user gives. */
export const partitionOf = (user: number, partitions: number) => user % partitions;

/**
 * `n` clicks from index `from` on (one every ~250 ms of event time, disorder under 90 s,
 * within the 2-minute delay), each user's in its partition; every 500th click is sent
 * twice (a producer's retry: same id, same partition), and every 2,000th is followed by
 * one of that user's clicks from long before: late under any batching. Users from
 * `users.first` on, placed by `place`, so that new users can go to partitions added later.
 */
export function userClicks(
  seed: number,
  from: number,
  n: number,
  partitions: number,
  users: { first: number; count: number } = { first: 0, count: USERS },
  place: (user: number) => number = (u) => partitionOf(u, partitions),
): Produced[] {
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const out: Produced[] = [];
  for (let i = from; i < from + n; i++) {
    const u = users.first + Math.floor(rnd() * users.count);
    const click: UClick = {
      click_id: `c${seed}-${i}`,
      user_id: `u${u}`,
      page: PAGES[Math.floor(rnd() * PAGES.length)],
      ts: T0 + i * 250 + Math.floor(rnd() * 90_000),
    };
    const partition = place(u);
    out.push({ partition, click });
    if (i % 500 === 250) out.push({ partition, click: { ...click } });
    if (i > from && i % 2000 === 0) {
      out.push({
        partition,
        click: {
          click_id: `late${seed}-${i}`,
          user_id: click.user_id,
          page: 'home',
          ts: T0 + (i - 1900) * 250,
        },
      });
    }
  }
  return out;
}

export async function produceUserClicks(log: Log, topic: string, rows: readonly Produced[]): Promise<void> {
  const enc = new TextEncoder();
  for (let i = 0; i < rows.length; i += 5000) {
    await log.produce(
      rows.slice(i, i + 5000).map((r) => ({
        topic,
        partition: r.partition,
        key: enc.encode(r.click.user_id),
        value: enc.encode(JSON.stringify(r.click)),
      })),
    );
  }
}

const MIN = 60_000;
const DELAY = 2 * MIN;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The pipeline's outputs from the records of each partition in offset order: copies
 * dropped, late clicks (the `late...` ones) to the DLQ, each partition's own watermark
 * closing its own windows. Lines as `tableLines` gives them.
 */
export function expectedOutputs(byPartition: ReadonlyMap<number, readonly UClick[]>) {
  const minutes: string[] = [];
  const hops = new Map<string, { views: number; first: number }>();
  const late: string[] = [];
  for (const clicks of byPartition.values()) {
    const seen = new Set<string>();
    const tumble = new Map<string, { user: string; start: number; views: number; pages: Set<string> }>();
    let newest = Number.NEGATIVE_INFINITY;
    for (const c of clicks) {
      if (seen.has(c.click_id)) continue;
      seen.add(c.click_id);
      if (c.click_id.startsWith('late')) {
        late.push(c.click_id);
        continue;
      }
      newest = Math.max(newest, c.ts);
      const start = Math.floor(c.ts / MIN) * MIN;
      const k = `${start}|${c.user_id}`;
      const w = tumble.get(k) ?? { user: c.user_id, start, views: 0, pages: new Set<string>() };
      w.views++;
      w.pages.add(c.page);
      tumble.set(k, w);
      for (const hs of [start - MIN, start]) {
        const hk = `${iso(hs)} ${iso(hs + 2 * MIN)} ${c.user_id} ${c.page}`;
        const h = hops.get(hk) ?? { views: 0, first: c.ts };
        h.views++;
        h.first = Math.min(h.first, c.ts);
        hops.set(hk, h);
      }
    }
    const watermark = newest - DELAY;
    for (const w of tumble.values()) {
      if (w.start + MIN <= watermark)
        minutes.push(`${iso(w.start)} ${iso(w.start + MIN)} ${w.user} ${w.views} ${w.pages.size}`);
    }
  }
  return {
    minutes: minutes.sort(),
    hops: [...hops].map(([k, h]) => `${k} ${h.views} ${h.first}`).sort(),
    late: late.sort(),
  };
}

/** The tables as lines (window bounds, group, aggregates) and the DLQ's clicks with their reasons. */
export async function outputLines(
  log: Log,
  dataDir: string,
  definition: string,
  lake?: string,
  dlq = 'uclicks.dlq',
) {
  const c = await compilePipeline(fromYaml(definition, 'u.yaml'), {
    dataDir,
    log,
    ...(lake !== undefined && { lake }),
  });
  try {
    const iso = (v: unknown) => new Date(String(v)).toISOString();
    const m = c.tables.get('user_minutes')!;
    const h = c.tables.get('user_hops')!;
    const minutes = (await readRows(m, await m.snapshot())).map(
      (r) => `${iso(r.window_start)} ${iso(r.window_end)} ${r.user_id} ${r.views} ${r.pages}`,
    );
    const hops = (await readRows(h, await h.snapshot())).map(
      (r) => `${iso(r.window_start)} ${iso(r.window_end)} ${r.user_id} ${r.page} ${r.views} ${r.first_seen}`,
    );
    const late: string[] = [];
    const partitions = (await log.describeTopic(dlq)).partitions;
    for (let p = 0; p < partitions; p++) {
      const { latest } = await log.offsets(dlq, p);
      for (let at = 0; at < latest; ) {
        const r = await log.fetch(dlq, p, at, { maxRecords: 1000 });
        // Kafka's transaction markers take offsets: a fetch may give none and move on.
        if (r.nextOffset <= at) break;
        for (const rec of r.records) {
          const d = JSON.parse(new TextDecoder().decode(rec.value!));
          late.push(`${JSON.parse(d.value).click_id} ${d.rule}`);
        }
        at = r.nextOffset;
      }
    }
    return { minutes: minutes.sort(), hops: hops.sort(), late: late.sort() };
  } finally {
    await c.pipeline.close();
    for (const table of c.tables.values()) (table.store as Partial<S3Store>).destroy?.();
  }
}

/** Each partition's clicks in offset order, read back from the topic. */
export async function clicksByPartition(log: Log, topic: string): Promise<Map<number, UClick[]>> {
  const out = new Map<number, UClick[]>();
  const partitions = (await log.describeTopic(topic)).partitions;
  for (let p = 0; p < partitions; p++) {
    const rows: UClick[] = [];
    const { latest } = await log.offsets(topic, p);
    for (let at = 0; at < latest; ) {
      const r = await log.fetch(topic, p, at, { maxRecords: 5000 });
      // Kafka's transaction markers take offsets: a fetch may give none and move on.
      if (r.nextOffset <= at) break;
      for (const rec of r.records) rows.push(JSON.parse(new TextDecoder().decode(rec.value!)));
      at = r.nextOffset;
    }
    out.set(p, rows);
  }
  return out;
}
