/**
 * Scale-out: the orders pipeline over Kafka on 1, 2 and 3 worker processes of one
 * consumer group (`tributary run orders --kafka B --workers N --until-caught-up`), each
 * run draining the same pre-produced topic into fresh local tables.
 *
 * Measures, per run: events/s (events / wall time of the whole command: start-up, group
 * join, drain, every worker's exit) and events per CPU-second, the CPU being the user +
 * system time of every worker process and of the `--workers` parent (read from this
 * process's reaped-children times in /proc/self/stat, so nothing is missed). Runs
 * alternate between the configurations (`--rounds` times each) so a change in the shared
 * machine's load hits all of them; `uptime`'s load is recorded before each run.
 *
 *   node bench/workers.ts --kafka BROKERS [--events 600000] [--partitions 6] [--rounds 2]
 *     [--workers 1,2,3] [--max-records N] [--topic T] [--heartbeat-interval-ms MS]
 *
 * `--max-records` caps a batch (the pipeline's default is 200,000 records: on a short
 * topic a worker's first batch, read before the others joined, is a large share of the
 * run and is dropped when its partitions move). `--topic` reuses a topic an earlier run
 * produced (`--events` must then be its size). `--heartbeat-interval-ms` sets the workers'
 * (with a 6 s session): the group's default of 5 s makes each rebalance take seconds, during
 * which the first worker to join reads for everyone and then hands over.
 *
 * Prints the figures and writes bench/results/workers.json.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openLog } from '../src/log/open.ts';
import { generateOrders } from '../src/scenarios/orders/generate.ts';
import { reapedChildrenCpuMs } from './proc.ts';

const { values: args } = parseArgs({
  options: {
    kafka: { type: 'string' },
    events: { type: 'string', default: '600000' },
    partitions: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '2' },
    workers: { type: 'string', default: '1,2,3' },
    'max-records': { type: 'string' },
    topic: { type: 'string' },
    'heartbeat-interval-ms': { type: 'string' },
  },
});
if (!args.kafka) throw new Error('--kafka BROKERS is required (e.g. $TRIBUTARY_TEST_KAFKA)');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'bin', 'tributary.js');
const events = Number(args.events);
const partitions = Number(args.partitions);
const configs = args.workers.split(',').map(Number);

/** CPU seconds of this process's reaped children (the commands it ran, their workers included). */
const childCpuSec = () => reapedChildrenCpuMs() / 1000;

async function produce(topic: string, count = events): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-workers-gen-'));
  try {
    const log = await openLog({ dataDir: dir, kafka: args.kafka });
    try {
      await log.createTopic(topic, { partitions });
      await log.createTopic(`${topic}.dlq`, { partitions });
      const t0 = performance.now();
      if (count > 0) await generateOrders({ log, count, seed: 1, topic });
      return performance.now() - t0;
    } finally {
      await log.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What the tables' logs say the run did: commits, MERGE rewrites (where extra workers' CPU can go). */
function tableWork(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of ['orders_events', 'orders_current']) {
    const logDir = join(dir, 'tables', name, '_delta_log');
    if (!existsSync(logDir)) continue;
    for (const f of readdirSync(logDir).filter((x) => /^\d{20}\.json$/.test(x))) {
      const info = JSON.parse(readFileSync(join(logDir, f), 'utf8').split('\n')[0]).commitInfo ?? {};
      const op = String(info.operation ?? '?').replace(/\W+/g, '_');
      out[`${name}.${op}`] = (out[`${name}.${op}`] ?? 0) + 1;
      const m = info.operationMetrics ?? {};
      for (const k of ['numTargetRowsCopied', 'numTargetFilesRemoved', 'numSourceRows']) {
        if (m[k] !== undefined) out[`${name}.${k}`] = (out[`${name}.${k}`] ?? 0) + Number(m[k]);
      }
    }
  }
  return out;
}

interface Run {
  workers: number;
  /** CPU-seconds of the same command on an empty topic (start-up, group join, exit), measured just before. */
  startupCpuSec: number;
  load1: number;
  wallMs: number;
  cpuSec: number;
  eventsPerSec: number;
  eventsPerCpuSec: number;
  tables: Record<string, number>;
}

async function drain(topic: string, workers: number, round: number): Promise<Omit<Run, 'startupCpuSec'>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-workers-'));
  const group = `bench.workers.${process.pid}.${workers}.${round}`;
  const load1 = loadavg()[0];
  const c0 = childCpuSec();
  const t0 = performance.now();
  try {
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          BIN,
          'run',
          'orders',
          '--kafka',
          args.kafka!,
          '--topic',
          topic,
          '--data-dir',
          dir,
          '--until-caught-up',
          ...(workers > 1 ? ['--workers', String(workers)] : []),
          '--group',
          group,
          ...(args['max-records'] ? ['--max-records', args['max-records']] : []),
          ...(args['heartbeat-interval-ms']
            ? ['--heartbeat-interval-ms', args['heartbeat-interval-ms'], '--session-timeout-ms', '6000']
            : []),
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      child.on('close', resolve);
    });
    if (code !== 0) throw new Error(`run with ${workers} workers exited with ${code}`);
    const wallMs = performance.now() - t0;
    const cpuSec = childCpuSec() - c0;
    return {
      workers,
      load1: Math.round(load1 * 100) / 100,
      wallMs: Math.round(wallMs),
      cpuSec: Math.round(cpuSec * 100) / 100,
      eventsPerSec: Math.round(events / (wallMs / 1000)),
      eventsPerCpuSec: Math.round(events / cpuSec),
      tables: tableWork(dir),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const topic = args.topic ?? `orders-bench-workers-${process.pid}-${Date.now()}`;
if (!args.topic) {
  const genMs = await produce(topic);
  console.log(
    `produced ${events} events into ${topic} (${partitions} partitions) in ${(genMs / 1000).toFixed(1)} s`,
  );
}
const runs: Run[] = [];
// The fixed cost of each configuration: the same command on an empty topic.
const empty = `${topic}-empty-${Date.now()}`;
await produce(empty, 0);
for (let round = 0; round < Number(args.rounds); round++) {
  for (const n of configs) {
    const idle = await drain(empty, n, round + 100);
    const r = { ...(await drain(topic, n, round)), startupCpuSec: idle.cpuSec };
    runs.push(r);
    console.log(
      `${n} worker(s): ${r.eventsPerSec} events/s, ${r.eventsPerCpuSec} events per CPU-second (${(r.wallMs / 1000).toFixed(1)} s wall, ${r.cpuSec} CPU-s of which ~${idle.cpuSec} start-up and exit, load ${r.load1})`,
    );
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = configs.map((n) => {
  const mine = runs.filter((r) => r.workers === n);
  return {
    workers: n,
    eventsPerSec: median(mine.map((r) => r.eventsPerSec)),
    eventsPerCpuSec: median(mine.map((r) => r.eventsPerCpuSec)),
    cpuSec: median(mine.map((r) => r.cpuSec)),
    startupCpuSec: median(mine.map((r) => r.startupCpuSec)),
    eventsPerCpuSecBeyondStartup: median(mine.map((r) => Math.round(events / (r.cpuSec - r.startupCpuSec)))),
  };
});
const base = summary[0];
for (const s of summary) {
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
  const rise = base.eventsPerCpuSec / s.eventsPerCpuSec - 1;
  const riseBeyond = base.eventsPerCpuSecBeyondStartup / s.eventsPerCpuSecBeyondStartup - 1;
  console.log(
    `median ${s.workers} worker(s): ${s.eventsPerSec} events/s, ${s.eventsPerCpuSec} events/CPU-s (CPU per event ${pct(rise)} vs ${base.workers}); start-up ${s.startupCpuSec} CPU-s; beyond start-up ${s.eventsPerCpuSecBeyondStartup} events/CPU-s (${pct(riseBeyond)})`,
  );
}
const out = join(root, 'bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, 'workers.json'),
  `${JSON.stringify({ events, partitions, topic, maxRecords: args['max-records'] ?? 'default', kafka: args.kafka, runs, summary, at: new Date().toISOString() }, null, 2)}\n`,
);
