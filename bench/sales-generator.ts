/**
 * How fast the sales generator (src/scenarios/saas-sales/generator.ts) makes Avro
 * records in Confluent's wire format, with its default imperfection shares and the system
 * clock: the generator alone (`next()`), and with the produce loop's batching into
 * record buffers (`encodeBatch`, batches of 5,000: what `tributary generate sales` hands
 * the log). Figures are the median of `--rounds` rounds of `--events` events each.
 *
 *   node bench/sales-generator.ts [--events N] [--rounds N]
 *
 * Prints events/s and events per CPU-second and writes bench/results/sales-generator.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeBatch } from '../src/connectors/generators/produce-loop.ts';
import { systemClock } from '../src/core/clock.ts';
import { SalesGenerator } from '../src/scenarios/saas-sales/generator.ts';

const { values: args } = parseArgs({
  options: { events: { type: 'string', default: '500000' }, rounds: { type: 'string', default: '5' } },
});
const n = Number(args.events);
const rounds = Number(args.rounds);

interface Run {
  ms: number;
  cpuMs: number;
  bytes: number;
}

function measure(body: (g: SalesGenerator) => number): Run[] {
  const runs: Run[] = [];
  // One generator across rounds (version 2, the one a long run ends with), warm accounts.
  const g = new SalesGenerator({ seed: 1, clock: systemClock, schema: { version: 2, id: 2 } });
  for (let r = 0; r < rounds + 1; r++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const bytes = body(g);
    const cpu = process.cpuUsage(cpu0);
    // The first round warms up the JIT.
    if (r > 0) runs.push({ ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, bytes });
  }
  return runs.sort((a, b) => a.ms - b.ms);
}

function summary(runs: Run[]) {
  const m = runs[Math.floor(runs.length / 2)];
  return {
    medianMs: Math.round(m.ms),
    eventsPerSecond: Math.round(n / (m.ms / 1000)),
    eventsPerCpuSecond: Math.round(n / (m.cpuMs / 1000)),
    bytesPerEvent: Math.round(m.bytes / n),
  };
}

const generate = summary(
  measure((g) => {
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += g.next().value.length;
    return bytes;
  }),
);
const encode = summary(
  measure((g) => {
    let bytes = 0;
    for (let done = 0; done < n; done += 5000) {
      const batch = encodeBatch('sales.events.v1', g, Math.min(5000, n - done));
      for (const r of batch) bytes += r.value!.length;
    }
    return bytes;
  }),
);

const result = { events: n, rounds, node: process.version, generate, generateAndEncode: encode };
const line = (name: string, s: typeof generate) =>
  `${name}: ${s.eventsPerSecond.toLocaleString('en')} events/s, ${s.eventsPerCpuSecond.toLocaleString('en')} events per CPU-second (~${s.bytesPerEvent} bytes/event)`;
console.log(`sales generator, ${n.toLocaleString('en')} events, median of ${rounds}:`);
console.log(line('  next()            ', generate));
console.log(line('  next() + batching ', encode));
const out = join(dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'sales-generator.json'), `${JSON.stringify(result, null, 2)}\n`);
