/**
 * The sales system's pipeline (pipelines/saas.yaml, seed 004) draining a backlog: the
 * built-in definition compiled as `tributary run saas` does, with the embedded schema
 * registry over the log.
 *
 * 1. A child process produces the backlog first (so the drain's CPU figures are the
 *    pipeline's alone): `generateSales` (seed 4, its default shares: 1 % duplicates, 2 %
 *    late, 1 % invalid), `--events` records (default 1,000,000) into the embedded log's
 *    `sales.events.v1` (3 partitions), version 1 of the schema, version 2 from halfway,
 *    its clock advancing `--event-rate` events per second of event time (default 1,000:
 *    a million events span 17 minutes, three 5-minute windows per group closed).
 * 2. Each variant drains a copy of that data directory until caught up, the variants in
 *    turn, `--rounds` times (default 1): events/s (events / drain time), events per
 *    CPU-second of this process (`process.cpuUsage`: DuckDB's threads included), the
 *    time per stage summed over the batch reports (fetch and decode of the next batch
 *    overlap the current one's windows and sinks; the sinks run alongside each other;
 *    `wait` is the time a batch waited for the one read ahead).
 *    Variants (`--variants`, comma-separated; default all): `full` (the definition);
 *    `no-topic` (without the Avro revenue topic sink); `no-quality` (without the
 *    `dq.results.v1` results); `no-silver-dedup` (silver's sink without its table dedup);
 *    `bronze` (decode, contract, DLQ, bronze and the quality results only). A first drain
 *    of `full`, not counted, warms up the process (`--no-warmup`: none).
 * 3. A check of every `full` drain: bronze + DLQ = the records produced, silver holds each
 *    event_id once; and, with `--oracle` (default on; ~20 s for a million), gold against
 *    the independent computation (src/scenarios/saas-sales/expected.ts: the records
 *    decoded with avsc, deduplicated, windows of the on-time events given the late
 *    events the pipeline kept in `sales_late_events`).
 *
 *   node bench/saas-pipeline.ts [--events N] [--event-rate R] [--max-records N]
 *     [--variants full,no-topic,...] [--rounds N] [--no-oracle] [--no-warmup] [--set PATH=VALUE ...]
 *     [--label L] [--keep]
 *
 * Writes bench/results/saas-pipeline[-label].json.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Log } from '../src/log/log.ts';
import { openLog } from '../src/log/open.ts';
import { resolveDefinition } from '../src/pipeline/builtin.ts';
import { compilePipeline } from '../src/pipeline/compile.ts';
import type { PipelineDefinition } from '../src/pipeline/definition.ts';
import { fromObject } from '../src/pipeline/load.ts';
import { applySet } from '../src/pipeline/overrides.ts';
import { SALES_DLQ_TOPIC, SALES_TOPIC } from '../src/scenarios/saas-sales/domain.ts';
import { expectedSales, readSalesTopic } from '../src/scenarios/saas-sales/expected.ts';
import { generateSales } from '../src/scenarios/saas-sales/generate.ts';
import { openRegistry } from '../src/server/registry/server.ts';
import { LocalStore } from '../src/storage/local.ts';
import type { BatchReport } from '../src/stream/pipeline.ts';
import { openConnection, scan } from '../src/table/index.ts';
import { DeltaTable } from '../src/table/table.ts';

const VARIANTS = ['full', 'no-topic', 'no-quality', 'no-silver-dedup', 'bronze'] as const;
type Variant = (typeof VARIANTS)[number];

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    'event-rate': { type: 'string', default: '1000' },
    'max-records': { type: 'string' },
    variants: { type: 'string', default: VARIANTS.join(',') },
    rounds: { type: 'string', default: '1' },
    oracle: { type: 'boolean', default: true },
    warmup: { type: 'boolean', default: true },
    'no-warmup': { type: 'boolean', default: false },
    'no-oracle': { type: 'boolean', default: false },
    set: { type: 'string', multiple: true },
    label: { type: 'string' },
    keep: { type: 'boolean', default: false },
    /** Internal: produce the backlog into this data directory and exit (the child process). */
    'generate-into': { type: 'string' },
  },
});
const events = Number(args.events);
const eventRate = Number(args['event-rate']);
const T0 = Date.UTC(2026, 4, 4, 9, 0, 0);
const variants = args.variants.split(',').map((v) => {
  if (!(VARIANTS as readonly string[]).includes(v))
    throw new Error(`unknown variant '${v}' (${VARIANTS.join(', ')})`);
  return v as Variant;
});

if (args['generate-into'] !== undefined) {
  const log = await openLog({ dataDir: args['generate-into'] });
  const registry = await openRegistry({ log });
  // The generator reads the clock once per record: event time advances `eventRate` a second.
  let i = 0;
  const step = 1000 / eventRate;
  const clock = { now: () => T0 + Math.floor(i++ * step) };
  const n = await generateSales({
    log,
    registry: registry.client,
    count: events,
    seed: 4,
    clock,
    switchAt: Math.floor(events / 2),
  });
  await registry.close();
  await log.close();
  if (n !== events) throw new Error(`produced ${n} of ${events}`);
  process.exit(0);
}

const round = (x: number) => Math.round(x);
const loads = () => loadavg().map((x) => Math.round(x * 100) / 100);

/** The definition of a variant (and the command line's --set). */
function variantOf(def: PipelineDefinition, v: Variant): PipelineDefinition {
  let d = structuredClone(def);
  const dropSinks = (names: string[]) => {
    d.sinks = d.sinks.filter((s) => !names.includes(s.name));
  };
  if (v === 'no-topic') dropSinks(['revenue_topic']);
  if (v === 'no-quality') delete d.quality;
  if (v === 'no-silver-dedup') {
    for (const s of d.sinks) if (s.name === 'silver' && 'dedup' in s) delete (s as { dedup?: unknown }).dedup;
  }
  if (v === 'bronze') {
    dropSinks(['silver', 'gold', 'revenue_topic']);
    d.transforms = (d.transforms ?? []).filter((t) => t.name === 'bronze');
  }
  const sets = [...(args.set ?? [])];
  if (args['max-records']) sets.push(`runtime.max_records_per_batch=${Number(args['max-records'])}`);
  for (const s of sets) d = applySet(d, s);
  return d;
}

async function tableFiles(dataDir: string, name: string): Promise<string[]> {
  const table = await DeltaTable.open(new LocalStore(join(dataDir, 'tables', name)));
  return (await scan(table, await table.snapshot())).map((f) => f.localPath);
}

async function topicCount(log: Log, topic: string): Promise<number> {
  const info = await log.describeTopic(topic);
  let n = 0;
  for (let p = 0; p < info.partitions; p++) {
    const o = await log.offsets(topic, p);
    n += o.latest - o.earliest;
  }
  return n;
}

/** Bronze + DLQ = produced, silver's ids once each, and (with the oracle) gold = the independent windows. */
async function check(
  dataDir: string,
  log: Log,
  registry: Awaited<ReturnType<typeof openRegistry>>,
  oracle: boolean,
) {
  const conn = await openConnection();
  try {
    const rel = async (name: string) =>
      `read_parquet([${(await tableFiles(dataDir, name)).map((f) => `'${f}'`).join(', ')}], union_by_name = true)`;
    const one = async (sql: string) => (await conn.runAndReadAll(sql)).getRowObjects()[0];
    const bronze = Number((await one(`SELECT count(*) AS n FROM ${await rel('sales_bronze')}`)).n);
    const s = await one(
      `SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM ${await rel('sales_silver')}`,
    );
    const dlq = await topicCount(log, SALES_DLQ_TOPIC);
    const out: Record<string, unknown> = {
      bronze,
      dlq,
      silver: Number(s.n),
      silverIds: Number(s.ids),
      ok: bronze + dlq === events && Number(s.n) === Number(s.ids),
    };
    if (!oracle) return out;
    const lateRows = (
      await conn.runAndReadAll(`SELECT _p, _o FROM ${await rel('sales_late_events')}`)
    ).getRows();
    const late = new Set(lateRows.map(([p, o]) => `${p}/${o}`));
    const { records, schemas } = await readSalesTopic(log, SALES_TOPIC, registry.client);
    const expected = expectedSales(records, schemas, { delayMs: 120_000, late });
    const key = (r: Record<string, unknown>) =>
      [
        r.start,
        r.plan_tier,
        r.region,
        r.currency,
        r.revenue,
        r.gross_revenue,
        r.refunds,
        r.events,
        r.accounts,
      ].join('|');
    const gold = (
      await conn.runAndReadAll(
        `SELECT epoch_ms(window_start) AS start, plan_tier, region, currency, revenue::VARCHAR AS revenue, gross_revenue::VARCHAR AS gross_revenue, refunds::VARCHAR AS refunds, events, accounts FROM ${await rel('sales_revenue_5m')}`,
      )
    )
      .getRowObjects()
      .map(key)
      .sort();
    const want = expected.closed.map((w) => key({ ...w, start: Date.parse(w.window_start) })).sort();
    const goldEqual = gold.length === want.length && gold.every((g, i) => g === want[i]);
    Object.assign(out, {
      oracleInvalid: expected.invalid.length,
      oracleEvents: expected.events.length,
      goldRows: gold.length,
      oracleClosedWindows: want.length,
      goldEqual,
      impossibleLate: expected.impossibleLate.length,
    });
    out.ok =
      out.ok &&
      goldEqual &&
      expected.invalid.length === dlq &&
      expected.events.length === Number(s.n) &&
      expected.impossibleLate.length === 0;
    return out;
  } finally {
    conn.closeSync();
  }
}

const root = mkdtempSync(join(tmpdir(), 'bench-saas-'));
const gen = join(root, 'generated');
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
const runs: Array<Record<string, unknown>> = [];
let failed = false;
try {
  const g0 = performance.now();
  const child = spawnSync(
    process.execPath,
    [
      import.meta.filename,
      '--generate-into',
      gen,
      '--events',
      String(events),
      '--event-rate',
      String(eventRate),
    ],
    { stdio: 'inherit' },
  );
  if (child.status !== 0) throw new Error(`the generator exited with ${child.status ?? child.signal}`);
  result.generateMs = round(performance.now() - g0);
  console.log(
    `generated ${events.toLocaleString('en')} sales events (${result.eventTimeMinutes} min of event time) in ${result.generateMs} ms`,
  );
  const resolved = await resolveDefinition('saas');
  let oracleDone = false;
  // A first drain is slower (code loaded and compiled, DuckDB started): one of `full`, not counted.
  const warmup = args.warmup && !args['no-warmup'];
  for (let r = warmup ? -1 : 0; r < Number(args.rounds); r++) {
    for (const v of r < 0 ? (['full'] as const) : variants) {
      const dir = join(root, `${v}-${r}`);
      cpSync(gen, dir, { recursive: true });
      const log = await openLog({ dataDir: dir });
      const registry = await openRegistry({ log });
      try {
        const def = variantOf(resolved.definition, v);
        const { pipeline } = await compilePipeline(
          { ...fromObject(def), file: resolved.file },
          { dataDir: dir, log, registry: registry.client },
        );
        const stages: Record<string, number> = {};
        const loadBefore = loads()[0];
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await pipeline.run({
          untilCaughtUp: true,
          onBatch: (b: BatchReport) => {
            for (const [k, x] of Object.entries(b.stages)) stages[k] = (stages[k] ?? 0) + x;
          },
        });
        const ms = performance.now() - t0;
        const cpu = process.cpuUsage(c0);
        const cpuMs = (cpu.user + cpu.system) / 1000;
        const m = pipeline.metrics;
        await pipeline.close();
        if (r < 0) {
          console.log(`warm-up drain (${v}): ${round(ms)} ms, not counted`);
          continue;
        }
        const run: Record<string, unknown> = {
          variant: v,
          round: r,
          load: [loadBefore, loads()[0]],
          drainMs: round(ms),
          eventsPerSec: round(events / (ms / 1000)),
          cpuMs: round(cpuMs),
          eventsPerCpuSec: round(events / (cpuMs / 1000)),
          batches: m.batches,
          stageMs: Object.fromEntries(Object.entries(stages).map(([k, x]) => [k, round(x)])),
          invalid: m.invalid,
          late: m.late,
          deduplicated: m.deduplicated,
          sinkRows: Object.fromEntries([...m.sinks].map(([k, c]) => [k, c.rows])),
        };
        if (v === 'full') {
          const oracle: boolean = args.oracle && !args['no-oracle'] && !oracleDone;
          run.check = await check(dir, log, registry, oracle);
          oracleDone ||= oracle;
          if (!(run.check as { ok: boolean }).ok) failed = true;
        }
        runs.push(run);
        console.log(
          `${v.padEnd(16)} round ${r}: ${(run.eventsPerSec as number).toLocaleString('en')} events/s, ${(run.eventsPerCpuSec as number).toLocaleString('en')} per CPU-second (${run.drainMs} ms, ${run.cpuMs} CPU-ms, ${m.batches} batches, load ${loadBefore} → ${loads()[0]})`,
        );
        console.log(
          `  stages (ms, summed): ${Object.entries(run.stageMs as Record<string, number>)
            .map(([k, x]) => `${k} ${x}`)
            .join(', ')}`,
        );
        if (run.check) console.log(`  check: ${JSON.stringify(run.check)}`);
      } finally {
        await registry.close();
        await log.close();
        if (!args.keep) rmSync(dir, { recursive: true, force: true });
      }
    }
  }
} finally {
  if (args.keep) console.log(`kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
}
result.runs = runs;
result.loadAverageAtEnd = loads();
console.log(
  `load average (1/5/15 min): ${load0.join(' ')} at start, ${(result.loadAverageAtEnd as number[]).join(' ')} at end`,
);
const out = join(import.meta.dirname, 'results');
mkdirSync(out, { recursive: true });
const file = join(out, `saas-pipeline${args.label ? `-${args.label}` : ''}.json`);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${file}`);
if (failed) process.exitCode = 1;
