/**
 * The malformed-input corpus and its independent judge, shared by the fuzz test
 * (strict-fuzz.test.ts) and the larger run (bench/decode-fuzz.ts).
 *
 * The corpus: valid order events from the generator, most of them mutated once
 * (src/connectors/generators/mutate.ts), seeded. The judge: test/quality/py/strict_oracle.py,
 * Python's strict JSON parser and the order contract in plain Python; with a table it
 * also reads orders_events with delta-rs and compares every column of every valid record.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { type MutationKind, mutate } from '../../src/connectors/generators/mutate.ts';
import { OrdersGenerator } from '../../src/connectors/generators/orders.ts';
import { Rng } from '../../src/connectors/generators/rng.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { ordersContract } from '../../src/scenarios/orders/contract.ts';
import { ROOT } from '../interop/helpers.ts';

export interface CorpusRecord {
  partition: number;
  value: Uint8Array;
  kind: MutationKind | 'valid';
}

const enc = new TextEncoder();

/** `count` records over `partitions` partitions; a share `mutated` of them mutated. */
export function buildCorpus(
  seed: number,
  count: number,
  mutated: number,
  partitions: number,
): CorpusRecord[] {
  const gen = new OrdersGenerator({
    seed,
    clock: new ManualClock(Date.UTC(2026, 0, 27, 10)),
    malformedRate: 0,
    duplicateRate: 0,
    outOfOrderRate: 0,
    activeOrders: 500,
  });
  const rng = new Rng(seed ^ 0x5eed);
  const out: CorpusRecord[] = [];
  for (let i = 0; i < count; i++) {
    const good = enc.encode(gen.next().value);
    const partition = i % partitions;
    if (rng.chance(mutated)) {
      const m = mutate(rng, good);
      out.push({ partition, value: m.value, kind: m.kind });
    } else out.push({ partition, value: good, kind: 'valid' });
  }
  return out;
}

export interface OracleResult {
  valid: number;
  invalid: Array<[number, number]>;
  problems: string[];
  rows: number;
}

const PYTHON = process.env.TRIBUTARY_TEST_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');

/**
 * Asks the Python judge about records at their (partition, offset); with `table`, also
 * compares orders_events (read by delta-rs) with the valid ones.
 */
export async function judge(
  records: ReadonlyArray<{ partition: number; offset: number; value: Uint8Array | null }>,
  dir: string,
  table?: string,
): Promise<OracleResult> {
  const parts: Buffer[] = [];
  for (const r of records) {
    const head = Buffer.alloc(16);
    head.writeUInt32LE(r.partition, 0);
    head.writeBigUInt64LE(BigInt(r.offset), 4);
    head.writeUInt32LE(r.value === null ? 0xffffffff : r.value.length, 12);
    parts.push(head);
    if (r.value !== null) parts.push(Buffer.from(r.value));
  }
  const recordsFile = join(dir, 'oracle-records.bin');
  const contractFile = join(dir, 'oracle-contract.json');
  await fs.writeFile(recordsFile, Buffer.concat(parts));
  await fs.writeFile(contractFile, JSON.stringify(ordersContract));
  const script = join(ROOT, 'test', 'quality', 'py', 'strict_oracle.py');
  const args = [script, recordsFile, contractFile, ...(table ? [table] : [])];
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(PYTHON, args, { maxBuffer: 512 * 1024 * 1024, timeout: 600_000 }, (err, out, stderr) => {
      if (err) reject(new Error(`strict_oracle.py failed: ${err.message}\n${stderr}`));
      else resolve(out);
    });
  });
  return JSON.parse(stdout) as OracleResult;
}
