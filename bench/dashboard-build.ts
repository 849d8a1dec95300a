/**
 * The lake bench/dashboard-latency.ts serves: the orders pipeline's two tables as the
 * pipeline writes them over hours, built once and kept (default
 * `.cache/bench/dashboard-<rows>`; `--dir` elsewhere).
 *
 * Order events from the project's generator (src/connectors/generators/orders.ts, seed 1)
 * with a simulated clock: `simRate` events per second of event time, each record's log
 * timestamp equal to its event time (so `ingest_time` spreads like `event_timestamp`).
 * The orders pipeline (src/scenarios/orders/pipeline.ts, pipelines/orders.yaml) drains
 * them in batches of `batch` records: one commit per batch to orders_events (one file per
 * event hour the batch spans, a checkpoint every 10 commits) and MERGEs into
 * orders_current (with its own compaction of files a minute old). The hourly maintenance
 * (OPTIMIZE, VACUUM) is off: the tables keep every small file a streaming pipeline
 * writes, the dashboard's worst case.
 *
 * After the drain the `orders` topic's data is deleted (gigabytes the dashboard never
 * reads); the DLQ topic stays.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OrdersGenerator } from '../src/connectors/generators/orders.ts';
import { encodeBatch } from '../src/connectors/generators/produce-loop.ts';
import { ManualClock } from '../src/core/clock.ts';
import type { Log } from '../src/log/log.ts';
import { openLog } from '../src/log/open.ts';
import { ORDERS_PARTITIONS, ordersPipeline } from '../src/scenarios/orders/pipeline.ts';

export interface BuildOptions {
  dir: string;
  /** Order events generated (about 0.7 % are duplicates or malformed, so rows are fewer). */
  events: number;
  /** Events per second of simulated event time. */
  simRate: number;
  /** Records per pipeline batch (one orders_events commit each). */
  batch: number;
  /** Event time of the first event (ms). */
  startMs: number;
}

export interface BuildInfo extends BuildOptions {
  builtAt: string;
  buildSeconds: number;
  rowsEvents: number;
  rowsCurrent: number;
  /** Event time of the last event generated (ms). */
  endMs: number;
}

/** Produces `count` generated events whose timestamps follow `clock`, advancing it 1/rate s each. */
export async function produceSimulated(
  log: Log,
  topic: string,
  gen: OrdersGenerator,
  clock: ManualClock,
  rate: number,
  count: number,
): Promise<void> {
  const step = 1000 / rate;
  let produced = 0;
  while (produced < count) {
    const n = Math.min(5000, count - produced);
    const times: number[] = new Array(n);
    let i = 0;
    const source = {
      next: () => {
        clock.advance(step);
        times[i++] = Math.floor(clock.now());
        return gen.next();
      },
    };
    const records = encodeBatch(topic, source, n);
    for (let j = 0; j < n; j++) records[j].timestamp = times[j];
    await log.produce(records);
    produced += n;
  }
}

function infoPath(dir: string): string {
  return join(dir, 'build.json');
}

/** The build in `dir`, if a complete one is there. */
export function readBuild(dir: string): BuildInfo | undefined {
  if (!existsSync(infoPath(dir))) return undefined;
  return JSON.parse(readFileSync(infoPath(dir), 'utf8')) as BuildInfo;
}

/** Builds the tables in `opts.dir` unless a finished build with the same options is there. */
export async function buildLake(opts: BuildOptions, say: (s: string) => void): Promise<BuildInfo> {
  const have = readBuild(opts.dir);
  if (
    have &&
    have.events === opts.events &&
    have.simRate === opts.simRate &&
    have.batch === opts.batch &&
    have.startMs === opts.startMs
  ) {
    return have;
  }
  rmSync(opts.dir, { recursive: true, force: true });
  const t0 = performance.now();
  const log = await openLog({ dataDir: opts.dir });
  await log.ensureTopic('orders', { partitions: ORDERS_PARTITIONS });
  const clock = new ManualClock(opts.startMs);
  const gen = new OrdersGenerator({ seed: 1, clock });
  const { pipeline } = await ordersPipeline({
    dataDir: opts.dir,
    log,
    maxRecordsPerBatch: opts.batch,
    maintenanceIntervalMs: 30 * 86_400_000,
  });
  // Produced and drained a slice at a time: the pipeline's batches are what a live
  // pipeline at this rate would commit, whatever the slice.
  const slice = 500_000;
  for (let done = 0; done < opts.events; done += slice) {
    const n = Math.min(slice, opts.events - done);
    await produceSimulated(log, 'orders', gen, clock, opts.simRate, n);
    await pipeline.run({ untilCaughtUp: true });
    const m = pipeline.metrics;
    say(
      `build: ${done + n} of ${opts.events} events, ${m.sinks.get('orders_events')?.rows} rows, ${Math.round((performance.now() - t0) / 1000)} s`,
    );
  }
  const m = pipeline.metrics;
  const info: BuildInfo = {
    ...opts,
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round((performance.now() - t0) / 1000),
    rowsEvents: m.sinks.get('orders_events')?.rows ?? 0,
    rowsCurrent: m.sinks.get('orders_current')?.rows ?? 0,
    endMs: clock.now(),
  };
  await pipeline.close();
  await log.close();
  dropTopicData(opts.dir, 'orders');
  writeFileSync(infoPath(opts.dir), `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

/** Deletes the embedded log's directories of `topic`'s partitions (not its DLQ's). */
function dropTopicData(dir: string, topic: string): void {
  const logDir = join(dir, 'log');
  if (!existsSync(logDir)) return;
  for (const name of readdirSync(logDir)) {
    if (name === topic || new RegExp(`^${topic}-\\d+$`).test(name)) {
      rmSync(join(logDir, name), { recursive: true, force: true });
    }
  }
}
