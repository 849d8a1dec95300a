/**
 * How fast the clickstream generator (src/connectors/generators/clickstream.ts) makes
 * events, with its default imperfection shares and the system clock: the generator alone
 * (`next()`), and the generator with the produce loop's encoding into record buffers
 * (`encodeBatch`, batches of 5,000: what `tributary generate clickstream` hands the log).
 * Figures are the median of `--rounds` rounds of `--events` events each.
 *
 *   node bench/clickstream-generator.ts [--events N] [--rounds N]
 *
 * Prints events/s and events per CPU-second and writes bench/results/clickstream-generator.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ClickstreamGenerator } from '../src/connectors/generators/clickstream.ts';
import { encodeBatch } from '../src/connectors/generators/produce-loop.ts';
import { systemClock } from '../src/core/clock.ts';

const { values: args } = parseArgs({
  options: { events: { type: 'string', default: '2000000' }, rounds: { type: 'string', default: '5' } },
});
const n = Number(args.events);
const rounds = Number(args.rounds);

interface Run {
  ms: number;
  cpuMs: number;
  bytes: number;
}

function measure(body: (g: ClickstreamGenerator) => number): Run[] {
  const runs: Run[] = [];
  // One generator across rounds, so the user base and the duplicate buffer are warm.
  const g = new ClickstreamGenerator({ seed: 1, clock: systemClock });
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
    megabytesPerSecond: Math.round(m.bytes / 1e6 / (m.ms / 1000)),
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
      const batch = encodeBatch('user-events', g, Math.min(5000, n - done));
      for (const r of batch) bytes += r.value!.length;
    }
    return bytes;
  }),
);

const result = { events: n, rounds, node: process.version, generate, generateAndEncode: encode };
const line = (name: string, s: typeof generate) =>
  `${name}: ${s.eventsPerSecond.toLocaleString('en')} events/s, ${s.eventsPerCpuSecond.toLocaleString('en')} events per CPU-second, ${s.megabytesPerSecond} MB/s (~${s.bytesPerEvent} bytes/event)`;
console.log(`clickstream generator, ${n.toLocaleString('en')} events, median of ${rounds}:`);
console.log(line('  next()            ', generate));
console.log(line('  next() + encoding ', encode));
const out = join(dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'clickstream-generator.json'), `${JSON.stringify(result, null, 2)}\n`);
