/**
 * A windowed pipeline defined in YAML, draining a backlog on the embedded log: 1-minute
 * tumbling counts by page (~1,000 pages) with a 2-minute watermark, emitted once per
 * window (`final`) into a Delta table (delta_append). The events are clickstream-like
 * JSON (user, page, epoch-ms time, session, event type, device, country: ~150 bytes),
 * checked against a contract on the way in, as every pipeline's are.
 *
 * 1. The backlog is produced first by a child process (so the drain's memory and CPU
 *    figures are the pipeline's alone), pre-serialized, in produce calls of `--chunk`
 *    events (the generator never holds all events), with event times advancing evenly
 *    over the span (6 hours per 10,000,000 events by default) and ±30 s of disorder:
 *    inside the watermark delay, so nothing is late. 4 partitions, 100,000 users.
 * 2. The pipeline drains it: events/s = events / drain time, events per CPU-second
 *    (user + system CPU of the process: DuckDB's threads included), the time per stage
 *    summed over the batch reports (stages overlap: the next batch is fetched and
 *    decoded while the windows and the sink handle the current one; `wait` is the time
 *    the sink side waited for it).
 * 3. The table is checked against the windows the generator counted while producing:
 *    the number of (minute, page) windows closed by the final watermark and the sum of
 *    their counts (a sanity count; the windows' values are checked against a plain
 *    recomputation in test/pipeline/windows.test.ts).
 *
 *   node bench/windowed-pipeline.ts [--events N] [--hours H] [--distinct] [--max-records N]
 *     [--duckdb-threads N] [--no-read-ahead] [--pages N] [--users N] [--partitions N]
 *     [--chunk N] [--memory-every N] [--long] [--keep]
 *
 * `--distinct` adds count(distinct user_id) per window. `--long`: 10,000,000 events
 * over 6 hours of event time, printing memory every `--memory-every` batches (process
 * RSS, V8 heap, ArrayBuffers, DuckDB's own accounting from duckdb_memory() on a
 * connection of the process) with the mean time per batch, then the peaks: over the run,
 * up to a quarter of it (after the first windows closed) and in its second half (flat:
 * the state is bounded by the watermark). The load average is recorded: the machine may
 * be shared. Writes bench/results/windowed-pipeline.json (windowed-pipeline-long.json
 * with `--long`; `-distinct` added with `--distinct`). `--keep` keeps the data directory.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Log, ProduceRecord } from '../src/log/log.ts';
import { openLog } from '../src/log/open.ts';
import { compilePipeline } from '../src/pipeline/compile.ts';
import { fromYaml } from '../src/pipeline/load.ts';
import type { BatchReport } from '../src/stream/pipeline.ts';
import { openConnection, readRows } from '../src/table/index.ts';

const { values: args } = parseArgs({
  options: {
    long: { type: 'boolean', default: false },
    events: { type: 'string' },
    hours: { type: 'string' },
    distinct: { type: 'boolean', default: false },
    'max-records': { type: 'string', default: '200000' },
    'duckdb-threads': { type: 'string', default: '1' },
    'no-read-ahead': { type: 'boolean', default: false },
    pages: { type: 'string', default: '1000' },
    users: { type: 'string', default: '100000' },
    partitions: { type: 'string', default: '4' },
    chunk: { type: 'string', default: '100000' },
    'memory-every': { type: 'string', default: '10' },
    keep: { type: 'boolean', default: false },
    /** Internal: produce the backlog into this data directory and exit (the child process). */
    'generate-into': { type: 'string' },
  },
});
const events = Number(args.events ?? (args.long ? 10_000_000 : 2_000_000));
const hours = Number(args.hours ?? (6 * events) / 10_000_000);
const pages = Number(args.pages);
const users = Number(args.users);
const partitions = Number(args.partitions);
const chunk = Number(args.chunk);
const maxRecords = Number(args['max-records']);
const memoryEvery = Number(args['memory-every']);
const MB = 1024 * 1024;
const MIN = 60_000;
const WATERMARK_MS = 2 * MIN;

const definition = `
name: page_views
source: { topic: clicks, partitions: ${partitions} }
contract:
  name: clicks.v1
  fields:
    - { name: user_id, type: string }
    - { name: page, type: string }
    - { name: ts, type: integer, min: 0 }
    - { name: session_id, type: string }
    - { name: event_type, type: string, enum: [page_view, click, scroll, add_to_cart, purchase] }
    - { name: device, type: string, enum: [mobile, desktop, tablet] }
    - { name: country, type: string }
event_time: { expr: epoch_ms(ts), watermark: 2 minutes }
transforms:
  - name: per_minute
    window: { type: tumble, size: 1 minute }
    group_by: [page]
    aggregates: { views: count(*)${args.distinct ? ', users: count(distinct user_id)' : ''} }
    emit: final
sinks:
  - { name: page_minutes, type: delta_append, from: per_minute, table: page_minutes }
runtime: { trigger: 10ms, max_records_per_batch: ${maxRecords}, duckdb_threads: ${Number(args['duckdb-threads'])}, read_ahead: ${!args['no-read-ahead']} }
`;

const T0 = Date.UTC(2026, 0, 27, 0, 0, 0);
const spanMs = hours * 3600 * 1000;
const EVENT_TYPES = ['page_view', 'click', 'scroll', 'add_to_cart', 'purchase'];
const DEVICES = ['mobile', 'desktop', 'tablet'];
const COUNTRIES = ['DE', 'FR', 'NL', 'US', 'GB', 'ES', 'IT', 'PL', 'SE', 'BR'];

/** A small deterministic generator (xorshift32). */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** What the generator knows about the windows: per closed (minute, page) window, its events. */
interface Expected {
  bytes: number;
  /** Windows closed by the watermark after the last event, and the events in them. */
  windows: number;
  views: number;
}

/**
 * Produces `events` events in chunks: each chunk serialized into one string, encoded
 * once, and produced as views into that buffer. Counts the events per (minute, page).
 */
async function produceBacklog(log: Log): Promise<Expected> {
  await log.ensureTopic('clicks', { partitions });
  const minutes = Math.ceil(spanMs / MIN) + 2;
  // Minute index m holds [T0 + (m-1)·MIN, T0 + m·MIN): the jitter reaches 30 s before T0.
  const perWindow = new Uint32Array((minutes + 1) * pages);
  let maxTs = Number.NEGATIVE_INFINITY;
  let bytes = 0;
  const rnd = rng(42);
  const step = spanMs / events;
  for (let from = 0; from < events; from += chunk) {
    const n = Math.min(chunk, events - from);
    const lines: string[] = new Array(n);
    for (let j = 0; j < n; j++) {
      const i = from + j;
      // Popular pages first: the square of a uniform number skews toward page 0.
      const r = rnd();
      const page = Math.floor(r * r * pages);
      const user = Math.floor(rnd() * users);
      const ts = Math.floor(T0 + i * step + (rnd() - 0.5) * 60_000);
      perWindow[(Math.floor((ts - T0) / MIN) + 1) * pages + page]++;
      if (ts > maxTs) maxTs = ts;
      lines[j] =
        `{"user_id":"u-${user}","page":"/products/item-${page}","ts":${ts},"session_id":"s-${user}-${Math.floor(i / 50_000)}","event_type":"${EVENT_TYPES[Math.floor(rnd() * 5)]}","device":"${DEVICES[Math.floor(rnd() * 3)]}","country":"${COUNTRIES[Math.floor(rnd() * 10)]}"}`;
    }
    const buf = Buffer.from(lines.join(''), 'latin1');
    bytes += buf.length;
    const records: ProduceRecord[] = new Array(n);
    let at = 0;
    for (let j = 0; j < n; j++) {
      const len = lines[j].length;
      records[j] = { topic: 'clicks', partition: (from + j) % partitions, value: buf.subarray(at, at + len) };
      at += len;
    }
    await log.produce(records);
  }
  const watermark = maxTs - WATERMARK_MS;
  let windows = 0;
  let views = 0;
  for (let m = 0; m <= minutes && T0 + m * MIN <= watermark; m++) {
    for (let p = 0; p < pages; p++) {
      const c = perWindow[m * pages + p];
      if (c > 0) {
        windows++;
        views += c;
      }
    }
  }
  return { bytes, windows, views };
}

if (args['generate-into'] !== undefined) {
  const log = await openLog({ dataDir: args['generate-into'] });
  const expected = await produceBacklog(log);
  await log.close();
  writeFileSync(join(args['generate-into'], 'expected.json'), JSON.stringify(expected));
  process.exit(0);
}

/**
 * The backlog, produced by a child process (this script with --generate-into): the
 * drain's memory and CPU figures are then the pipeline's alone.
 */
function generate(dataDir: string): Expected {
  const run = spawnSync(
    process.execPath,
    [
      import.meta.filename,
      '--generate-into',
      dataDir,
      ...['--events', String(events), '--hours', String(hours), '--pages', String(pages)],
      ...['--users', String(users), '--partitions', String(partitions), '--chunk', String(chunk)],
    ],
    { stdio: 'inherit' },
  );
  if (run.status !== 0) throw new Error(`the generator exited with ${run.status ?? run.signal}`);
  return JSON.parse(readFileSync(join(dataDir, 'expected.json'), 'utf8'));
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

const dir = mkdtempSync(join(tmpdir(), 'bench-windowed-'));
const load0 = loadavg();
const result: Record<string, unknown> = {
  date: new Date().toISOString(),
  events,
  eventTimeHours: hours,
  pages,
  users,
  partitions,
  distinct: args.distinct,
  maxRecordsPerBatch: maxRecords,
  duckdbThreads: Number(args['duckdb-threads']),
  readAhead: !args['no-read-ahead'],
  loadAverageAtStart: load0.map((x) => Math.round(x * 100) / 100),
};
try {
  const g0 = performance.now();
  const expected = generate(dir);
  const genMs = performance.now() - g0;
  const log = await openLog({ dataDir: dir });
  result.generate = {
    ms: Math.round(genMs),
    eventsPerSec: Math.round(events / (genMs / 1000)),
    bytesPerEvent: Math.round(expected.bytes / events),
  };
  console.log(
    `generated ${events.toLocaleString('en')} events (${Math.round(expected.bytes / events)} bytes each, ${hours.toFixed(2)} h of event time) in ${Math.round(genMs)} ms`,
  );

  const compiled = await compilePipeline(fromYaml(definition, 'windowed-pipeline.yaml'), {
    dataDir: join(dir, 'data'),
    log,
  });
  const { pipeline } = compiled;
  const monitor = args.long ? await openConnection() : undefined;
  const duckdbBytes = async () =>
    Number(
      (await monitor!.runAndReadAll('SELECT sum(memory_usage_bytes) FROM duckdb_memory()')).getRows()[0][0],
    );
  interface Sample {
    batch: number;
    events: number;
    rssMb: number;
    heapMb: number;
    /** Memory of ArrayBuffers (fetched batches, batch files) outside the V8 heap. */
    buffersMb: number;
    duckdbMb: number;
    /** Mean ms per batch since the previous sample: the whole batch, and the windows stage. */
    batchMs: number;
    windowsMs: number;
  }
  const samples: Sample[] = [];
  const stages: Record<string, number> = {};
  let batches = 0;
  let drained = 0;
  let firstEmit = -1;
  /** RSS after each batch (cheap to read: the samples' DuckDB figure needs a query). */
  const rssPerBatch: number[] = [];
  let since = { batches: 0, ms: 0, windows: 0 };
  const sample = async () => {
    const mem = process.memoryUsage();
    const s: Sample = {
      batch: batches,
      events: drained,
      rssMb: Math.round(mem.rss / MB),
      heapMb: Math.round(mem.heapUsed / MB),
      buffersMb: Math.round(mem.arrayBuffers / MB),
      duckdbMb: Math.round((await duckdbBytes()) / MB),
      batchMs: Math.round(since.ms / Math.max(1, since.batches)),
      windowsMs: Math.round(since.windows / Math.max(1, since.batches)),
    };
    since = { batches: 0, ms: 0, windows: 0 };
    samples.push(s);
    console.log(
      `batch ${String(s.batch).padStart(4)}  ${s.events.toLocaleString('en').padStart(11)} events  rss ${String(s.rssMb).padStart(5)} MB (heap ${String(s.heapMb).padStart(4)}, buffers ${String(s.buffersMb).padStart(4)})  duckdb ${String(s.duckdbMb).padStart(4)} MB  ${s.batchMs} ms per batch (windows ${s.windowsMs})`,
    );
  };
  let pendingSample: Promise<void> | undefined;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await pipeline.run({
    untilCaughtUp: true,
    onBatch: (r: BatchReport) => {
      batches++;
      drained += r.records;
      for (const [k, v] of Object.entries(r.stages)) stages[k] = (stages[k] ?? 0) + v;
      since.batches++;
      since.ms += r.durationMs;
      since.windows += r.stages.windows ?? 0;
      rssPerBatch.push(process.memoryUsage.rss());
      if (firstEmit < 0 && (pipeline.metrics.sinks.get('page_minutes')?.rows ?? 0) > 0) firstEmit = batches;
      // Sampled without holding up the batch (duckdb_memory() runs on a connection of its own).
      if (monitor && (batches % memoryEvery === 0 || batches === 1) && pendingSample === undefined) {
        pendingSample = sample().finally(() => {
          pendingSample = undefined;
        });
      }
    },
  });
  const drainMs = performance.now() - t0;
  const cpuMs = cpuMsSince(c0);
  // The process's high-water mark so far (before the table is read back for the check).
  const maxRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  await pendingSample;
  if (monitor && samples.at(-1)?.batch !== batches) await sample();
  // What DuckDB holds after the last batch, before the pipeline closes (by its tags).
  const duckdbTags = monitor
    ? (
        await monitor.runAndReadAll(
          'SELECT tag, memory_usage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0 ORDER BY 2 DESC',
        )
      )
        .getRows()
        .map(([tag, bytes]) => `${tag} ${Math.round(Number(bytes) / MB)} MB`)
    : [];
  const m = pipeline.metrics;
  const rows = m.sinks.get('page_minutes')?.rows ?? 0;
  const table = compiled.tables.get('page_minutes')!;
  const tableRows = await readRows(table, await table.snapshot());
  await pipeline.close();
  monitor?.closeSync();
  await log.close();

  const views = tableRows.reduce((n, r) => n + Number(r.views), 0);
  // With count(distinct user_id): between 1 and the window's views.
  const usersOutOfRange = args.distinct
    ? tableRows.filter((r) => !(Number(r.users) >= 1 && Number(r.users) <= Number(r.views))).length
    : 0;
  const check = {
    expectedWindows: expected.windows,
    tableWindows: tableRows.length,
    expectedViews: expected.views,
    tableViews: views,
    usersOutOfRange,
    ok:
      tableRows.length === expected.windows &&
      views === expected.views &&
      usersOutOfRange === 0 &&
      m.late === 0 &&
      m.invalid === 0,
  };
  result.check = check;
  const round = (x: number) => Math.round(x);
  result.drain = {
    drainMs: round(drainMs),
    eventsPerSec: round(events / (drainMs / 1000)),
    // User + system CPU of this process (all DuckDB threads): steadier than wall time on a shared machine.
    cpuMs: round(cpuMs),
    eventsPerCpuSec: round(events / (cpuMs / 1000)),
    batches: m.batches,
    stageMs: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, round(v)])),
    windowsWritten: rows,
    late: m.late,
    invalid: m.invalid,
  };
  result.loadAverageAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  console.log(
    `drained ${events.toLocaleString('en')} events in ${round(drainMs)} ms: ${round(events / (drainMs / 1000)).toLocaleString('en')} events/s, ${round(events / (cpuMs / 1000)).toLocaleString('en')} events per CPU-second, ${m.batches} batches`,
  );
  console.log(
    `stages (ms, summed over batches): ${Object.entries(stages)
      .map(([k, v]) => `${k} ${round(v)}`)
      .join(', ')}`,
  );
  console.log(
    `table: ${tableRows.length.toLocaleString('en')} windows (expected ${expected.windows.toLocaleString('en')}), ${views.toLocaleString('en')} views (expected ${expected.views.toLocaleString('en')})${args.distinct ? `, users out of range ${usersOutOfRange}` : ''}; late ${m.late}, invalid ${m.invalid}: ${check.ok ? 'ok' : 'MISMATCH'}`,
  );
  if (monitor) {
    const peak = (k: 'rssMb' | 'duckdbMb', s = samples) => Math.max(...s.map((x) => x[k]));
    // Flat: RSS after each batch, peak per quarter of the run, against the first quarter
    // (which holds the first windows closing: the state then holds only open windows).
    const q = Math.ceil(rssPerBatch.length / 4);
    const quarters = [0, 1, 2, 3].map((k) =>
      Math.round(Math.max(0, ...rssPerBatch.slice(k * q, (k + 1) * q)) / MB),
    );
    const half = samples.filter((s) => s.batch > batches / 2);
    const firstHalf = samples.filter((s) => s.batch <= batches / 2);
    result.memory = {
      peakRssMb: Math.round(Math.max(...rssPerBatch) / MB),
      maxRssMb,
      rssPeakPerQuarterMb: quarters,
      peakDuckdbMb: peak('duckdbMb'),
      duckdbPeakFirstHalfMb: peak('duckdbMb', firstHalf),
      duckdbPeakSecondHalfMb: peak('duckdbMb', half),
      duckdbAtEnd: duckdbTags,
      firstEmitBatch: firstEmit,
      samples,
    };
    console.log(
      `memory: peak rss ${Math.round(Math.max(...rssPerBatch) / MB)} MB after a batch (the process's maximum up to the end of the drain: ${maxRssMb} MB); rss peak per quarter of the run ${quarters.join(', ')} MB; duckdb peak ${peak('duckdbMb')} MB (${peak('duckdbMb', firstHalf)} in the 1st half, ${peak('duckdbMb', half)} in the 2nd); duckdb at the end: ${duckdbTags.join(', ')}`,
    );
  }
  console.log(
    `load average (1/5/15 min): ${load0.map((x) => x.toFixed(2)).join(' ')} at start, ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} at end`,
  );
  if (!check.ok) process.exitCode = 1;
} finally {
  if (args.keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
const out = join(import.meta.dirname, 'results');
mkdirSync(out, { recursive: true });
const file = join(
  out,
  `windowed-pipeline${args.long ? '-long' : ''}${args.distinct ? '-distinct' : ''}.json`,
);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${file}`);
