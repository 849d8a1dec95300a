/**
 * The sales pipeline (pipelines/saas.yaml, `tributary run saas`) end to end, in one
 * straight run, against independent truths.
 *
 * Input: 16,000 records from `generateSales` — 6,000 of schema version 1, then version 2
 * (registered midway through our registry's REST API) — with the generator's producer
 * retries, late events and every kind of invalid message, on a clock moving 100 ms a
 * record (so 27 minutes of event time, across midnight); and, after 12,000 of them,
 * a dozen old events re-sent byte for byte 12 to 20 minutes after they were made (after
 * the dedup transform's 5-minute horizon). The pipeline runs as `tributary run saas
 * --until-caught-up` against the registry served by `createRegistryServer` over the
 * same log, in batches of at most 700 records, so batches cut the stream and lateness
 * depends on where.
 *
 * The truth (saas-truth.ts): the oracle of src/scenarios/saas-sales, which decodes with
 * avsc by each record's writer schema and computes in bigint cents, given the batches
 * the pipeline reports in dq.results.v1 (checked to tile the topic). Checked:
 * - bronze (read by delta-rs): every valid record once per (partition, offset), every
 *   value exact (amounts, times to the µs, version-1 records with discount_code null),
 *   its broker time and its batch's id and time;
 * - silver (delta-rs): each event_id once, its first copy, signed amounts; the stale
 *   copies are not there (silver's sink dedup);
 * - gold (our reader and delta-rs): every closed 5-minute window once with its final value;
 * - sales_late_events: exactly the late events (the stale copies among them), each with
 *   the watermark it was late for;
 * - the DLQ: every invalid message once, bytes unchanged, the rule its kind calls for —
 *   as the oracle judges the bytes and as the generator meant them;
 * - dq.results.v1, batch by batch: records, passed and failed per rule and the samples;
 *   the totals agree with the DLQ, the dropped copies and the late table;
 * - the Avro revenue topic: the gold rows once each, from the batch that closed each
 *   window, decoded by Confluent's AvroDeserializer (Python) against our registry.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { HttpSchemaRegistryClient } from '../../src/connectors/avro/http-registry.ts';
import { openLog } from '../../src/log/open.ts';
import { REVENUE_TOPIC, SALES_DLQ_TOPIC } from '../../src/scenarios/saas-sales/domain.ts';
import type { SalesRecord } from '../../src/scenarios/saas-sales/generator.ts';
import { INVALID_KINDS, type InvalidKind } from '../../src/scenarios/saas-sales/invalid.ts';
import { createRegistryServer } from '../../src/server/registry/server.ts';
import { tributary } from '../interop/helpers.ts';
import {
  assertBronze,
  assertDlq,
  assertGold,
  assertLate,
  assertQuality,
  assertRevenueTopic,
  assertSilver,
  type DecodedRevenue,
  tableRows,
} from './saas-assert.ts';
import { generateTracked, resendStale, SteppingClock } from './saas-input.ts';
import { ConfluentPython, confluentPythonSkip } from './saas-python.ts';
import { readAll, salesTruth } from './saas-truth.ts';

/** 23:40 UTC: the stream crosses midnight, so bronze, silver and gold each get two date partitions. */
const T0 = Date.UTC(2026, 10, 30, 23, 40, 0);
const STEP_MS = 100;
const SEED = 4004;

/** The dead-letter rule (field/rule) each kind of invalid message the generator makes calls for. */
const RULE_OF: Record<InvalidKind, string> = {
  'negative-seats': 'seats/min',
  'negative-amount': 'amount/min',
  'unknown-region': 'region/enum',
  'unknown-plan-tier': 'plan_tier/enum',
  'unknown-event-type': 'event_type/enum',
  'unknown-currency': 'currency/enum',
  'wrong-magic-byte': '/avro_magic',
  'unknown-schema-id': '/avro_schema_id',
  truncated: '/avro_body',
  'too-short': '/avro_magic',
};

const skip = confluentPythonSkip();

describe('the sales pipeline, one straight run', { skip, timeout: 300_000 }, () => {
  test('bronze, silver, gold, late events, DLQ, dq.results.v1 and the revenue topic equal the oracle', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-saas-pipeline-'));
    const log = await openLog({ dataDir: dir });
    const server = createRegistryServer({ log, port: 0 });
    const python = new ConfluentPython();
    try {
      const url = await server.start();
      const registry = new HttpSchemaRegistryClient(url);
      const clock = new SteppingClock(T0, STEP_MS);
      const made = await generateTracked(log, registry, clock, {
        count: 12_000,
        switchAt: 6_000,
        seed: SEED,
      });
      const stale = await resendStale(log, made, clock.t, 12);
      for (const [at, r] of await generateTracked(log, registry, clock, {
        count: 4_000,
        version: 2,
        seed: SEED,
      }))
        made.set(at, r);

      const run = await tributary([
        'run',
        'saas',
        '--data-dir',
        dir,
        '--registry',
        url,
        '--until-caught-up',
        '--set',
        'runtime.max_records_per_batch=700',
        '--trigger-ms',
        '10',
        '--progress-ms',
        '0',
      ]);
      assert.equal(run.code, 0, `tributary run saas failed:\n${run.stderr}`);

      const truth = await salesTruth(log, registry, stale);
      // The generator's own account of each record, replayed: its bytes are the topic's.
      for (const [at, r] of made) {
        assert.ok(truth.byPos.get(at)?.value?.equals(r.value), `record ${at} is the generator's`);
      }
      const kinds = countKinds(made);
      for (const k of INVALID_KINDS)
        assert.ok((kinds.get(k) ?? 0) >= 3, `3 or more invalid records of kind ${k}`);
      assert.ok(truth.batches.length >= 20, `${truth.batches.length} batches`);
      assert.ok(truth.late.length > 100 && truth.dropped.length > 100, 'late events and copies among them');
      assert.ok(
        truth.valid.some((e) => e.schemaVersion === 1) && truth.valid.some((e) => e.discountCode !== null),
        'records of both versions, some with a discount code',
      );
      assert.ok(truth.closed.length >= 60, `${truth.closed.length} windows closed`);

      assertBronze(await tableRows(dir, 'sales_bronze', 'delta-rs'), truth);
      assertSilver(await tableRows(dir, 'sales_silver', 'delta-rs'), truth);
      assertGold(await tableRows(dir, 'sales_revenue_5m', 'ours'), truth);
      assertGold(await tableRows(dir, 'sales_revenue_5m', 'delta-rs'), truth, 'sales_revenue_5m (delta-rs)');
      assertLate(await tableRows(dir, 'sales_late_events', 'ours'), truth);

      const dlq = assertDlq(await readAll(log, SALES_DLQ_TOPIC), truth);
      for (const [at, r] of made) {
        if (r.kind !== 'invalid') continue;
        const got = dlq.get(at);
        assert.equal(got && `${got.field}/${got.rule}`, RULE_OF[r.invalid!], `DLQ: ${at}, made ${r.invalid}`);
      }
      for (const at of stale) assert.ok(!dlq.has(at));
      assertQuality(truth, dlq);

      const revenue = await readAll(log, REVENUE_TOPIC);
      const decoded = await python.request<{ records: Array<Record<string, unknown>> }>('decode', {
        url,
        topic: REVENUE_TOPIC,
        records: revenue.map((r) => r.value!.toString('hex')),
      });
      assertRevenueTopic(
        revenue.map(
          (r, i): DecodedRevenue => ({
            partition: r.partition,
            offset: r.offset,
            key: r.key!.toString(),
            plan: r.headers['tributary-plan'],
            value: decoded.records[i],
          }),
        ),
        truth,
      );
      t.diagnostic(
        `${truth.input.length} records in ${truth.batches.length} batches: ${truth.invalid.length} invalid, ` +
          `${truth.dropped.length} copies dropped, ${truth.stale.length} stale copies, ${truth.late.length} late, ` +
          `${truth.closed.length} windows closed (${truth.open.length} open)`,
      );
    } finally {
      await python.close();
      await server.stop();
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function countKinds(made: ReadonlyMap<string, SalesRecord>): Map<InvalidKind, number> {
  const out = new Map<InvalidKind, number>();
  for (const r of made.values()) if (r.invalid) out.set(r.invalid, (out.get(r.invalid) ?? 0) + 1);
  return out;
}
