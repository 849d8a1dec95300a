/**
 * Fuzz test of decoding: more than 10,000 malformed values, made by mutating valid order
 * events (truncation, bit flips, injected bytes and control characters, trailing content,
 * invalid UTF-8, wrong types, huge strings and numbers, deep nesting, duplicate keys,
 * empty and null values, and mutations that keep a record valid), mixed with valid ones.
 *
 * 1. The strict check alone agrees with an independent judge (Python's strict JSON
 *    parser and the contract in plain Python): it never refuses a valid record, and
 *    every record it accepts that the judge calls invalid breaks a value rule (which
 *    DuckDB checks next), not JSON.
 * 2. Through the real orders pipeline: every invalid record is in the DLQ exactly once
 *    with its original bytes and a reason; every valid record is in orders_events exactly
 *    once (first of its event_id), every column as the judge computes it, read by
 *    delta-rs; the pipeline never fails.
 *
 * Seeded and reproducible; bench/decode-fuzz.ts runs a larger corpus.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openLog } from '../../src/log/open.ts';
import { compileContract } from '../../src/quality/contract.ts';
import { ordersContract } from '../../src/scenarios/orders/contract.ts';
import { ORDERS_PARTITIONS, ordersPipeline } from '../../src/scenarios/orders/pipeline.ts';
import { decodeDeadLetter, originalBytes } from '../../src/stream/dead-letter.ts';
import { pythonSkip } from '../interop/helpers.ts';
import { readTopic } from '../scenarios/orders-oracle.ts';
import { buildCorpus, judge } from './strict-fuzz.ts';

const skip = pythonSkip();

describe('malformed input, fuzzed', { skip }, () => {
  test('the strict check refuses no valid record and lets through no broken JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-fuzz-check-'));
    try {
      const corpus = buildCorpus(7, 40_000, 0.8, 1);
      const records = corpus.map((r, i) => ({ partition: 0, offset: i, value: r.value }));
      const verdict = await judge(records, dir);
      const invalid = new Set(verdict.invalid.map(([, o]) => o));
      assert.ok(invalid.size >= 10_000, `the corpus has at least 10,000 invalid records (${invalid.size})`);
      const strict = compileContract(ordersContract).strict;
      const refusedValid: string[] = [];
      let refused = 0;
      const passedByKind = new Map<string, number>();
      for (const r of records) {
        const ok = strict.check(r.value, 0, r.value.length);
        if (!ok) {
          refused++;
          if (!invalid.has(r.offset)) refusedValid.push(`${r.offset}: ${strict.error().message}`);
        } else if (invalid.has(r.offset)) {
          // Passed the strict check, invalid to the judge: only value rules may remain,
          // so the record must be well-formed JSON that JSON.parse reads.
          JSON.parse(Buffer.from(r.value).toString('utf8'));
          const kind = corpus[r.offset].kind;
          passedByKind.set(kind, (passedByKind.get(kind) ?? 0) + 1);
        }
      }
      assert.deepEqual(refusedValid.slice(0, 10), [], 'no valid record is refused');
      assert.ok(refused >= 8_000, `the strict check itself refuses most broken records (${refused})`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('through the orders pipeline: each invalid record in the DLQ once, each valid one in the table once', {
    timeout: 600_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-fuzz-pipeline-'));
    const log = await openLog({ dataDir: dir });
    try {
      const corpus = buildCorpus(2026, 24_000, 0.7, ORDERS_PARTITIONS);
      await log.ensureTopic('orders', { partitions: ORDERS_PARTITIONS });
      const acks: Array<{ partition: number; offset: number }> = [];
      for (let i = 0; i < corpus.length; i += 1000) {
        const chunk = corpus.slice(i, i + 1000);
        acks.push(
          ...(await log.produce(
            chunk.map((r) => ({ topic: 'orders', partition: r.partition, value: r.value })),
          )),
        );
      }
      const records = corpus.map((r, i) => ({
        partition: acks[i].partition,
        offset: acks[i].offset,
        value: r.value,
      }));

      const { pipeline } = await ordersPipeline({ dataDir: dir, log, maxRecordsPerBatch: 5_000 });
      const errors: unknown[] = [];
      await pipeline.run({ untilCaughtUp: true, onError: (err) => errors.push(err) });
      await pipeline.close();
      assert.deepEqual(errors, [], 'no batch failed');

      const verdict = await judge(records, dir, join(dir, 'tables', 'orders_events'));
      assert.ok(
        verdict.invalid.length >= 10_000,
        `at least 10,000 invalid records (${verdict.invalid.length})`,
      );
      assert.deepEqual(
        verdict.problems,
        [],
        'orders_events, read by delta-rs, holds every valid record once',
      );
      assert.ok(verdict.rows > 5_000, `the table has the valid records (${verdict.rows})`);

      const byPosition = new Map(records.map((r) => [`${r.partition}/${r.offset}`, r.value]));
      const dlq = new Map<string, { bytes: Buffer; reason: string }>();
      for (const r of await readTopic(log, 'orders.dlq')) {
        const d = decodeDeadLetter(r.value);
        const key = `${d.source_partition}/${d.source_offset}`;
        assert.ok(!dlq.has(key), `record ${key} is in the DLQ more than once`);
        dlq.set(key, { bytes: Buffer.from(originalBytes(d) ?? []), reason: d.reason });
      }
      const expected = new Set(verdict.invalid.map(([p, o]) => `${p}/${o}`));
      const extra = [...dlq.keys()].filter((k) => !expected.has(k));
      const missing = [...expected].filter((k) => !dlq.has(k));
      assert.deepEqual(extra.slice(0, 10), [], 'only invalid records are in the DLQ');
      assert.deepEqual(missing.slice(0, 10), [], 'every invalid record is in the DLQ');
      for (const [key, { bytes, reason }] of dlq) {
        assert.ok(bytes.equals(Buffer.from(byPosition.get(key)!)), `DLQ keeps the original bytes of ${key}`);
        assert.ok(reason.length > 0, `DLQ record ${key} has a reason`);
      }
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
