/**
 * The larger fuzz run of decoding (the test suite runs a smaller one,
 * test/quality/strict-fuzz.test.ts): `--records` records, a share `--mutated` of them
 * mutated order events, through the orders pipeline on the embedded log; then the
 * independent judge (Python's strict JSON parser + the contract in plain Python, and
 * delta-rs reading orders_events) checks the DLQ and the table record by record.
 * Needs the Python environment of the tests (TRIBUTARY_TEST_PYTHON or .venv).
 *
 *   node bench/decode-fuzz.ts [--records N] [--mutated 0.7] [--seed N]
 *
 * Prints the figures (inputs, invalid, DLQ, table rows, failed batches, mismatches) and
 * writes bench/results/decode-fuzz.json; exits 1 if anything disagrees.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openLog } from '../src/log/open.ts';
import { ORDERS_PARTITIONS, ordersPipeline } from '../src/scenarios/orders/pipeline.ts';
import { decodeDeadLetter, originalBytes } from '../src/stream/dead-letter.ts';
import { buildCorpus, judge } from '../test/quality/strict-fuzz.ts';
import { readTopic } from '../test/scenarios/orders-oracle.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    mutated: { type: 'string', default: '0.7' },
    seed: { type: 'string', default: '1' },
  },
});
const count = Number(args.records);
const dir = mkdtempSync(join(tmpdir(), 'bench-decode-fuzz-'));
const log = await openLog({ dataDir: dir });
let exit = 0;
try {
  const corpus = buildCorpus(Number(args.seed), count, Number(args.mutated), ORDERS_PARTITIONS);
  const kinds = new Map<string, number>();
  for (const r of corpus) kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
  await log.ensureTopic('orders', { partitions: ORDERS_PARTITIONS });
  const acks: Array<{ partition: number; offset: number }> = [];
  for (let i = 0; i < corpus.length; i += 2000) {
    const chunk = corpus.slice(i, i + 2000);
    acks.push(
      ...(await log.produce(chunk.map((r) => ({ topic: 'orders', partition: r.partition, value: r.value })))),
    );
  }
  const records = corpus.map((r, i) => ({ ...acks[i], value: r.value }));
  const { pipeline } = await ordersPipeline({ dataDir: dir, log });
  const failed: string[] = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await pipeline.run({ untilCaughtUp: true, onError: (err) => failed.push((err as Error).message) });
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  await pipeline.close();
  const verdict = await judge(records, dir, join(dir, 'tables', 'orders_events'));
  const dlq = new Map<string, Buffer>();
  let dlqDuplicates = 0;
  for (const r of await readTopic(log, 'orders.dlq')) {
    const d = decodeDeadLetter(r.value);
    const key = `${d.source_partition}/${d.source_offset}`;
    if (dlq.has(key)) dlqDuplicates++;
    dlq.set(key, Buffer.from(originalBytes(d) ?? []));
  }
  const byPosition = new Map(records.map((r) => [`${r.partition}/${r.offset}`, r.value]));
  const invalid = new Set(verdict.invalid.map(([p, o]) => `${p}/${o}`));
  const dlqMissing = [...invalid].filter((k) => !dlq.has(k)).length;
  const dlqExtra = [...dlq.keys()].filter((k) => !invalid.has(k)).length;
  const bytesAltered = [...dlq].filter(([k, b]) => !b.equals(Buffer.from(byPosition.get(k) ?? []))).length;
  const result = {
    records: count,
    mutated: count - (kinds.get('valid') ?? 0),
    invalid: invalid.size,
    valid: verdict.valid,
    dlq: dlq.size,
    dlqDuplicates,
    dlqMissing,
    dlqExtra,
    dlqBytesAltered: bytesAltered,
    tableRows: verdict.rows,
    tableProblems: verdict.problems.length,
    failedBatches: failed.length,
    seconds: Math.round(seconds * 10) / 10,
    recordsPerSecond: Math.round(count / seconds),
    recordsPerCpuSecond: Math.round(count / ((cpu.user + cpu.system) / 1e6)),
    kinds: Object.fromEntries([...kinds].sort()),
  };
  console.log(JSON.stringify(result, null, 2));
  for (const p of verdict.problems.slice(0, 10)) console.log(`table: ${p}`);
  for (const f of failed.slice(0, 10)) console.log(`failed batch: ${f}`);
  if (dlqDuplicates || dlqMissing || dlqExtra || bytesAltered || verdict.problems.length || failed.length)
    exit = 1;
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'decode-fuzz.json'), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await log.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exit);
