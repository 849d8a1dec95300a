/**
 * Latency of the clickstream speed layer (pipelines/clickstream.yaml) into PostgreSQL at a
 * fixed input rate, in real time: a child process produces ClickstreamGenerator events
 * (system clock: event time = now, with the generator's 2 % out of order up to 60 s
 * behind and its late, duplicate and malformed shares) at `--rate` events/s (default
 * 10,000) for `--duration` seconds (default 300) into the embedded log, while this
 * process runs the pipeline and polls `realtime.events_per_minute` every `--poll-ms`
 * (default 100) on a connection of its own.
 *
 * The producer records, after each produce call (20 a second), the wall time, the
 * newest event time produced so far, and how many valid events it added to each (minute,
 * event_type). From those and the polls:
 *
 * - **Past the watermark.** The watermark is the newest event time less 2 minutes; it
 *   passes a window's end when the first event at or after end + 2 min is produced
 *   (producer side). For each (window, event_type) row whose watermark passed during the
 *   run: the first poll showing the row's final count, minus that moment; p50 / p99 /
 *   max over the rows. Also by the row's `updated_at` (the time of the transaction that
 *   wrote its final count; the commit ends a few ms later). With `emit: update` (the
 *   definition's) a row usually reaches its final count before the watermark passes (the
 *   last out-of-order event of a minute arrives up to 60 s after it): negative figures.
 *   `--emit final` sets both windows to `emit: final` (each row written once, when the
 *   watermark passes its end: the seed's "window closing").
 * - **Freshness.** For the events of each produce call: the first poll whose count for
 *   their (window, event_type) reaches the producer's running count, minus the time of
 *   the call; p50 / p99 over events (of windows whose rows were written by the end).
 *
 *   node bench/clickstream-latency.ts [--postgres URL] [--rate R] [--duration S]
 *     [--emit update|final] [--poll-ms MS] [--set PATH=VALUE ...] [--label L]
 *
 * Without `--postgres`: the embedded PGlite (pool of one connection; the polls queue
 * with the sinks' transactions, as a dashboard's would). With `--postgres URL`: a fresh
 * database on that server. Writes bench/results/clickstream-latency-<target>-<emit>[-label].json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClickstreamGenerator } from '../src/connectors/generators/clickstream.ts';
import { produceLoop } from '../src/connectors/generators/produce-loop.ts';
import { systemClock } from '../src/core/clock.ts';
import { openLog } from '../src/log/open.ts';
import { resolveDefinition } from '../src/pipeline/builtin.ts';
import { compilePipeline } from '../src/pipeline/compile.ts';
import { fromObject } from '../src/pipeline/load.ts';
import { applySet } from '../src/pipeline/overrides.ts';
import {
  CLICKSTREAM_PARTITIONS,
  CLICKSTREAM_RETENTION_MS,
  CLICKSTREAM_TOPIC,
} from '../src/scenarios/clickstream/generate.ts';
import { openTarget } from './postgres-target.ts';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'string' },
    rate: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '300' },
    emit: { type: 'string', default: 'update' },
    'poll-ms': { type: 'string', default: '100' },
    set: { type: 'string', multiple: true },
    label: { type: 'string' },
    /** Internal: produce into this data directory, write the record of it to `--out` (the child). */
    'produce-into': { type: 'string' },
    out: { type: 'string' },
  },
});
const rate = Number(args.rate);
const duration = Number(args.duration);
const pollMs = Number(args['poll-ms']);
const MIN = 60_000;
const WATERMARK_MS = 2 * MIN;
if (args.emit !== 'update' && args.emit !== 'final') throw new Error('--emit is update or final');

/** The producer's record: per produce call, [wall ms, newest event time so far, [key, valid events added]...]. */
interface Produced {
  calls: Array<[number, number, Array<[string, number]>]>;
  kinds: Record<string, number>;
  cpuMs: number;
}

const EVENT_TYPE_AT = '"event_type":"';

if (args['produce-into'] !== undefined) {
  const log = await openLog({ dataDir: args['produce-into'] });
  const gen = new ClickstreamGenerator({ seed: 1, clock: systemClock });
  const kinds: Record<string, number> = { valid: 0, duplicate: 0, late: 0, malformed: 0 };
  let newest = 0;
  let added = new Map<string, number>();
  const calls: Produced['calls'] = [];
  const source = {
    next() {
      const r = gen.next();
      kinds[r.kind]++;
      if (r.eventTime !== undefined && r.eventTime > newest) newest = r.eventTime;
      if (r.kind === 'valid') {
        const at = r.value.indexOf(EVENT_TYPE_AT) + EVENT_TYPE_AT.length;
        const key = `${Math.floor(r.eventTime! / MIN) * MIN}|${r.value.slice(at, r.value.indexOf('"', at))}`;
        added.set(key, (added.get(key) ?? 0) + 1);
      }
      return r;
    },
  };
  const c0 = process.cpuUsage();
  await produceLoop({
    log,
    topic: CLICKSTREAM_TOPIC,
    source,
    count: rate * duration,
    rate,
    onProgress: () => {
      calls.push([Date.now(), newest, [...added]]);
      added = new Map();
    },
  });
  await log.close();
  const cpu = process.cpuUsage(c0);
  const produced: Produced = { calls, kinds, cpuMs: (cpu.user + cpu.system) / 1000 };
  writeFileSync(args.out!, JSON.stringify(produced));
  process.exit(0);
}

const round = (x: number) => Math.round(x);
const loads = () => loadavg().map((x) => Math.round(x * 100) / 100);

/** Quantiles of weighted values: [value, weight][]. */
function quantiles(xs: Array<[number, number]>, qs: number[]): number[] {
  const sorted = [...xs].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((s, x) => s + x[1], 0);
  return qs.map((q) => {
    let seen = 0;
    for (const [v, w] of sorted) {
      seen += w;
      if (seen >= q * total) return v;
    }
    return sorted.at(-1)?.[0] ?? Number.NaN;
  });
}

const summary = (xs: Array<[number, number]>) => {
  const [p50, p99, max] = quantiles(xs, [0.5, 0.99, 1]);
  return { n: xs.length, p50: round(p50), p99: round(p99), max: round(max) };
};

const dir = mkdtempSync(join(tmpdir(), 'bench-clickstream-lat-'));
const load0 = loads();
const result: Record<string, unknown> = {
  date: new Date().toISOString(),
  node: process.version,
  rate,
  durationS: duration,
  emit: args.emit,
  pollMs,
  sets: args.set ?? [],
  loadAverageAtStart: load0,
};
const target = await openTarget({ postgres: args.postgres, dataDir: dir });
result.target = target.describe;
console.log(
  `target: ${target.describe}; ${rate.toLocaleString('en')} events/s for ${duration} s, emit ${args.emit}`,
);
const log = await openLog({ dataDir: dir });
try {
  await log.ensureTopic(CLICKSTREAM_TOPIC, {
    partitions: CLICKSTREAM_PARTITIONS,
    retentionMs: CLICKSTREAM_RETENTION_MS,
  });
  let def = (await resolveDefinition('clickstream')).definition;
  const sets = [...(args.set ?? [])];
  if (args.emit === 'final')
    sets.push('transforms.by_type.emit=final', 'transforms.by_type_and_source.emit=final');
  for (const s of sets) def = applySet(def, s);
  const { pipeline } = await compilePipeline(fromObject(def), {
    dataDir: join(dir, 'data'),
    log,
    postgres: target.pool,
  });

  // The polls: per `window|event_type`, each change of its count with the poll's time.
  const seen = new Map<string, { changes: Array<[number, number]>; updatedAt: number }>();
  const rtts: Array<[number, number]> = [];
  let polling = true;
  let pollError: unknown;
  const poll = async () => {
    while (polling) {
      const t0 = Date.now();
      try {
        const rows = await target.query<{ w: string; t: string; c: string; u: string }>(
          `SELECT (extract(epoch FROM window_start) * 1000)::bigint AS w, event_type AS t, event_count AS c,
             (extract(epoch FROM updated_at) * 1000)::bigint AS u FROM realtime.events_per_minute`,
        );
        const t1 = Date.now();
        rtts.push([t1 - t0, 1]);
        for (const r of rows) {
          const k = `${r.w}|${r.t}`;
          const s = seen.get(k) ?? { changes: [], updatedAt: 0 };
          if (s.changes.at(-1)?.[1] !== Number(r.c)) {
            s.changes.push([t1, Number(r.c)]);
            s.updatedAt = Number(r.u);
          }
          seen.set(k, s);
        }
      } catch (err) {
        // The table does not exist until the sink opens it.
        if ((err as { code?: string }).code !== '42P01') pollError = err;
      }
      const wait = t0 + pollMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };

  const batchMs: Array<[number, number]> = [];
  let batches = 0;
  const stop = new AbortController();
  const c0 = process.cpuUsage();
  const s0 = (await target.serverCpuMs()) ?? 0;
  const sampler = setInterval(() => void target.serverCpuMs().catch(() => {}), 1000);
  const running = pipeline.run({
    signal: stop.signal,
    onBatch: (r) => {
      batches++;
      batchMs.push([r.durationMs, 1]);
    },
  });
  const polls = poll();
  const outFile = join(dir, 'produced.json');
  const producer = spawn(
    process.execPath,
    [
      import.meta.filename,
      '--produce-into',
      dir,
      '--out',
      outFile,
      '--rate',
      String(rate),
      '--duration',
      String(duration),
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const t0 = Date.now();
  const progress = setInterval(() => {
    const m = pipeline.metrics;
    console.log(
      `${round((Date.now() - t0) / 1000)} s: ${m.recordsIn.toLocaleString('en')} records in, ${batches} batches, lag ${[...m.lag.values()].reduce((a, b) => a + b, 0)}, load ${loads()[0]}`,
    );
  }, 30_000);
  const code = await new Promise<number | null>((r) => producer.on('exit', (c) => r(c)));
  clearInterval(progress);
  if (code !== 0) throw new Error(`the producer exited with ${code}`);
  // Let the pipeline take in the last produce calls, then stop it.
  await new Promise((r) => setTimeout(r, 5000));
  stop.abort();
  await running;
  polling = false;
  await polls;
  clearInterval(sampler);
  const cpu = process.cpuUsage(c0);
  const serverMs = await target.serverCpuMs();
  const m = pipeline.metrics;
  await pipeline.refreshLag();
  const lagAtEnd = [...m.lag.values()].reduce((a, b) => a + b, 0);
  await pipeline.close();
  if (pollError) throw pollError;

  const produced: Produced = JSON.parse(readFileSync(outFile, 'utf8'));
  const newest = produced.calls.at(-1)![1];
  /** When the watermark passed `end` (producer side): the first call with an event at end + 2 min or later. */
  const passedAt = (end: number) => produced.calls.find((c) => c[1] >= end + WATERMARK_MS)?.[0];
  const closed: Array<[number, number]> = [];
  const closedByUpdatedAt: Array<[number, number]> = [];
  let mismatched = 0;
  const validPerKey = new Map<string, number>();
  for (const [, , added] of produced.calls) {
    for (const [k, n] of added) validPerKey.set(k, (validPerKey.get(k) ?? 0) + n);
  }
  // Rows of minutes before the run are late-kind events counted before any watermark was set.
  const firstMinute = Math.floor(produced.calls[0][0] / MIN) * MIN;
  for (const [k, s] of seen) {
    const w = Number(k.split('|')[0]);
    const final = s.changes.at(-1)![1];
    if (w >= firstMinute && final !== validPerKey.get(k)) mismatched++;
    const at = w >= firstMinute && w + MIN + WATERMARK_MS <= newest ? passedAt(w + MIN) : undefined;
    if (at === undefined) continue;
    closed.push([s.changes.at(-1)![0] - at, 1]);
    closedByUpdatedAt.push([s.updatedAt - at, 1]);
  }
  // Freshness: each call's events are visible once their key's count reaches the running count.
  const fresh: Array<[number, number]> = [];
  const running2 = new Map<string, number>();
  let notVisible = 0;
  for (const [t, , added] of produced.calls) {
    for (const [k, n] of added) {
      const cum = (running2.get(k) ?? 0) + n;
      running2.set(k, cum);
      const v = seen.get(k)?.changes.find((c) => c[1] >= cum)?.[0];
      if (v === undefined) notVisible += n;
      else fresh.push([v - t, n]);
    }
  }
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const events = rate * duration;
  const latency = {
    windowsClosed: closed.length,
    pastWatermarkMs: summary(closed),
    pastWatermarkByUpdatedAtMs: summary(closedByUpdatedAt),
    freshnessMs: summary(fresh),
    freshnessEvents: fresh.reduce((s, x) => s + x[1], 0),
    eventsNotVisibleByEnd: notVisible,
    rowsNotEqualToProducedValid: mismatched,
    pollRoundTripMs: summary(rtts),
    batches,
    batchMs: summary(batchMs),
    ingestToAllSinksMs: {
      p50: round(m.ingestLatencyMs.quantile(0.5)),
      p99: round(m.ingestLatencyMs.quantile(0.99)),
    },
    pipelineCpuMs: round(cpuMs),
    pipelineCpuShare: Math.round((cpuMs / (duration * 1000)) * 100) / 100,
    producerCpuMs: round(produced.cpuMs),
    ...(serverMs !== undefined && { serverCpuMs: round(serverMs - s0) }),
    eventsPerCpuSec: round(events / (cpuMs / 1000)),
    kinds: produced.kinds,
    late: m.late,
    invalid: m.invalid,
    lagAtEnd,
  };
  result.latency = latency;
  result.loadAverageAtEnd = loads();
  const f = (s: { p50: number; p99: number; max: number }) => `p50 ${s.p50} / p99 ${s.p99} / max ${s.max} ms`;
  console.log(
    `${closed.length} (window, event_type) rows closed by the watermark: visible with their final count ${f(latency.pastWatermarkMs)} past the watermark (by updated_at: ${f(latency.pastWatermarkByUpdatedAtMs)})`,
  );
  console.log(
    `freshness (event produced → its count visible): ${f(latency.freshnessMs)} over ${latency.freshnessEvents.toLocaleString('en')} events (${notVisible.toLocaleString('en')} not visible by the end); rows of the run's minutes whose count is not the produced valid events: ${mismatched}`,
  );
  console.log(
    `${batches} batches, ${f(latency.batchMs)}; log → all sinks committed p50 ${latency.ingestToAllSinksMs.p50} / p99 ${latency.ingestToAllSinksMs.p99} ms; poll round trip ${f(latency.pollRoundTripMs)}`,
  );
  console.log(
    `CPU: pipeline process ${round(cpuMs)} ms (${latency.pipelineCpuShare} of a core; ${latency.eventsPerCpuSec.toLocaleString('en')} events per CPU-second), producer ${latency.producerCpuMs} ms${serverMs === undefined ? '' : `, server backends ${latency.serverCpuMs} ms`}; late ${m.late}, invalid ${m.invalid}; lag at the end ${lagAtEnd}`,
  );
  console.log(
    `load average (1/5/15 min): ${load0.join(' ')} at start, ${(result.loadAverageAtEnd as number[]).join(' ')} at end`,
  );
} finally {
  await log.close();
  await target.close();
  rmSync(dir, { recursive: true, force: true });
}
const out = join(import.meta.dirname, 'results');
mkdirSync(out, { recursive: true });
const file = join(
  out,
  `clickstream-latency-${args.postgres ? 'postgres' : 'pglite'}-${args.emit}${args.label ? `-${args.label}` : ''}.json`,
);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${file}`);
