/**
 * Runs the benchmarks one after another and compares their figures with a baseline.
 *
 *   node bench/run.ts [name ...] [--baseline DIR] [--save-baseline DIR]
 *
 * Each benchmark is `bench/<name>.ts`; it prints its figures and writes
 * `bench/results/<name>.json`. With `--baseline DIR`, every number in a result is
 * printed beside the same number in `DIR/<name>.json` with the relative change, so a
 * branch can be compared with its base (run the base with `--save-baseline DIR` first).
 * `log-kafka` runs only when TRIBUTARY_TEST_KAFKA names a broker. `saas-latency` runs in
 * real time (5 minutes at 10,000 events/s).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const ALL = [
  'storage',
  'storage-list',
  'log-embedded',
  'log-kafka',
  'table-append',
  'table-snapshot',
  'table-merge',
  'query',
  'orders-explain',
  'strict-json',
  'orders-current-layout',
  'orders-pipeline',
  'window-operator',
  'windowed-pipeline',
  'models-clickstream',
  'jobs-overhead',
  'registry',
  'http-ingest',
  'saas-pipeline',
  'saas-latency',
  'sink-dedup-lookup',
];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { baseline: { type: 'string' }, 'save-baseline': { type: 'string' } },
});
const names = positionals.length > 0 ? positionals : ALL;
const results = join(import.meta.dirname, 'results');

function numbers(value: unknown, prefix = '', out = new Map<string, number>()): Map<string, number> {
  if (typeof value === 'number') out.set(prefix, value);
  else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) numbers(v, `${prefix}[${i}]`, out);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) numbers(v, prefix === '' ? k : `${prefix}.${k}`, out);
  }
  return out;
}

let failed = 0;
for (const name of names) {
  if (!ALL.includes(name)) {
    console.error(`unknown benchmark '${name}' (known: ${ALL.join(', ')})`);
    process.exit(2);
  }
  if (name === 'log-kafka' && !process.env.TRIBUTARY_TEST_KAFKA) {
    console.log(`\n== ${name}: skipped (set TRIBUTARY_TEST_KAFKA=host:port to a running broker)`);
    continue;
  }
  console.log(`\n== ${name}`);
  const args = name === 'log-kafka' ? ['--brokers', process.env.TRIBUTARY_TEST_KAFKA as string] : [];
  const run = spawnSync(process.execPath, [join(import.meta.dirname, `${name}.ts`), ...args], {
    stdio: 'inherit',
  });
  if (run.status !== 0) {
    console.error(`== ${name} failed (exit ${run.status ?? run.signal})`);
    failed++;
    continue;
  }
  const file = join(results, `${name}.json`);
  if (values['save-baseline']) {
    mkdirSync(values['save-baseline'], { recursive: true });
    copyFileSync(file, join(values['save-baseline'], `${name}.json`));
  }
  const base = values.baseline ? join(values.baseline, `${name}.json`) : undefined;
  if (base && existsSync(base)) {
    const now = numbers(JSON.parse(readFileSync(file, 'utf8')));
    const before = numbers(JSON.parse(readFileSync(base, 'utf8')));
    console.log(`-- ${name} against ${base}`);
    for (const [key, v] of now) {
      const b = before.get(key);
      if (b === undefined || b === 0) continue;
      const change = ((v - b) / Math.abs(b)) * 100;
      console.log(
        `   ${key.padEnd(48)} ${String(b).padStart(12)} → ${String(v).padStart(12)}  ${change >= 0 ? '+' : ''}${change.toFixed(1)}%`,
      );
    }
  }
}
process.exit(failed > 0 ? 1 : 0);
