/**
 * End-to-end latency of the sales system (pipelines/saas.yaml, seed 004) at a fixed input
 * rate, in real time. Three processes on one data directory (the embedded log):
 *
 * - this one creates `sales.events.v1` (3 partitions), starts the two others, and
 *   measures afterwards;
 * - `tributary run saas` (bin/tributary.js, as a user runs it), with the embedded schema
 *   registry over the log (topic `_schemas`) unless `--registry URL` names one served
 *   over HTTP (then the producer uses it too);
 * - a producer (this file with `--produce-into`): `generateSales` at `--rate` events/s
 *   (default 10,000) for `--duration` seconds (default 300), the system clock, seed 4,
 *   its default shares of duplicates (1 %), late (2 %) and invalid (1 %) records; it
 *   registers version 1 of `sales_event`, switches to version 2 halfway (registering it
 *   while the pipeline runs).
 *
 * "Queryable" is when a reader of a table can see a row: the table's commit file
 * (`_delta_log/<version>.json`) is linked into place by put-if-absent; its ctime is that
 * moment (read after the run, from the files: no polling). For each table the rows of
 * each commit are read back (DuckDB over the commit's added Parquet files) and:
 *
 * - bronze, silver: per row, commit − `ingest_time` (the producer's clock when it made
 *   the record, just before its produce call) and commit − `event_time`. From event time
 *   over the on-time rows only (`ingest_time − event_time` ≤ 2 s, the generator's
 *   delivery delay; its late kind is 30 s – 15 min behind and would be the p99 by
 *   design). A re-sent duplicate carries its original's bytes, so its `ingest_time` is
 *   the original's (≤ 0.1 s earlier at this rate). Rows whose `ingest_time` is within
 *   `--warmup` seconds (default 10) of the first record are left out (JIT, first batch).
 * - gold (`sales_revenue_5m`, `emit: final`): a window [start, end) is written once, in
 *   the batch whose watermark (newest event time − 2 min) passes its end. That happens
 *   when the pipeline reads the first event with event time ≥ end + 2 min; its
 *   `ingest_time` (the minimum over silver's rows with such an event time) is when the
 *   window became final at the source. Per window: commit of its rows − that moment
 *   ("past the watermark"), and commit − end ("from event time": ≥ 2 min by design).
 *   Also the window's records on `sales.agg.revenue_5m.v1`: their log time − that
 *   moment. One sample per window (all its groups commit together): a run of D minutes
 *   closes about (D − 2) / 5 + 1 windows after the warm-up, so 5 minutes gives one or
 *   two; give `--duration 1200` for four.
 *
 * Also: the pipeline's CPU (utime + stime of the `tributary run` process from /proc, all
 * its threads, while the producer ran plus the settle time), events per CPU-second of it;
 * the producer's CPU; the lag when the producer stopped (bronze's rows committed after
 * that moment, and when the last one was); the pipeline's own lag when stopped (its last
 * progress line: records in the log it has not fetched, not time); its peak resident
 * memory (VmHWM); its own per-sink latency figures (its last line: from the log time to
 * each sink's durable commit); the load average at start and end.
 *
 *   node bench/saas-latency.ts [--rate R] [--duration S] [--warmup S] [--settle S]
 *     [--registry URL] [--set PATH=VALUE ...] [--label L] [--keep] [--cpu-prof DIR]
 *     [--node-option OPT ...]
 *
 * Writes bench/results/saas-latency[-label].json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import avro from 'avsc';
import { HttpSchemaRegistryClient } from '../src/connectors/avro/http-registry.ts';
import type { SchemaRegistryClient } from '../src/connectors/avro/registry-client.ts';
import { openLog } from '../src/log/open.ts';
import { REVENUE_TOPIC, SALES_PARTITIONS, SALES_TOPIC } from '../src/scenarios/saas-sales/domain.ts';
import { generateSales } from '../src/scenarios/saas-sales/generate.ts';
import { DELIVERY_DELAY_MAX_MS } from '../src/scenarios/saas-sales/generator.ts';
import { openRegistry } from '../src/server/registry/server.ts';
import { LocalStore } from '../src/storage/local.ts';
import { openConnection, readChanges } from '../src/table/index.ts';
import { commitPath } from '../src/table/log-files.ts';
import { DeltaTable } from '../src/table/table.ts';
import { mainThreadCpuMs, peakRssMiB, processCpuMs } from './proc.ts';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '10' },
    settle: { type: 'string', default: '5' },
    registry: { type: 'string' },
    set: { type: 'string', multiple: true },
    label: { type: 'string' },
    keep: { type: 'boolean', default: false },
    /** Write a CPU profile of the pipeline's process (node --cpu-prof) into this directory. */
    'cpu-prof': { type: 'string' },
    /** An option for the pipeline process's node (e.g. --import=FILE to instrument it). */
    'node-option': { type: 'string', multiple: true },
    /** Internal: produce into this data directory, write what it did to `--out` (the child). */
    'produce-into': { type: 'string' },
    out: { type: 'string' },
  },
});
const rate = Number(args.rate);
const duration = Number(args.duration);
const count = rate * duration;
const WATERMARK_MS = 2 * 60_000;

interface Produced {
  produced: number;
  startMs: number;
  endMs: number;
  cpuMs: number;
  schemas: Array<{ version: number; id: number; at: number }>;
}

async function registryFor(log: Awaited<ReturnType<typeof openLog>>) {
  if (args.registry)
    return {
      client: new HttpSchemaRegistryClient(args.registry) as SchemaRegistryClient,
      close: async () => {},
    };
  return openRegistry({ log });
}

if (args['produce-into'] !== undefined) {
  const log = await openLog({ dataDir: args['produce-into'] });
  const registry = await registryFor(log);
  const schemas: Produced['schemas'] = [];
  const c0 = process.cpuUsage();
  const startMs = Date.now();
  const produced = await generateSales({
    log,
    registry: registry.client,
    count,
    rate,
    seed: 4,
    switchAt: Math.floor(count / 2),
    onSchema: (version, id) => schemas.push({ version, id, at: Date.now() }),
  });
  const endMs = Date.now();
  const cpu = process.cpuUsage(c0);
  await registry.close();
  await log.close();
  const out: Produced = { produced, startMs, endMs, cpuMs: (cpu.user + cpu.system) / 1000, schemas };
  writeFileSync(args.out!, JSON.stringify(out));
  process.exit(0);
}

const round = (x: number) => Math.round(x);
const loads = () => loadavg().map((x) => Math.round(x * 100) / 100);
const TRIBUTARY = join(import.meta.dirname, '..', 'bin', 'tributary.js');

const dir = mkdtempSync(join(tmpdir(), 'bench-saas-lat-'));
const load0 = loads();
const result: Record<string, unknown> = {
  date: new Date().toISOString(),
  node: process.version,
  rate,
  durationS: duration,
  warmupS: Number(args.warmup),
  registry: args.registry ?? 'embedded (topic _schemas of the data directory)',
  sets: args.set ?? [],
  loadAverageAtStart: load0,
};
console.log(
  `sales system: ${rate.toLocaleString('en')} events/s for ${duration} s into ${dir}; registry ${result.registry}`,
);

/** Lines of a child's stream, each given to `onLine`. */
function lines(stream: NodeJS.ReadableStream, onLine: (l: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    rest += chunk;
    let i = rest.indexOf('\n');
    while (i >= 0) {
      onLine(rest.slice(0, i));
      rest = rest.slice(i + 1);
      i = rest.indexOf('\n');
    }
  });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((r) => {
    if (child.exitCode !== null) r(child.exitCode);
    else child.on('exit', (c) => r(c));
  });

// Children still running when the benchmark fails are stopped with it.
const children: ChildProcess[] = [];
try {
  const log = await openLog({ dataDir: dir });
  await log.ensureTopic(SALES_TOPIC, { partitions: SALES_PARTITIONS });
  await log.close();

  // The pipeline, as a user runs it.
  const runArgs = [TRIBUTARY, 'run', 'saas', '--data-dir', dir, '--progress-ms', '1000'];
  for (const s of args.set ?? []) runArgs.push('--set', s);
  if (args.registry) runArgs.push('--registry', args.registry);
  if (args['cpu-prof']) runArgs.unshift('--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`);
  runArgs.unshift(...(args['node-option'] ?? []));
  const run = spawn(process.execPath, runArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(run);
  let lastProgress = '';
  let finalLine = '';
  const errors: string[] = [];
  lines(run.stderr!, (l) => {
    if (l.startsWith('saas: ')) lastProgress = l;
    else {
      errors.push(l);
      console.error(`[run] ${l}`);
    }
  });
  lines(run.stdout!, (l) => {
    finalLine = l;
  });
  // Ready when it reports (its first progress line comes after the pipeline is compiled).
  for (let i = 0; i < 300 && lastProgress === '' && run.exitCode === null; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (run.exitCode !== null)
    throw new Error(`tributary run exited with ${run.exitCode}: ${errors.join('\n')}`);

  const outFile = join(dir, 'produced.json');
  const cpu0 = processCpuMs(run.pid!) ?? 0;
  const main0 = mainThreadCpuMs(run.pid!) ?? 0;
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
      ...(args.registry ? ['--registry', args.registry] : []),
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  children.push(producer);
  const t0 = Date.now();
  const progress = setInterval(() => {
    console.log(`${round((Date.now() - t0) / 1000)} s, load ${loads()[0]}: ${lastProgress.slice(0, 160)}`);
  }, 30_000);
  const code = await exited(producer);
  clearInterval(progress);
  if (code !== 0) throw new Error(`the producer exited with ${code}`);
  await new Promise((r) => setTimeout(r, Number(args.settle) * 1000));
  const cpuMs = (processCpuMs(run.pid!) ?? Number.NaN) - cpu0;
  const mainMs = (mainThreadCpuMs(run.pid!) ?? Number.NaN) - main0;
  const peakRssMb = peakRssMiB(run.pid!);
  const stopProgress = lastProgress;
  run.kill('SIGINT');
  const runCode = await exited(run);
  if (runCode !== 0) throw new Error(`tributary run exited with ${runCode}: ${errors.join('\n')}`);
  const produced: Produced = JSON.parse(readFileSync(outFile, 'utf8'));
  const lagAtStop = Number(/lag (\d+)/.exec(stopProgress)?.[1] ?? Number.NaN);

  const measured = await measure(dir, produced);
  const load1 = loads();
  Object.assign(result, {
    produced: produced.produced,
    producedInS: Math.round((produced.endMs - produced.startMs) / 100) / 10,
    schemas: produced.schemas.map((s) => ({
      version: s.version,
      id: s.id,
      atS: round((s.at - produced.startMs) / 1000),
    })),
    ...measured,
    pipelineCpuMs: round(cpuMs),
    pipelineMainThreadCpuMs: round(mainMs),
    pipelinePeakRssMb: peakRssMb,
    pipelineCores:
      Math.round((cpuMs / (produced.endMs - produced.startMs + Number(args.settle) * 1000)) * 100) / 100,
    eventsPerCpuSec: round(produced.produced / (cpuMs / 1000)),
    producerCpuMs: round(produced.cpuMs),
    lagAtStop,
    pipelineProgressAtStop: stopProgress,
    pipelineFinalLine: finalLine,
    loadAverageAtEnd: load1,
  });
  const f = (s: Quantiles) => `p50 ${s.p50} / p99 ${s.p99} / max ${s.max} ms (n ${s.n.toLocaleString('en')})`;
  for (const t of ['bronze', 'silver'] as const) {
    const m = measured[t];
    console.log(
      `${t}: from ingest_time ${f(m.fromIngest)}; from event_time (on time) ${f(m.fromEventOnTime)}; ${m.commits} commits`,
    );
    console.log(
      `  p50/p99 from ingest_time per minute: ${m.perMinute.map(([a, b]) => `${a}/${b}`).join(', ')} ms`,
    );
  }
  const g = measured.gold;
  console.log(
    `gold: ${g.windows.length} windows closed after the warm-up; past the watermark ${g.windows.map((w) => `${w.pastWatermarkMs} ms`).join(', ')} (topic ${g.windows.map((w) => `${w.topicPastWatermarkMs ?? '-'} ms`).join(', ')}); from the window's end ${g.windows.map((w) => `${round(w.fromEndMs / 100) / 10} s`).join(', ')}`,
  );
  console.log(
    `pipeline CPU ${round(cpuMs)} ms (main thread ${round(mainMs)} ms; ${result.pipelineCores} of a core; peak RSS ${peakRssMb} MiB; ${(result.eventsPerCpuSec as number).toLocaleString('en')} events per CPU-second); producer ${round(produced.cpuMs)} ms; when the producer stopped, ${measured.lagAtProducerEnd.bronzeRowsNotQueryable} records were not yet in bronze, the last landed ${measured.lagAtProducerEnd.lastCommitAfterMs} ms later; the pipeline's lag at stop ${lagAtStop}`,
  );
  console.log(`check: ${JSON.stringify(measured.check)}`);
  console.log(`the pipeline's own figures: ${finalLine}`);
  console.log(`load average (1/5/15 min): ${load0.join(' ')} at start, ${load1.join(' ')} at end`);
  if (!measured.check.ok) process.exitCode = 1;
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (args.keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
const out = join(import.meta.dirname, 'results');
mkdirSync(out, { recursive: true });
const file = join(out, `saas-latency${args.label ? `-${args.label}` : ''}.json`);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${file}`);

interface Quantiles {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** Each commit of a table that added rows: when it became visible (ctime of its commit file) and its files. */
async function commits(dataDir: string, name: string) {
  const location = join(dataDir, 'tables', name);
  const table = await DeltaTable.open(new LocalStore(location));
  const versions = await readChanges(table, name, 0, {
    maxRows: Number.MAX_SAFE_INTEGER,
    maxVersions: 10_000_000,
  });
  return versions.map((v) => ({
    version: v.version,
    visibleMs: statSync(join(location, commitPath(v.version))).ctimeMs,
    files: v.files.map((x) => x.localPath),
  }));
}

async function measure(dataDir: string, produced: Produced) {
  const conn = await openConnection();
  try {
    const q = async (sql: string) => (await conn.runAndReadAll(sql)).getRowObjects();
    /** A table of (file, visible_ms) and a view `rows_<t>` of its rows with the visibility of their commit. */
    const load = async (t: string, table: string) => {
      const cs = await commits(dataDir, table);
      await conn.run(`CREATE OR REPLACE TABLE files_${t} (file VARCHAR, visible_ms DOUBLE)`);
      const withFiles = cs.filter((c) => c.files.length > 0);
      for (let i = 0; i < withFiles.length; i += 500) {
        const values = withFiles
          .slice(i, i + 500)
          .flatMap((c) => c.files.map((f) => `('${f.replaceAll("'", "''")}', ${c.visibleMs})`));
        await conn.run(`INSERT INTO files_${t} VALUES ${values.join(', ')}`);
      }
      if (withFiles.length === 0) return { commits: 0 };
      const list = withFiles.flatMap((c) => c.files.map((f) => `'${f.replaceAll("'", "''")}'`)).join(', ');
      await conn.run(
        `CREATE OR REPLACE TABLE rows_${t} AS SELECT r.*, f.visible_ms FROM read_parquet([${list}], filename = true, union_by_name = true) r JOIN files_${t} f ON r.filename = f.file`,
      );
      return { commits: withFiles.length };
    };
    const quant = async (expr: string, from: string, where: string): Promise<Quantiles> => {
      const [r] = await q(
        `SELECT count(*) AS n, quantile_disc(${expr}, 0.5) AS p50, quantile_disc(${expr}, 0.99) AS p99, max(${expr}) AS mx FROM ${from} WHERE ${where}`,
      );
      return {
        n: Number(r.n),
        p50: round(Number(r.p50)),
        p99: round(Number(r.p99)),
        max: round(Number(r.mx)),
      };
    };
    const warm = `epoch_ms(ingest_time) >= ${produced.startMs + Number(args.warmup) * 1000}`;
    const onTime = `epoch_ms(ingest_time) - epoch_ms(event_time) <= ${DELIVERY_DELAY_MAX_MS}`;
    const rowLatency = async (t: string, table: string) => {
      const { commits: n } = await load(t, table);
      return {
        table,
        commits: n,
        fromIngest: await quant('visible_ms - epoch_ms(ingest_time)', `rows_${t}`, warm),
        fromEventOnTime: await quant(
          'visible_ms - epoch_ms(event_time)',
          `rows_${t}`,
          `${warm} AND ${onTime}`,
        ),
        fromEventAll: await quant('visible_ms - epoch_ms(event_time)', `rows_${t}`, warm),
        /** p50 / p99 from ingest_time per minute of the run (by ingest_time): whether latency holds or grows. */
        perMinute: (
          await q(
            `SELECT (epoch_ms(ingest_time) - ${produced.startMs}) // 60000 AS m, quantile_disc(visible_ms - epoch_ms(ingest_time), 0.5) AS p50, quantile_disc(visible_ms - epoch_ms(ingest_time), 0.99) AS p99 FROM rows_${t} WHERE ${warm} GROUP BY 1 ORDER BY 1`,
          )
        ).map((r) => [round(Number(r.p50)), round(Number(r.p99))]),
      };
    };
    const bronze = await rowLatency('bronze', 'sales_bronze');
    const silver = await rowLatency('silver', 'sales_silver');

    // Gold: per window, when its end was passed by the watermark at the source.
    await load('gold', 'sales_revenue_5m');
    const windows = await q(
      `SELECT epoch_ms(window_end) AS end_ms, min(visible_ms) AS visible, max(visible_ms) AS visible_last, count(*) AS groups, sum(events) AS events FROM rows_gold GROUP BY 1 ORDER BY 1`,
    );
    const passed = new Map<number, number>();
    for (const w of windows) {
      const end = Number(w.end_ms);
      const [r] = await q(
        `SELECT min(epoch_ms(ingest_time)) AS at FROM rows_silver WHERE epoch_ms(event_time) >= ${end + WATERMARK_MS}`,
      );
      if (r.at !== null) passed.set(end, Number(r.at));
    }
    const topicTimes = await revenueTopicTimes(dataDir);
    const firstAfter = produced.startMs + Number(args.warmup) * 1000;
    const gold = {
      windowsInTable: windows.length,
      windows: windows
        .filter((w) => (passed.get(Number(w.end_ms)) ?? 0) >= firstAfter)
        .map((w) => {
          const end = Number(w.end_ms);
          const at = passed.get(end)!;
          const topic = topicTimes.get(end);
          return {
            windowEnd: new Date(end).toISOString(),
            groups: Number(w.groups),
            events: Number(w.events),
            oneCommit: Number(w.visible) === Number(w.visible_last),
            pastWatermarkMs: round(Number(w.visible_last) - at),
            fromEndMs: round(Number(w.visible_last) - end),
            topicPastWatermarkMs: topic === undefined ? undefined : round(topic - at),
          };
        }),
    };

    // Everything produced landed: bronze holds every record that is not in the DLQ.
    const [counts] = await q(
      `SELECT (SELECT count(*) FROM rows_bronze) AS bronze, (SELECT count(*) FROM rows_silver) AS silver, (SELECT count(DISTINCT event_id) FROM rows_silver) AS silver_ids`,
    );
    // The lag when the producer stopped: bronze rows not yet queryable then, and how long the rest took.
    const [tail] = await q(
      `SELECT count(*) FILTER (WHERE visible_ms > ${produced.endMs}) AS behind, max(visible_ms) - ${produced.endMs} AS drained FROM rows_bronze`,
    );
    const lagAtProducerEnd = {
      bronzeRowsNotQueryable: Number(tail.behind),
      lastCommitAfterMs: round(Number(tail.drained)),
    };
    const dlq = await topicCount(dataDir, 'sales.events.dlq.v1');
    const check = {
      produced: produced.produced,
      bronze: Number(counts.bronze),
      dlq,
      silver: Number(counts.silver),
      silverDistinctIds: Number(counts.silver_ids),
      ok:
        Number(counts.bronze) + dlq === produced.produced &&
        Number(counts.silver) === Number(counts.silver_ids),
    };
    return { bronze, silver, gold, lagAtProducerEnd, check };
  } finally {
    conn.closeSync();
  }
}

async function topicCount(dataDir: string, topic: string): Promise<number> {
  const log = await openLog({ dataDir });
  try {
    const info = await log.describeTopic(topic);
    let n = 0;
    for (let p = 0; p < info.partitions; p++) {
      const o = await log.offsets(topic, p);
      n += o.latest - o.earliest;
    }
    return n;
  } finally {
    await log.close();
  }
}

/** Per window end (ms): the log time of its last record on the revenue topic. */
async function revenueTopicTimes(dataDir: string): Promise<Map<number, number>> {
  const log = await openLog({ dataDir });
  const registry = await registryFor(log);
  const types = new Map<number, avro.Type>();
  const out = new Map<number, number>();
  try {
    const info = await log.describeTopic(REVENUE_TOPIC);
    for (let p = 0; p < info.partitions; p++) {
      let offset = (await log.offsets(REVENUE_TOPIC, p)).earliest;
      for (;;) {
        const f = await log.fetch(REVENUE_TOPIC, p, offset);
        if (f.records.length === 0) break;
        for (const r of f.records) {
          const v = Buffer.from(r.value!);
          const id = v.readUInt32BE(1);
          let type = types.get(id);
          if (!type) {
            type = avro.Type.forSchema(JSON.parse(await registry.client.schemaById(id)));
            types.set(id, type);
          }
          // timestamp-micros (the sink's Avro schema for a TIMESTAMP column).
          const end = Number((type.fromBuffer(v.subarray(5)) as { window_end: number }).window_end) / 1000;
          out.set(end, Math.max(out.get(end) ?? 0, r.timestamp));
        }
        offset = f.nextOffset;
      }
    }
    return out;
  } finally {
    await registry.close();
    await log.close();
  }
}
