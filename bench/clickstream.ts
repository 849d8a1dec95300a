/**
 * The clickstream speed layer (pipelines/clickstream.yaml, seed 002) draining a backlog
 * into PostgreSQL: the built-in definition compiled as `tributary run clickstream` does
 * (contract check, bronze Delta table, dedup, two 1-minute windows with `emit: update`,
 * three upserting PostgreSQL sinks committing the source progress with their rows).
 *
 * 1. A child process produces the backlog first (so the drain's CPU figures are the
 *    pipeline's alone): `--events` records (default 2,000,000) of ClickstreamGenerator
 *    (its default shares: 0.5 % duplicates, 0.5 % late, 0.2 % malformed, 2 % out of
 *    order) into the embedded log's `user-events` topic (3 partitions), in produce calls
 *    of 5,000, with event time advancing `--event-rate` events per second (default
 *    1,000: 2,000,000 events span 33 minutes of event time, 34 windows per key).
 * 2. The pipeline drains it until caught up. Figures: events/s (events / drain time),
 *    events per CPU-second of this process (`process.cpuUsage`: DuckDB's threads and, for
 *    PGlite, the database itself), and for a real server on this machine the CPU of its
 *    backends serving the run's database (bench/postgres-target.ts) and events per
 *    CPU-second of both together; the time per stage summed over the batch reports
 *    (stages overlap: the next batch is fetched and decoded while the current one goes
 *    through the windows and the sinks; `wait` is the time the latter waited for it).
 * 3. Rows: rows upserted per PostgreSQL table (summed over batches) and rows in it at
 *    the end; a check against what the generator made: each (minute, event_type) row of
 *    `realtime.events_per_minute` holds the minute's valid events, plus any late-kind
 *    events that were not late to the pipeline (3-10 minutes behind the generator's
 *    clock, they are on time for a watermark that batches of minutes of event time have
 *    not advanced yet), and those add up to the late-kind events not sent to the DLQ;
 *    the DLQ holds the malformed and late ones; dedup dropped every duplicate; bronze
 *    holds every valid, late-kind and duplicate record.
 *
 *   node bench/clickstream.ts [--postgres URL] [--events N] [--event-rate R]
 *     [--max-records N] [--set PATH=VALUE ...] [--label L] [--keep]
 *
 * Without `--postgres`: the embedded PGlite (pool of one connection, as the CLI). With
 * `--postgres URL` (e.g. "$TRIBUTARY_TEST_POSTGRES"): a fresh database on that server,
 * dropped afterwards. Writes bench/results/clickstream-<postgres|pglite>[-label].json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClickstreamGenerator } from '../src/connectors/generators/clickstream.ts';
import { produceLoop } from '../src/connectors/generators/produce-loop.ts';
import { ManualClock } from '../src/core/clock.ts';
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
import type { BatchReport } from '../src/stream/pipeline.ts';
import { openTarget } from './postgres-target.ts';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'string' },
    events: { type: 'string', default: '2000000' },
    'event-rate': { type: 'string', default: '1000' },
    'max-records': { type: 'string' },
    set: { type: 'string', multiple: true },
    label: { type: 'string' },
    keep: { type: 'boolean', default: false },
    /** Internal: produce the backlog into this data directory and exit (the child process). */
    'generate-into': { type: 'string' },
  },
});
const events = Number(args.events);
const eventRate = Number(args['event-rate']);
const T0 = Date.UTC(2026, 0, 27, 9, 0, 0);
const MIN = 60_000;

/** What the generator made: records per kind, and per `minute|event_type` its valid and late-kind events. */
interface Expected {
  kinds: Record<string, number>;
  perWindow: Record<string, number>;
  latePerWindow: Record<string, number>;
}

const EVENT_TYPE_AT = '"event_type":"';

async function produceBacklog(dir: string): Promise<Expected> {
  const log = await openLog({ dataDir: dir });
  await log.ensureTopic(CLICKSTREAM_TOPIC, {
    partitions: CLICKSTREAM_PARTITIONS,
    retentionMs: CLICKSTREAM_RETENTION_MS,
  });
  const clock = new ManualClock(T0);
  const gen = new ClickstreamGenerator({ seed: 1, clock });
  const step = 1000 / eventRate;
  const kinds: Record<string, number> = { valid: 0, duplicate: 0, late: 0, malformed: 0 };
  const perWindow: Record<string, number> = {};
  const latePerWindow: Record<string, number> = {};
  let i = 0;
  const source = {
    next() {
      clock.set(T0 + Math.floor(i++ * step));
      const r = gen.next();
      kinds[r.kind]++;
      if (r.kind === 'valid' || r.kind === 'late') {
        const at = r.value.indexOf(EVENT_TYPE_AT) + EVENT_TYPE_AT.length;
        const type = r.value.slice(at, r.value.indexOf('"', at));
        const key = `${Math.floor(r.eventTime! / MIN) * MIN}|${type}`;
        const counts = r.kind === 'valid' ? perWindow : latePerWindow;
        counts[key] = (counts[key] ?? 0) + 1;
      }
      return r;
    },
  };
  await produceLoop({ log, topic: CLICKSTREAM_TOPIC, source, count: events });
  await log.close();
  return { kinds, perWindow, latePerWindow };
}

if (args['generate-into'] !== undefined) {
  const expected = await produceBacklog(args['generate-into']);
  writeFileSync(join(args['generate-into'], 'expected.json'), JSON.stringify(expected));
  process.exit(0);
}

const round = (x: number) => Math.round(x);
const loads = () => loadavg().map((x) => Math.round(x * 100) / 100);

const dir = mkdtempSync(join(tmpdir(), 'bench-clickstream-'));
const load0 = loads();
const result: Record<string, unknown> = {
  date: new Date().toISOString(),
  node: process.version,
  events,
  eventRate,
  eventTimeMinutes: Math.round(events / eventRate / 60),
  sets: args.set ?? [],
  loadAverageAtStart: load0,
};
try {
  const g0 = performance.now();
  const gen = spawnSync(
    process.execPath,
    [
      import.meta.filename,
      '--generate-into',
      dir,
      '--events',
      String(events),
      '--event-rate',
      String(eventRate),
    ],
    { stdio: 'inherit' },
  );
  if (gen.status !== 0) throw new Error(`the generator exited with ${gen.status ?? gen.signal}`);
  const expected: Expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
  const genMs = performance.now() - g0;
  result.generate = { ms: round(genMs), kinds: expected.kinds };
  console.log(
    `generated ${events.toLocaleString('en')} events (${Object.entries(expected.kinds)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}; ${result.eventTimeMinutes} min of event time) in ${round(genMs)} ms`,
  );

  const target = await openTarget({ postgres: args.postgres, dataDir: dir });
  result.target = target.describe;
  console.log(`target: ${target.describe}`);
  const log = await openLog({ dataDir: dir });
  try {
    let def = (await resolveDefinition('clickstream')).definition;
    const sets = [...(args.set ?? [])];
    if (args['max-records']) sets.push(`runtime.max_records_per_batch=${Number(args['max-records'])}`);
    for (const s of sets) def = applySet(def, s);
    const compiled = await compilePipeline(fromObject(def), {
      dataDir: join(dir, 'data'),
      log,
      postgres: target.pool,
    });
    const { pipeline } = compiled;
    const stages: Record<string, number> = {};
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const s0 = (await target.serverCpuMs()) ?? 0;
    // Backends are sampled every second too (a connection the pool closes keeps its last reading).
    const sampler = setInterval(() => void target.serverCpuMs().catch(() => {}), 1000);
    await pipeline.run({
      untilCaughtUp: true,
      onBatch: (r: BatchReport) => {
        for (const [k, v] of Object.entries(r.stages)) stages[k] = (stages[k] ?? 0) + v;
      },
    });
    const drainMs = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    clearInterval(sampler);
    const serverMs = await target.serverCpuMs();
    const serverCpuMs = serverMs === undefined ? undefined : serverMs - s0;
    const m = pipeline.metrics;
    await pipeline.close();

    const tables: Record<string, { upserted: number; rows: number; sum: number }> = {};
    for (const [sink, table, col] of [
      ['events_per_minute', 'realtime.events_per_minute', 'event_count'],
      ['logins_per_source', 'realtime.logins_per_source', 'login_count'],
      ['purchases_per_minute', 'realtime.purchases_per_minute', 'purchase_count'],
    ]) {
      const [r] = await target.query<{ n: string; s: string }>(
        `SELECT count(*) AS n, coalesce(sum(${col}), 0) AS s FROM ${table}`,
      );
      tables[table] = { upserted: m.sinks.get(sink)?.rows ?? 0, rows: Number(r.n), sum: Number(r.s) };
    }
    const epm = await target.query<{ w: string; t: string; c: string }>(
      'SELECT (extract(epoch FROM window_start) * 1000)::bigint AS w, event_type AS t, event_count AS c FROM realtime.events_per_minute',
    );
    // A window's count is its valid events plus those late-kind events that were not late
    // to the pipeline (a late-kind event is 3-10 minutes behind the generator's clock; the
    // watermark is that of the batch before, which spans minutes of event time in a drain).
    let equal = 0;
    let withLate = 0;
    let wrong = 0;
    let lateCounted = 0;
    const keys = new Set(Object.keys(expected.perWindow));
    for (const r of epm) {
      const k = `${r.w}|${r.t}`;
      const valid = expected.perWindow[k] ?? 0;
      const c = Number(r.c);
      keys.delete(k);
      if (c === valid) equal++;
      else if (c > valid && c <= valid + (expected.latePerWindow[k] ?? 0)) withLate++;
      else wrong++;
      lateCounted += c - valid;
    }
    const bronze = m.sinks.get('bronze')?.rows ?? 0;
    const k = expected.kinds;
    const check = {
      windowsEqual: equal,
      windowsWithLateKindCounted: withLate,
      windowsWrong: wrong,
      windowsMissing: keys.size,
      lateKindCounted: lateCounted,
      lateKindNotLate: k.late - m.late,
      ok:
        keys.size === 0 &&
        wrong === 0 &&
        lateCounted === k.late - m.late &&
        m.invalid === k.malformed + m.late &&
        m.deduplicated === k.duplicate &&
        bronze === k.valid + k.late + k.duplicate,
    };
    const drain = {
      drainMs: round(drainMs),
      eventsPerSec: round(events / (drainMs / 1000)),
      cpuMs: round(cpuMs),
      eventsPerCpuSec: round(events / (cpuMs / 1000)),
      ...(serverCpuMs !== undefined && {
        serverCpuMs: round(serverCpuMs),
        eventsPerCpuSecWithServer: round(events / ((cpuMs + serverCpuMs) / 1000)),
      }),
      batches: m.batches,
      stageMs: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, round(v)])),
      bronzeRows: bronze,
      invalid: m.invalid,
      late: m.late,
      deduplicated: m.deduplicated,
      tables,
    };
    result.drain = drain;
    result.check = check;
    result.loadAverageAtEnd = loads();
    console.log(
      `drained ${events.toLocaleString('en')} events into ${target.kind} in ${round(drainMs)} ms: ${drain.eventsPerSec.toLocaleString('en')} events/s, ${drain.eventsPerCpuSec.toLocaleString('en')} events per CPU-second of this process (${round(cpuMs)} CPU-ms)` +
        (serverCpuMs === undefined
          ? ''
          : `; server backends ${round(serverCpuMs)} CPU-ms: ${drain.eventsPerCpuSecWithServer?.toLocaleString('en')} events per CPU-second of both`),
    );
    console.log(
      `${m.batches} batches; stages (ms, summed over batches): ${Object.entries(drain.stageMs)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    console.log(
      `bronze ${bronze.toLocaleString('en')} rows; to the DLQ ${m.invalid} (${m.late} of them late); ${m.deduplicated} duplicates dropped`,
    );
    for (const [t, x] of Object.entries(tables)) {
      console.log(`${t}: ${x.upserted} rows upserted, ${x.rows} rows at the end (sum of counts ${x.sum})`);
    }
    console.log(
      `check against the generator: events_per_minute ${equal} windows equal to their valid events, ${withLate} with late-kind events counted too (${lateCounted} in all; ${check.lateKindNotLate} late-kind events were not late to the pipeline), ${wrong} wrong, ${keys.size} missing; invalid ${m.invalid} = malformed ${k.malformed} + late ${m.late}, duplicates dropped ${m.deduplicated} = ${k.duplicate}, bronze ${bronze} = valid + late + duplicate ${k.valid + k.late + k.duplicate}: ${check.ok ? 'ok' : 'MISMATCH'}`,
    );
    console.log(
      `load average (1/5/15 min): ${load0.join(' ')} at start, ${(result.loadAverageAtEnd as number[]).join(' ')} at end`,
    );
    if (!check.ok) process.exitCode = 1;
  } finally {
    await log.close();
    await target.close();
  }
} finally {
  if (args.keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
const out = join(import.meta.dirname, 'results');
mkdirSync(out, { recursive: true });
const file = join(
  out,
  `clickstream-${args.postgres ? 'postgres' : 'pglite'}${args.label ? `-${args.label}` : ''}.json`,
);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${file}`);
