/**
 * What the strict check of record values costs on the hot path (src/quality/strict-json.ts):
 * `--records` order events from the generator, checked `--rounds` times; figures per
 * round are the median.
 *
 *   node bench/strict-json.ts [--records N] [--rounds N]
 *
 * Prints the figures and writes bench/results/strict-json.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { OrdersGenerator } from '../src/connectors/generators/orders.ts';
import { ManualClock } from '../src/core/clock.ts';
import { compileContract } from '../src/quality/contract.ts';
import { ordersContract } from '../src/scenarios/orders/contract.ts';

const { values: args } = parseArgs({
  options: { records: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '7' } },
});
const n = Number(args.records);
const rounds = Number(args.rounds);
const gen = new OrdersGenerator({ seed: 1, clock: new ManualClock(Date.UTC(2026, 0, 27)), malformedRate: 0 });
const parts = Array.from({ length: n }, () => Buffer.from(gen.next().value));
const ends = new Uint32Array(n);
let total = 0;
parts.forEach((p, i) => {
  total += p.length;
  ends[i] = total;
});
const bytes = Buffer.concat(parts);
const strict = compileContract(ordersContract).strict;
const runs: Array<{ ms: number; cpuMs: number }> = [];
for (let r = 0; r < rounds; r++) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let start = 0;
  let ok = 0;
  for (let i = 0; i < n; i++) {
    if (strict.check(bytes, start, ends[i])) ok++;
    start = ends[i];
  }
  const cpu = process.cpuUsage(cpu0);
  if (ok !== n) throw new Error(`${n - ok} generated events refused: ${strict.error().message}`);
  runs.push({ ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 });
}
runs.sort((a, b) => a.ms - b.ms);
const median = runs[Math.floor(runs.length / 2)];
const result = {
  records: n,
  bytesPerRecord: Math.round(total / n),
  rounds,
  medianMs: Math.round(median.ms),
  recordsPerSecond: Math.round(n / (median.ms / 1000)),
  megabytesPerSecond: Math.round(total / 1e6 / (median.ms / 1000)),
  cpuMsPer100kRecords: Math.round((median.cpuMs / n) * 100_000),
};
console.log(
  `strict check: ${n.toLocaleString('en')} order events of ~${result.bytesPerRecord} bytes in ${result.medianMs} ms (median of ${rounds}): ${result.recordsPerSecond.toLocaleString('en')} records/s, ${result.megabytesPerSecond} MB/s, ${result.cpuMsPer100kRecords} CPU-ms per 100,000 records`,
);
const out = join(dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'strict-json.json'), `${JSON.stringify(result, null, 2)}\n`);
