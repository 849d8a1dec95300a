/**
 * What the data-quality results (`quality:`) and the `batch` relation cost a pipeline:
 * `--records` sales events (seed 004's fields; ~3 % breaking a rule, ~3 % re-sent
 * copies) drained by the same pipeline — contract, SQL transform, dedup, 5-minute
 * revenue window, a bronze and a gold table — in three variants, alternately, `--rounds`
 * times each (medians), on the embedded log:
 * - `plain`: the transform is `SELECT * FROM input`;
 * - `batch`: it adds the `batch` relation's `batch_id` and `batch_time` to each row;
 * - `batch+quality`: and the results topic, 5 sample ids per rule by `event_id`.
 *
 *   node bench/quality-results.ts [--records N] [--rounds N] [--batch N]
 *
 * Prints the figures and writes bench/results/quality-results.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ProduceRecord } from '../src/log/log.ts';
import { openLog } from '../src/log/open.ts';
import { compilePipeline } from '../src/pipeline/compile.ts';
import { fromYaml } from '../src/pipeline/load.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '20000' },
  },
});
const n = Number(args.records);
const rounds = Number(args.rounds);

type Variant = 'plain' | 'batch' | 'batch+quality';
const VARIANTS: Variant[] = ['plain', 'batch', 'batch+quality'];

function definition(v: Variant): string {
  const sql =
    v === 'plain'
      ? 'SELECT * FROM input'
      : 'SELECT i.*, b.batch_id, b.batch_time AS pipeline_time FROM input AS i, batch AS b';
  return `
name: bench_${v.replace('+', '_')}
source: { topic: sales, partitions: 3 }
contract:
  name: sales_event.v1
  fields:
    - { name: event_id, type: string }
    - { name: event_time, type: timestamp }
    - { name: account_id, type: string }
    - { name: plan_tier, type: string, enum: [free, pro, enterprise] }
    - { name: region, type: string, enum: [emea, amer, apac] }
    - { name: amount, type: number, min: 0, decimals: 2 }
event_time: { expr: event_time, watermark: 2 minutes }
transforms:
  - { name: enriched, sql: '${sql}' }
  - name: unique
    from: enriched
    dedup: { key: event_id, horizon: 10 minutes }
  - name: revenue_5m
    from: unique
    window: { type: tumble, size: 5 minutes }
    group_by: [plan_tier, region]
    aggregates: { revenue: sum(amount), events: count(*) }
sinks:
  - { name: bronze, type: delta_append, from: enriched, table: bronze }
  - { name: gold, type: delta_append, from: revenue_5m, table: gold }
${v === 'batch+quality' ? 'quality: { topic: dq.results.v1, samples: 5, sample_id: event_id }' : ''}
runtime: { max_records_per_batch: ${Number(args.batch)} }
`;
}

function events(): ProduceRecord[] {
  const t0 = Date.UTC(2026, 4, 4, 9);
  const out: ProduceRecord[] = [];
  const tiers = ['free', 'pro', 'enterprise'];
  const regions = ['emea', 'amer', 'apac'];
  for (let i = 0; i < n; i++) {
    const copy = i % 33 === 32;
    const k = copy ? i - 5 : i;
    const e: Record<string, unknown> = {
      event_id: `evt-${k}`,
      event_time: new Date(t0 + k * 20).toISOString(),
      account_id: `acct-${k % 997}`,
      plan_tier: tiers[k % 3],
      region: regions[(k >> 2) % 3],
      amount: (k % 50_000) / 100,
    };
    if (i % 37 === 0) e.plan_tier = 'gold';
    if (i % 97 === 0) e.amount = -1;
    out.push({ topic: 'sales', partition: k % 3, value: Buffer.from(JSON.stringify(e)) });
  }
  return out;
}

const input = events();

async function once(v: Variant): Promise<{ seconds: number; batches: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-quality-'));
  const log = await openLog({ dataDir: dir });
  try {
    await log.ensureTopic('sales', { partitions: 3 });
    for (let i = 0; i < input.length; i += 50_000) await log.produce(input.slice(i, i + 50_000));
    const c = await compilePipeline(fromYaml(definition(v), 'bench.yaml'), {
      dataDir: join(dir, 'data'),
      log,
    });
    const t0 = performance.now();
    try {
      await c.pipeline.run({ untilCaughtUp: true });
    } finally {
      await c.pipeline.close();
    }
    return { seconds: (performance.now() - t0) / 1000, batches: c.pipeline.metrics.batches };
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const times = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
let batches = 0;
for (let r = 0; r < rounds; r++) {
  for (const v of VARIANTS) {
    const res = await once(v);
    times.get(v)!.push(res.seconds);
    batches = res.batches;
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const figures = VARIANTS.map((v) => {
  const s = median(times.get(v)!);
  return {
    variant: v,
    seconds: s,
    eventsPerSecond: Math.round(n / s),
    msPerBatch: Math.round((s * 1000) / batches),
  };
});
for (const f of figures) {
  console.log(
    `${f.variant.padEnd(14)} ${f.seconds.toFixed(2)} s  ${f.eventsPerSecond} events/s  ${f.msPerBatch} ms/batch (${batches} batches)`,
  );
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'quality-results.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ records: n, rounds, batchRecords: Number(args.batch), loadavg: loadavg(), figures }, null, 2)}\n`,
);
console.log(`wrote ${out}`);
