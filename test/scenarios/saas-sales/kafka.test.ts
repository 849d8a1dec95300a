/**
 * The sales generator into Apache Kafka, read back by Confluent's Python client
 * (confluent-kafka): the bytes the generator made, unchanged, every key on its murmur2
 * partition of three, in the generator's order within each partition.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ManualClock } from '../../../src/core/clock.ts';
import { openLog } from '../../../src/log/open.ts';
import { partitionForKey } from '../../../src/log/partitioner.ts';
import { generateSales } from '../../../src/scenarios/saas-sales/generate.ts';
import { SalesGenerator } from '../../../src/scenarios/saas-sales/generator.ts';
import { ROOT } from '../../interop/helpers.ts';
import { MemoryRegistry } from './memory-registry.ts';

const brokers = process.env.TRIBUTARY_TEST_KAFKA;
const PYTHON = process.env.TRIBUTARY_TEST_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');

function skip(): string | false {
  const why = !brokers
    ? 'TRIBUTARY_TEST_KAFKA is not set (npm test starts a broker)'
    : !existsSync(PYTHON)
      ? `no Python with confluent-kafka at ${PYTHON}`
      : undefined;
  if (why && process.env.CI) throw new Error(why);
  return why ?? false;
}

function pythonRead(
  topic: string,
): Promise<Array<{ partition: number; offset: number; key: string; value: string }>> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [join(import.meta.dirname, 'kafka_read.py'), brokers!, topic],
      { maxBuffer: 256 * 1024 * 1024, timeout: 120_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`kafka_read.py: ${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    );
  });
}

describe('sales generator into Apache Kafka', { skip: skip(), timeout: 180_000 }, () => {
  test("Confluent's Python client reads the generator's bytes on each key's murmur2 partition", async () => {
    const topic = `sales-events-${randomUUID().slice(0, 8)}`;
    const dir = mkdtempSync(join(tmpdir(), 'tributary-sales-kafka-'));
    const log = await openLog({ dataDir: dir, kafka: brokers });
    const t = Date.UTC(2026, 10, 30, 8);
    try {
      const produced = await generateSales({
        log,
        topic,
        registry: new MemoryRegistry(),
        clock: new ManualClock(t),
        count: 3000,
        switchAt: 1500,
        seed: 21,
      });
      assert.equal(produced, 3000);
      await check(topic, t);
    } finally {
      await log.deleteTopic(topic).catch(() => {});
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The topic as confluent-kafka reads it equals what the same generator makes, partition by partition. */
async function check(topic: string, t: number): Promise<void> {
  // The same records again (the clock stands still): ids 1 and 2 as the fresh registry gave them.
  const g = new SalesGenerator({ seed: 21, clock: new ManualClock(t), schema: { version: 1, id: 1 } });
  const expected: string[][] = [[], [], []];
  for (let i = 0; i < 3000; i++) {
    if (i === 1500) g.useSchema(2, 2);
    const r = g.next();
    expected[partitionForKey(Buffer.from(r.key), 3)].push(`${r.key} ${r.value.toString('hex')}`);
  }
  const read = await pythonRead(topic);
  assert.equal(read.length, 3000);
  for (let p = 0; p < 3; p++) {
    const got = read
      .filter((r) => r.partition === p)
      .map(
        (r) => `${Buffer.from(r.key, 'base64').toString()} ${Buffer.from(r.value, 'base64').toString('hex')}`,
      );
    assert.ok(got.length > 500, `partition ${p}: ${got.length} records`);
    assert.deepEqual(got, expected[p], `partition ${p}: the generator's records, in order`);
  }
}
