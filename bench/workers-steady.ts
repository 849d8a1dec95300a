/**
 * Scale-out in steady state: the orders pipeline on 1, 2 and 3 worker processes of one
 * consumer group while a generator produces at a fixed rate, the CPU per event measured
 * over a window after the group has settled (start-up, joining and the first rebalances
 * left out; bench/workers.ts measures whole drains, start-up included).
 *
 * For each configuration: a fresh topic and data directory; `tributary generate orders
 * --rate R` (its CPU not counted) and `tributary run orders --workers N`; after `--warmup`
 * seconds, the user + system CPU of every worker process (from /proc/<pid>/stat) and the
 * group's committed offsets (each worker records after its batches the next offset all its
 * sinks still need) are read, and again `--window` seconds later: events per CPU-second is
 * the offsets' advance over the workers' CPU. Configurations alternate for `--rounds`.
 *
 *   node bench/workers-steady.ts --kafka BROKERS [--rate 12000] [--partitions 6]
 *     [--warmup 20] [--window 30] [--rounds 2] [--workers 1,2,3] [--backlog N] [--max-records N]
 *
 * With `--backlog N`, no generator: N events are produced once into one topic before the
 * runs, and each run (a group of its own, fresh tables) drains it from the start; the
 * window then measures the workers at full speed, after start-up and the group's first
 * rebalances (choose N so that the drain outlasts warm-up and window; `--max-records`
 * small enough that the offsets, committed after each batch, move in fine steps).
 *
 * Prints the figures and writes bench/results/workers-steady.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openLog } from '../src/log/open.ts';
import { generateOrders } from '../src/scenarios/orders/generate.ts';
import { processCpuMs, processTree } from './proc.ts';

const { values: args } = parseArgs({
  options: {
    kafka: { type: 'string' },
    rate: { type: 'string', default: '12000' },
    partitions: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '20' },
    window: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '2' },
    workers: { type: 'string', default: '1,2,3' },
    backlog: { type: 'string' },
    'max-records': { type: 'string' },
  },
});
if (!args.kafka) throw new Error('--kafka BROKERS is required (e.g. $TRIBUTARY_TEST_KAFKA)');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'bin', 'tributary.js');
const partitions = Number(args.partitions);
const configs = args.workers.split(',').map(Number);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(argv: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
}

const ended = (c: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) resolve();
    else c.on('close', () => resolve());
  });

interface Run {
  workers: number;
  load1: number;
  events: number;
  cpuSec: number;
  eventsPerCpuSec: number;
  /** The workers' lag at the window's end (events produced, not yet committed). */
  lagAtEnd: number;
}

/** The pre-produced topic of `--backlog`. */
let backlogTopic: string | undefined;

async function measure(n: number, round: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-steady-'));
  const topic = backlogTopic ?? `orders-steady-${process.pid}-${n}-${round}`;
  const group = `bench.steady.${process.pid}.${n}.${round}`;
  const log = await openLog({ dataDir: join(dir, 'probe'), kafka: args.kafka });
  const children: ChildProcess[] = [];
  try {
    // A DLQ of its own per run: a drain of the shared backlog must not find the previous
    // run's dead letters (it would take them as written and skip its own).
    const dlq = `${topic}.dlq.${n}.${round}`;
    const where = ['--kafka', args.kafka!, '--topic', topic, '--set', `dlq.topic=${dlq}`];
    await log.createTopic(dlq, { partitions });
    if (!backlogTopic) {
      await log.createTopic(topic, { partitions });
      children.push(
        start([
          'generate',
          'orders',
          '--rate',
          args.rate,
          '--seed',
          '1',
          '--data-dir',
          join(dir, 'gen'),
          '--kafka',
          args.kafka!,
          '--topic',
          topic,
        ]),
      );
    }
    const run = start([
      'run',
      'orders',
      ...where,
      '--data-dir',
      join(dir, 'data'),
      ...(n > 1 ? ['--workers', String(n)] : []),
      '--group',
      group,
      '--heartbeat-interval-ms',
      '500',
      '--session-timeout-ms',
      '6000',
      ...(args['max-records'] ? ['--max-records', args['max-records']] : []),
    ]);
    let stderr = '';
    run.stderr!.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    children.push(run);
    await sleep(Number(args.warmup) * 1000);
    const committed = async () =>
      [...(await log.committedOffsets(group, topic)).values()].reduce((a, b) => a + b, 0);
    const cpu = () => processTree(run.pid!).reduce((a, pid) => a + (processCpuMs(pid) ?? 0) / 1000, 0);
    const pids = processTree(run.pid!);
    if (pids.length < n + (n > 1 ? 1 : 0))
      throw new Error(`expected ${n} workers, found processes ${pids}:\n${stderr}`);
    const load1 = loadavg()[0];
    const o0 = await committed();
    const c0 = cpu();
    await sleep(Number(args.window) * 1000);
    const o1 = await committed();
    const c1 = cpu();
    let latest = 0;
    for (let p = 0; p < partitions; p++) latest += (await log.offsets(topic, p)).latest;
    const events = o1 - o0;
    const cpuSec = Math.round((c1 - c0) * 100) / 100;
    return {
      workers: n,
      load1: Math.round(load1 * 100) / 100,
      events,
      cpuSec,
      eventsPerCpuSec: Math.round(events / cpuSec),
      lagAtEnd: latest - o1,
    };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map(ended));
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (args.backlog !== undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-steady-gen-'));
  backlogTopic = `orders-steady-backlog-${process.pid}`;
  const log = await openLog({ dataDir: dir, kafka: args.kafka });
  try {
    await log.createTopic(backlogTopic, { partitions });
    const t0 = performance.now();
    await generateOrders({ log, count: Number(args.backlog), seed: 1, topic: backlogTopic });
    console.log(
      `produced ${args.backlog} events into ${backlogTopic} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
const runs: Run[] = [];
for (let round = 0; round < Number(args.rounds); round++) {
  for (const n of configs) {
    const r = await measure(n, round);
    runs.push(r);
    console.log(
      `${n} worker(s): ${r.events} events in ${args.window} s on ${r.cpuSec} CPU-s: ${r.eventsPerCpuSec} events per CPU-second (lag at the end ${r.lagAtEnd}, load ${r.load1})`,
    );
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = configs.map((n) => ({
  workers: n,
  eventsPerCpuSec: median(runs.filter((r) => r.workers === n).map((r) => r.eventsPerCpuSec)),
}));
const base = summary[0].eventsPerCpuSec;
for (const s of summary) {
  const rise = base / s.eventsPerCpuSec - 1;
  console.log(
    `${s.workers} worker(s): median ${s.eventsPerCpuSec} events per CPU-second; CPU per event ${rise >= 0 ? '+' : ''}${(rise * 100).toFixed(1)} % vs ${configs[0]}`,
  );
}
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(
  join(root, 'bench', 'results', 'workers-steady.json'),
  `${JSON.stringify({ rate: backlogTopic ? null : Number(args.rate), backlog: backlogTopic ? Number(args.backlog) : null, partitions, warmupSec: Number(args.warmup), windowSec: Number(args.window), runs, summary, at: new Date().toISOString() }, null, 2)}\n`,
);
