/**
 * Confluent's own clients around the sales pipeline, on a real Apache Kafka broker:
 * - Python's confluent-kafka SchemaRegistryClient against `tributary registry` (a child
 *   process) registers sales_event v1 under the topic's subject, finds v2 compatible and
 *   registers it, and gets HTTP 409 for v3 (a required field without a default);
 * - its Producer with AvroSerializer writes sales events keyed by account_id into the
 *   topic (3 partitions): half with v1, half with v2 (some with a discount code), and a
 *   few that break the contract (a region outside its list);
 * - `tributary run saas --kafka ... --registry URL --until-caught-up` decodes them: bronze
 *   holds every valid event with the values Python was given (v1 ones with discount_code
 *   null), the others are in the DLQ with their bytes; silver, gold, the late table and
 *   dq.results.v1 equal the truth (saas-truth.ts);
 * - its DeserializingConsumer with AvroDeserializer reads the pipeline's Avro revenue
 *   topic back: the gold rows, each once.
 * The pipeline's topics get a suffix of this run (`--set`), so runs sharing the broker
 * never meet. Skipped when TRIBUTARY_TEST_KAFKA is not set (a failure under CI).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { HttpSchemaRegistryClient } from '../../src/connectors/avro/http-registry.ts';
import { openLog } from '../../src/log/open.ts';
import { centsText, valueSubject } from '../../src/scenarios/saas-sales/domain.ts';
import { SalesGenerator, salesType } from '../../src/scenarios/saas-sales/generator.ts';
import type { SalesEventValue } from '../../src/scenarios/saas-sales/invalid.ts';
import { salesSchemaText } from '../../src/scenarios/saas-sales/schemas.ts';
import { startCli } from '../helpers/cli-child.ts';
import { isoMicros, tributary } from '../interop/helpers.ts';
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
import { SteppingClock } from './saas-input.ts';
import { ConfluentPython, confluentPythonSkip } from './saas-python.ts';
import { readAll, salesTruth } from './saas-truth.ts';

const brokers = process.env.TRIBUTARY_TEST_KAFKA;
/** Records per schema version; the clock moves 2 s a record, so 40 minutes of event time in all. */
const PER_VERSION = 600;

function skip(): string | false {
  const why = !brokers ? 'TRIBUTARY_TEST_KAFKA is not set (npm test starts a broker)' : confluentPythonSkip();
  if (why && process.env.CI) throw new Error(why);
  return why ?? false;
}

/** A sales event as Python's serializer takes it: amount as decimal text, times as epoch ms. */
type PyEvent = Omit<SalesEventValue, 'amount'> & { amount: string };

/** Valid sales events of `version` from the generator, decoded with avsc, as plain values. */
function events(g: SalesGenerator, version: 1 | 2, n: number): PyEvent[] {
  const type = salesType(version);
  return Array.from({ length: n }, () => {
    const r = g.next();
    const v = type.fromBuffer(r.value.subarray(5)) as SalesEventValue;
    let cents = 0n;
    for (const b of v.amount) cents = (cents << 8n) | BigInt(b);
    return { ...v, amount: centsText(cents) };
  });
}

describe("the sales pipeline with Confluent's clients on Kafka", { skip: skip(), timeout: 240_000 }, () => {
  test('Python registers, evolves, is refused v3 and produces; the pipeline decodes; Python reads the revenue topic', async (t) => {
    const id = randomUUID().slice(0, 8);
    const topic = `sales.events.v1.${id}`;
    const names = {
      dlq: `sales.events.dlq.v1.${id}`,
      dq: `dq.results.v1.${id}`,
      revenue: `sales.agg.revenue_5m.v1.${id}`,
    };
    const dir = mkdtempSync(join(tmpdir(), 'tributary-saas-confluent-'));
    const log = await openLog({ dataDir: dir, kafka: brokers });
    const registryProcess = startCli(['registry', '--data-dir', join(dir, 'registry'), '--port', '0']);
    const python = new ConfluentPython();
    try {
      const url = await registryUrl(registryProcess.child);
      await log.ensureTopic(topic, { partitions: 3 });

      const evolved = await python.request<{
        id1: number;
        id2: number;
        v2_compatible: boolean;
        v3_compatible: boolean;
        v3: { status?: number; code?: number; message?: string; id?: number };
        versions: number[];
      }>('evolve', {
        url,
        subject: valueSubject(topic),
        v1: salesSchemaText(1),
        v2: salesSchemaText(2),
        v3: salesSchemaText(3),
      });
      assert.equal(evolved.v2_compatible, true, 'v2 is compatible with v1');
      assert.equal(evolved.v3_compatible, false, 'v3 is not');
      assert.equal(evolved.v3.status, 409, `v3 is refused with 409: ${JSON.stringify(evolved.v3)}`);
      assert.match(evolved.v3.message ?? '', /sales_channel/, 'the refusal names the field');
      assert.deepEqual(evolved.versions, [1, 2]);

      const clock = new SteppingClock(Date.UTC(2026, 11, 1, 8, 0, 0), 2_000);
      const g = new SalesGenerator({
        seed: 77,
        clock,
        schema: { version: 1, id: evolved.id1 },
        duplicateRate: 0,
        lateRate: 0,
        invalidRate: 0,
      });
      const v1 = events(g, 1, PER_VERSION);
      g.useSchema(2, evolved.id2);
      const v2 = events(g, 2, PER_VERSION);
      // A few that break the contract: a region outside its list.
      for (const i of [7, 250, 640, 901]) (i < PER_VERSION ? v1 : v2)[i % PER_VERSION].region = 'mars';
      assert.ok(
        v2.some((e) => e.discount_code != null),
        'version-2 events with a discount code',
      );
      for (const [schema, records] of [
        [salesSchemaText(1), v1],
        [salesSchemaText(2), v2],
      ] as const) {
        await python.request('produce', { url, brokers, topic, schema, records });
      }

      const run = await tributary([
        'run',
        'saas',
        '--data-dir',
        dir,
        '--kafka',
        brokers!,
        '--registry',
        url,
        '--until-caught-up',
        '--progress-ms',
        '0',
        '--max-records',
        '300',
        '--set',
        `source.topic=${topic}`,
        '--set',
        `dlq.topic=${names.dlq}`,
        '--set',
        `quality.topic=${names.dq}`,
        '--set',
        `sinks.revenue_topic.topic=${names.revenue}`,
      ]);
      assert.equal(run.code, 0, `tributary run saas failed:\n${run.stderr}`);

      const truth = await salesTruth(log, new HttpSchemaRegistryClient(url), new Set(), {
        input: topic,
        dq: names.dq,
      });
      assert.deepEqual(
        [...new Set(truth.input.map((r) => r.value!.readUInt32BE(1)))].sort(),
        [evolved.id1, evolved.id2].sort(),
        "the records carry the ids Python's serializer registered",
      );
      // Bronze holds what Python was given, read back through our decoder.
      const bronze = await tableRows(dir, 'sales_bronze', 'ours');
      const sent = [...v1, ...v2].filter((e) => e.region !== 'mars');
      assert.equal(bronze.length, sent.length, 'every valid event in bronze');
      const byId = new Map(bronze.map((r) => [r.event_id, r]));
      for (const e of sent) {
        const row = byId.get(e.event_id);
        assert.ok(row, `event ${e.event_id} in bronze`);
        assert.deepEqual(
          {
            event_time: row.event_time,
            ingest_time: row.ingest_time,
            schema_version: row.schema_version,
            account_id: row.account_id,
            subscription_id: row.subscription_id,
            plan_tier: row.plan_tier,
            previous_plan_tier: row.previous_plan_tier,
            region: row.region,
            event_type: row.event_type,
            billing_period: row.billing_period,
            amount: row.amount,
            currency: row.currency,
            seats: row.seats,
            discount_code: row.discount_code,
          },
          {
            event_time: isoMicros(new Date(e.event_time)),
            ingest_time: isoMicros(new Date(e.ingest_time)),
            schema_version: String(e.schema_version),
            account_id: e.account_id,
            subscription_id: e.subscription_id,
            plan_tier: e.plan_tier,
            previous_plan_tier: e.previous_plan_tier,
            region: e.region,
            event_type: e.event_type,
            billing_period: e.billing_period,
            amount: e.amount,
            currency: e.currency,
            seats: String(e.seats),
            discount_code: e.discount_code ?? null,
          },
          `bronze row of ${e.event_id}`,
        );
      }
      assertBronze(bronze, truth);
      assertSilver(await tableRows(dir, 'sales_silver', 'ours'), truth);
      assertGold(await tableRows(dir, 'sales_revenue_5m', 'ours'), truth);
      assertLate(await tableRows(dir, 'sales_late_events', 'ours'), truth);
      const dlq = assertDlq(await readAll(log, names.dlq), truth);
      assert.equal(dlq.size, 4, 'the four events from mars in the DLQ');
      assert.ok([...dlq.values()].every((r) => r.field === 'region' && r.rule === 'enum'));
      assertQuality(truth, dlq);

      assert.ok(truth.closed.length >= 20, `${truth.closed.length} windows closed`);
      const read = await python.request<{ records: DecodedRevenue[] }>('consume', {
        url,
        brokers,
        topic: names.revenue,
        count: truth.closed.length,
      });
      assertRevenueTopic(read.records, truth);
      t.diagnostic(
        `${truth.input.length} records (ids ${evolved.id1}, ${evolved.id2}) in ${truth.batches.length} batches: ` +
          `${truth.late.length} late, ${truth.closed.length} windows read back by DeserializingConsumer`,
      );
    } finally {
      await python.close();
      registryProcess.child.kill('SIGTERM');
      await registryProcess.exit;
      for (const t of [topic, ...Object.values(names)]) await log.deleteTopic(t).catch(() => {});
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The URL `tributary registry` prints once it listens. */
function registryUrl(child: import('node:child_process').ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`tributary registry did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /schema registry at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('close', () => reject(new Error(`tributary registry exited: ${out}`)));
  });
}
