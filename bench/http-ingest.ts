/**
 * HTTP ingest and the status endpoints, through real HTTP: a server in this process (the
 * embedded log in a temporary directory, HS256 tokens checked on every request), load
 * from a child process (this file with --client), so the CPU each side spends is its own.
 *
 *   node bench/http-ingest.ts [--seconds 8] [--concurrency 8] [--batches 100,1000,5000]
 *
 * Ingest: NDJSON POSTs of order events (~330 bytes each) in batches of each size, and
 * batches of 1,000 with an Idempotency-Key; the figures are events acknowledged per
 * second (durable in the log), per server CPU-second, and the load average around the
 * run (the 2-core machine is shared). Status: GET /api/v1/pipelines and
 * /api/v1/pipelines/{name} of a registered pipeline, requests per second. Writes
 * bench/results/http-ingest.json.
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    client: { type: 'boolean' },
    seconds: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '8' },
    batches: { type: 'string', default: '100,1000,5000' },
  },
});

interface ClientJob {
  url: string;
  token: string;
  seconds: number;
  concurrency: number;
  /** ingest: POST batches of `batch` events; status: GET `paths` in turn. */
  kind: 'ingest' | 'status';
  batch?: number;
  keyed?: boolean;
  paths?: string[];
}

interface ClientReport {
  requests: number;
  events: number;
  failures: number;
  seconds: number;
  cpuSeconds: number;
}

const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

function orderEvent(i: number): string {
  return JSON.stringify({
    event_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    event_type: 'ORDER_PAID',
    event_timestamp: 1767225600 + (i % 86400),
    order_id: `ord-20260101-${i}`,
    user_id: `user-${i % 5000}`,
    total_amount: Math.round(i % 100000) / 100,
    currency: 'EUR',
    payment_method: 'CREDIT_CARD',
    items: [{ sku: `sku-${i % 300}`, quantity: 1 + (i % 3), unit_price: 12.5, category: 'Books' }],
    current_status: 'PAID',
  });
}

async function client(job: ClientJob): Promise<ClientReport> {
  const cpu0 = process.cpuUsage();
  const bodies: string[] = [];
  if (job.kind === 'ingest') {
    for (let b = 0; b < 8; b++) {
      bodies.push(Array.from({ length: job.batch! }, (_, i) => orderEvent(b * job.batch! + i)).join('\n'));
    }
  }
  const deadline = performance.now() + job.seconds * 1000;
  let requests = 0;
  let events = 0;
  let failures = 0;
  let seq = 0;
  const started = performance.now();
  const worker = async (w: number) => {
    while (performance.now() < deadline) {
      const n = seq++;
      let res: Response;
      if (job.kind === 'ingest') {
        const headers: Record<string, string> = {
          authorization: `Bearer ${job.token}`,
          'content-type': 'application/x-ndjson',
        };
        if (job.keyed) headers['idempotency-key'] = `bench-${w}-${n}`;
        res = await fetch(`${job.url}/api/v1/topics/bench/records`, {
          method: 'POST',
          headers,
          body: bodies[n % bodies.length],
        });
      } else {
        const path = job.paths![n % job.paths!.length];
        res = await fetch(`${job.url}${path}`, { headers: { authorization: `Bearer ${job.token}` } });
      }
      await res.arrayBuffer();
      requests++;
      if (res.status === 200) events += job.kind === 'ingest' ? job.batch! : 0;
      else failures++;
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, (_, w) => worker(w)));
  return {
    requests,
    events,
    failures,
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: cpuSeconds(process.cpuUsage(cpu0)),
  };
}

if (args.client) {
  process.once('message', async (job: ClientJob) => {
    const report = await client(job);
    process.send!(report, () => process.exit(0));
  });
} else {
  await main();
}

async function runClient(
  job: ClientJob,
): Promise<ClientReport & { serverCpuSeconds: number; load: number[] }> {
  const child = fork(import.meta.filename, ['--client'], { stdio: 'inherit' });
  const cpu0 = process.cpuUsage();
  const load0 = loadavg()[0];
  const report = await new Promise<ClientReport>((resolve, reject) => {
    child.once('message', (m) => resolve(m as ClientReport));
    child.once('exit', (code) => reject(new Error(`client exited ${code}`)));
    child.send(job);
  });
  const serverCpuSeconds = cpuSeconds(process.cpuUsage(cpu0));
  return { ...report, serverCpuSeconds, load: [load0, loadavg()[0]] };
}

async function main(): Promise<void> {
  const { openLog } = await import('../src/log/open.ts');
  const { compilePipeline } = await import('../src/pipeline/compile.ts');
  const { fromYaml } = await import('../src/pipeline/load.ts');
  const { createServer } = await import('../src/server/app.ts');
  const { createToken } = await import('../src/server/auth/token.ts');
  const { createVerifier } = await import('../src/server/auth/verify.ts');
  const { RunningPipelines, sinkTables } = await import('../src/server/pipelines/registry.ts');

  const seconds = Number(args.seconds);
  const concurrency = Number(args.concurrency);
  const batches = args.batches.split(',').map(Number);
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-bench-http-ingest-'));
  const log = await openLog({ dataDir });
  await log.createTopic('bench', { partitions: 4 });
  const key = new TextEncoder().encode('a benchmark secret of at least thirty-two bytes');
  const pipelines = new RunningPipelines();
  const server = createServer({
    dataDir,
    port: 0,
    auth: { mode: 'jwt', verifier: createVerifier({ secret: key, secretSource: 'the benchmark' }) },
    pipelines,
    ingest: { log },
    log: () => {},
  });
  const url = await server.start();
  const token = (await createToken({ key, role: 'writer', ttlSeconds: 3600 })).token;
  const results: Record<string, unknown> = { seconds, concurrency, cores: 2 };
  const ingest: Record<string, unknown> = {};
  try {
    const runs: Array<{ name: string; batch: number; keyed: boolean }> = [
      ...batches.map((batch) => ({ name: `batch_${batch}`, batch, keyed: false })),
      { name: 'batch_1000_idempotency_key', batch: 1000, keyed: true },
    ];
    for (const r of runs) {
      const rep = await runClient({
        url,
        token,
        seconds,
        concurrency,
        kind: 'ingest',
        batch: r.batch,
        keyed: r.keyed,
      });
      const perSecond = Math.round(rep.events / rep.seconds);
      const perServerCpu = Math.round(rep.events / rep.serverCpuSeconds);
      ingest[r.name] = {
        events_per_s: perSecond,
        requests_per_s: Math.round(rep.requests / rep.seconds),
        events_per_server_cpu_s: perServerCpu,
        server_cpu_s: Number(rep.serverCpuSeconds.toFixed(2)),
        client_cpu_s: Number(rep.cpuSeconds.toFixed(2)),
        failures: rep.failures,
        load_average: rep.load.map((x) => Number(x.toFixed(2))),
      };
      console.log(
        `ingest ${r.name}: ${perSecond} events/s (${Math.round(rep.requests / rep.seconds)} requests/s), ` +
          `${perServerCpu} events per server CPU-second (server ${rep.serverCpuSeconds.toFixed(1)} CPU-s, client ${rep.cpuSeconds.toFixed(1)} CPU-s over ${rep.seconds.toFixed(1)} s), ` +
          `${rep.failures} failed, load average ${rep.load.map((x) => x.toFixed(2)).join(' → ')}`,
      );
    }
    results.ingest = ingest;
    const held = await log.offsets('bench', 0);
    results.topic_records_partition_0 = held.latest;

    // Status endpoints of a registered pipeline over the topic (open, caught up, idle).
    const compiled = await compilePipeline(
      fromYaml(
        `name: bench
source: { topic: bench, partitions: 4 }
contract:
  name: bench.v1
  fields:
    - { name: order_id, type: string }
sinks:
  - { name: lake, type: delta_append, from: input, table: bench }
`,
        'bench.yaml',
      ),
      { dataDir, log },
    );
    const entry = pipelines.register({ pipeline: compiled.pipeline, sinkTables: sinkTables(compiled) });
    entry.running();
    const status: Record<string, unknown> = {};
    for (const [name, paths] of [
      ['list', ['/api/v1/pipelines']],
      ['detail', ['/api/v1/pipelines/bench']],
      ['health', ['/health']],
    ] as const) {
      const rep = await runClient({
        url,
        token,
        seconds: Math.min(seconds, 5),
        concurrency: 16,
        kind: 'status',
        paths: [...paths],
      });
      const perSecond = Math.round(rep.requests / rep.seconds);
      status[name] = {
        requests_per_s: perSecond,
        requests_per_server_cpu_s: Math.round(rep.requests / rep.serverCpuSeconds),
        failures: rep.failures,
        load_average: rep.load.map((x) => Number(x.toFixed(2))),
      };
      console.log(
        `GET ${paths[0]}: ${perSecond} requests/s, ${Math.round(rep.requests / rep.serverCpuSeconds)} per server CPU-second, ${rep.failures} failed`,
      );
    }
    results.status = status;
    await compiled.pipeline.close();
  } finally {
    await server.stop();
    pipelines.close();
    await log.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'http-ingest.json'), `${JSON.stringify(results, null, 2)}\n`);
}
