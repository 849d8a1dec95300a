/**
 * Listing a large _delta_log on a LocalStore: what a snapshot load without a checkpoint,
 * log clean-up and `listTables` pay. Lists a directory of N commit files (default
 * 10,000) and reports the median of several runs, next to a bare `readdir` of the same
 * directory (the floor: names without sizes or times).
 *
 *   node bench/storage-list.ts [files]
 *
 * Prints the figures and writes bench/results/storage-list.json.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LocalStore } from '../src/storage/local.ts';

const FILES = Number(process.argv[2] ?? 10_000);
const WARMUP = 3;
const RUNS = 11;

async function median(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-list-'));
try {
  const log = join(dir, '_delta_log');
  await mkdir(log);
  const body = 'x'.repeat(600);
  for (let i = 0; i < FILES; i++) await writeFile(join(log, `${String(i).padStart(20, '0')}.json`), body);
  const store = new LocalStore(dir);
  const listed = (await store.list('_delta_log/')).length;
  if (listed !== FILES) throw new Error(`listed ${listed} of ${FILES} files`);

  const listMs = await median(() => store.list('_delta_log/'));
  const prefixMs = await median(() => store.list('_delta_log/0000000000000000999'));
  const readdirMs = await median(() => readdir(log, { withFileTypes: true }));
  const result = {
    files: FILES,
    listMs: Number(listMs.toFixed(1)),
    listNarrowPrefixMs: Number(prefixMs.toFixed(1)),
    readdirOnlyMs: Number(readdirMs.toFixed(1)),
  };
  console.log(`LocalStore.list of a _delta_log with ${FILES} files (median of ${RUNS})`);
  console.log(`  full listing          ${result.listMs} ms`);
  console.log(`  prefix of 10 files    ${result.listNarrowPrefixMs} ms`);
  console.log(`  bare readdir (floor)  ${result.readdirOnlyMs} ms`);
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  await writeFile(
    new URL('./results/storage-list.json', import.meta.url),
    `${JSON.stringify(result, null, 2)}\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
