/**
 * The schema registry's speed: lookups by id (what a consumer's decoder does on a cache
 * miss) in process and over HTTP, and registrations (each a durable append to the
 * registry's topic and a read back).
 *
 *   node bench/registry.ts [--schemas N] [--lookups N] [--concurrency N]
 *
 * Prints the figures and writes bench/results/registry.json. Runs on the embedded log
 * in a temporary directory.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openLog } from '../src/log/open.ts';
import { createRegistryServer } from '../src/server/registry/server.ts';

const { values: args } = parseArgs({
  options: {
    schemas: { type: 'string', default: '200' },
    lookups: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '16' },
  },
});
const schemas = Number(args.schemas);
const lookups = Number(args.lookups);
const concurrency = Number(args.concurrency);

const schemaText = (i: number) =>
  JSON.stringify({
    type: 'record',
    name: 'bench',
    fields: [
      { name: 'id', type: 'string' },
      { name: `f${i}`, type: ['null', 'long'], default: null },
    ],
  });

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const dataDir = mkdtempSync(join(tmpdir(), 'tributary-bench-registry-'));
const log = await openLog({ dataDir });
const server = createRegistryServer({ log, port: 0 });
const url = await server.start();
const results: Record<string, unknown> = { schemas, lookups, concurrency };
try {
  const { client } = server.registry;
  let t0 = performance.now();
  for (let i = 0; i < schemas; i++) await client.register('bench-value', schemaText(i));
  let ms = performance.now() - t0;
  console.log(
    `register (in process, durable append + read back): ${rate(schemas, ms)}/s (${(ms / schemas).toFixed(2)} ms each)`,
  );
  results.register_per_s = rate(schemas, ms);

  t0 = performance.now();
  for (let i = 0; i < lookups; i++) await client.schemaById(1 + (i % schemas));
  ms = performance.now() - t0;
  console.log(`schemaById (in process): ${rate(lookups, ms)}/s`);
  results.in_process_lookups_per_s = rate(lookups, ms);

  const httpLookups = async (parallel: number) => {
    let next = 0;
    const worker = async () => {
      while (next < lookups) {
        const id = 1 + (next++ % schemas);
        const res = await fetch(`${url}/schemas/ids/${id}`);
        if (res.status !== 200) throw new Error(`GET /schemas/ids/${id}: ${res.status}`);
        await res.arrayBuffer();
      }
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: parallel }, worker));
    return rate(lookups, performance.now() - start);
  };
  const sequential = await httpLookups(1);
  console.log(`GET /schemas/ids/{id} over HTTP, one at a time: ${sequential}/s`);
  const parallel = await httpLookups(concurrency);
  console.log(`GET /schemas/ids/{id} over HTTP, ${concurrency} at a time: ${parallel}/s`);
  results.http_lookups_per_s = { sequential, [`parallel_${concurrency}`]: parallel };

  t0 = performance.now();
  await server.stop();
  const reopened = createRegistryServer({ log, port: 0 });
  await reopened.start();
  ms = performance.now() - t0;
  console.log(`restart (replay of ${schemas} registrations): ${ms.toFixed(0)} ms`);
  results.restart_ms = Math.round(ms);
  await reopened.stop();
} finally {
  await log.close();
  rmSync(dataDir, { recursive: true, force: true });
}
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'results', 'registry.json'), `${JSON.stringify(results, null, 2)}\n`);
