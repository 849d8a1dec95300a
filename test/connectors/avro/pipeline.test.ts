/**
 * An Avro topic through a pipeline definition (`format: avro`) into a Delta table: records
 * framed by fastavro (Python, an independent encoder) in two writer versions, plus records
 * that cannot be read, keyed by account into 3 partitions. The table, read by delta-rs,
 * holds exactly the readable records typed by the reader schema (v2: v1's records with
 * the new field's default); the DLQ holds every other record once with its bytes
 * unchanged and the reason.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { compilePipeline } from '../../../src/pipeline/compile.ts';
import { loadDefinitionFile } from '../../../src/pipeline/load.ts';
import { decodeDeadLetter } from '../../../src/stream/dead-letter.ts';
import { deltaRsRead, pythonSkip, ROOT } from '../../interop/helpers.ts';
import { withLog } from '../../stream/with-log.ts';
import { MemoryRegistry, SALES_V1, SALES_V2 } from './helpers.ts';

const PYTHON = process.env.TRIBUTARY_TEST_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');
const skip = pythonSkip();

interface Sale {
  event_id: string;
  event_time: string;
  ingest_time: string;
  schema_version: number;
  account_id: string;
  plan_tier: string;
  region: string;
  event_type: string;
  amount: string;
  currency: string;
  coupon_code?: string | null;
}

/** Framed records from fastavro, one per input record. */
function fastavroFrames(
  schemas: Record<number, object>,
  records: Array<{ id: number; value: object }>,
): Buffer[] {
  const out = execFileSync(PYTHON, [join(ROOT, 'test/connectors/avro/py/fastavro_encode.py')], {
    input: JSON.stringify({ schemas, records }),
    maxBuffer: 64 * 1024 * 1024,
  });
  return out
    .toString()
    .trim()
    .split('\n')
    .map((h) => Buffer.from(h, 'hex'));
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

describe('format avro in a pipeline definition', { skip }, () => {
  test('two writer versions into one Delta table, unreadable records to the DLQ with their bytes', async () => {
    await withLog('avro-pipeline', async (log, dir) => {
      const registry = new MemoryRegistry();
      const id1 = await registry.register('sales.events.v1-value', JSON.stringify(SALES_V1));
      const id2 = await registry.register('sales.events.v1-value', JSON.stringify(SALES_V2));
      const sales: Sale[] = [];
      const records: Array<{ id: number; value: object }> = [];
      for (let i = 0; i < 3000; i++) {
        const v2 = i >= 1500;
        const t = Date.UTC(2026, 10, 29, 9, 0, 0) + i * 250;
        const s: Sale = {
          event_id: `e-${i}`,
          event_time: iso(t),
          ingest_time: iso(t + 40),
          schema_version: v2 ? 2 : 1,
          account_id: `acct-${i % 37}`,
          plan_tier: ['free', 'starter', 'pro', 'enterprise'][i % 4],
          region: ['eu-west-1', 'us-east-1', 'ap-south-1'][i % 3],
          event_type: ['subscription_created', 'upgrade', 'invoice_paid'][i % 3],
          // Every 97th sale is a refund below the contract's minimum.
          amount: i % 97 === 5 ? '-12.50' : (((i * 731) % 100000) / 100).toFixed(2),
          currency: 'EUR',
          ...(v2 && { coupon_code: i % 5 === 0 ? `WINTER${i % 7}` : null }),
        };
        sales.push(s);
        records.push({ id: v2 ? id2 : id1, value: s });
      }
      const frames = fastavroFrames({ [id1]: SALES_V1, [id2]: SALES_V2 }, records);
      // Records that cannot be read, among the others.
      const bad = new Map<number, { value: Buffer; rule: string }>();
      const values: Buffer[] = [];
      const rows: Sale[] = [];
      const rules = new Map<string, string>();
      frames.forEach((f, i) => {
        if (i % 211 === 17) {
          bad.set(values.length, { value: Buffer.from(JSON.stringify(sales[i])), rule: 'avro_magic' });
          values.push(Buffer.from(JSON.stringify(sales[i])));
        } else if (i % 223 === 19) {
          const v = Buffer.from(f);
          v.writeUInt32BE(4242, 1);
          bad.set(values.length, { value: v, rule: 'avro_schema_id' });
          values.push(v);
        } else if (i % 227 === 23) {
          const v = f.subarray(0, f.length - 2);
          bad.set(values.length, { value: v, rule: 'avro_body' });
          values.push(v);
        } else {
          if (sales[i].amount.startsWith('-')) {
            bad.set(values.length, { value: f, rule: 'min' });
          } else rows.push(sales[i]);
          values.push(f);
        }
      });
      const keyOf = (i: number) => Buffer.from(sales[Math.min(i, sales.length - 1)].account_id);
      // Produce in order, keyed by account, as a Confluent producer would.
      await log.ensureTopic('sales.events.v1', { partitions: 3 });
      const sent = await log.produce(
        values.map((value, i) => ({ topic: 'sales.events.v1', key: keyOf(i), value })),
      );
      for (const [i, b] of bad) rules.set(`${sent[i].partition}/${sent[i].offset}`, b.rule);

      await fs.writeFile(join(dir, 'sales_event.avsc'), JSON.stringify(SALES_V2, null, 2));
      const file = join(dir, 'sales.yaml');
      await fs.writeFile(
        file,
        `name: sales_bronze
source: { topic: sales.events.v1, partitions: 3 }
format: avro
avro: { schema: sales_event.avsc }
contract:
  name: sales_event
  fields:
    - { name: amount, min: 0 }
    - { name: event_id, not_empty: true }
sinks:
  - { name: bronze, type: delta_append, from: input, table: sales_bronze }
runtime: { trigger: 10ms, max_records_per_batch: 700 }
`,
      );
      const loaded = await loadDefinitionFile(file);
      const c = await compilePipeline(loaded, { dataDir: dir, log, registry });
      try {
        await c.pipeline.run({ untilCaughtUp: true });
      } finally {
        await c.pipeline.close();
      }
      assert.deepEqual(
        [registry.lookupsOf.get(id1), registry.lookupsOf.get(id2)],
        [1, 1],
        'each writer schema fetched once',
      );

      const table = await deltaRsRead(join(dir, 'tables', 'sales_bronze'));
      const got = table.rows.map((r) => {
        const { _o, _p, _t, ...rest } = r;
        return rest;
      });
      const expected = rows.map((s) => ({
        ...s,
        schema_version: String(s.schema_version),
        coupon_code: s.coupon_code ?? null,
      }));
      const key = (r: Record<string, unknown>) => String(r.event_id);
      const sortBy = (a: Record<string, unknown>[]) => [...a].sort((x, y) => (key(x) < key(y) ? -1 : 1));
      assert.equal(got.length, expected.length);
      assert.deepEqual(sortBy(got), sortBy(expected as unknown as Record<string, unknown>[]));
      assert.deepEqual(
        table.schema.fields.map((f) => `${f.name}:${JSON.stringify(f.type)}`),
        [
          '_o:"long"',
          '_p:"integer"',
          '_t:"long"',
          'event_id:"string"',
          'event_time:"timestamp"',
          'ingest_time:"timestamp"',
          'schema_version:"long"',
          'account_id:"string"',
          'plan_tier:"string"',
          'region:"string"',
          'event_type:"string"',
          'amount:"decimal(12,2)"',
          'currency:"string"',
          'coupon_code:"string"',
        ],
      );

      const dlq: Array<{ at: string; rule: string; value: Buffer }> = [];
      for (let p = 0; p < 3; p++) {
        const { latest } = await log.offsets('sales.events.v1.dlq', p);
        if (latest === 0) continue;
        const f = await log.fetch('sales.events.v1.dlq', p, 0, { maxRecords: 100_000 });
        for (const r of f.records) {
          const d = decodeDeadLetter(r.value!);
          const value =
            d.value_base64 !== undefined
              ? Buffer.from(d.value_base64, 'base64')
              : Buffer.from(d.value ?? '', 'utf8');
          dlq.push({ at: `${d.source_partition}/${d.source_offset}`, rule: d.rule, value });
        }
      }
      assert.equal(dlq.length, bad.size);
      assert.deepEqual(new Map(dlq.map((d) => [d.at, d.rule])), rules);
      const byAt = new Map([...bad].map(([i, b]) => [`${sent[i].partition}/${sent[i].offset}`, b.value]));
      for (const d of dlq) assert.ok(d.value.equals(byAt.get(d.at)!), `bytes of ${d.at} unchanged`);
    });
  });

  test("a topic sink with format avro: Confluent's deserializer reads what it wrote", async () => {
    await withLog('avro-topic-sink', async (log, dir) => {
      const registry = new MemoryRegistry();
      const id = await registry.register('sales.events.v1-value', JSON.stringify(SALES_V1));
      const records = Array.from({ length: 400 }, (_, i) => ({
        id,
        value: {
          event_id: `e-${i}`,
          event_time: iso(Date.UTC(2026, 10, 29, 9) + i * 1000),
          ingest_time: iso(Date.UTC(2026, 10, 29, 9) + i * 1000 + 7),
          schema_version: 1,
          account_id: `acct-${i % 11}`,
          plan_tier: ['free', 'pro'][i % 2],
          region: 'eu-west-1',
          event_type: 'invoice_paid',
          amount: (i * 1.25).toFixed(2),
          currency: 'EUR',
        },
      }));
      const frames = fastavroFrames({ [id]: SALES_V1 }, records);
      await log.ensureTopic('sales.events.v1', { partitions: 3 });
      await log.produce(frames.map((value) => ({ topic: 'sales.events.v1', value })));
      const file = join(dir, 'sales.yaml');
      await fs.writeFile(
        file,
        `name: sales_out
source: { topic: sales.events.v1, partitions: 3 }
format: avro
avro: { schema: '${JSON.stringify(SALES_V1)}' }
transforms:
  - name: paid
    sql: SELECT event_id, account_id, plan_tier, amount, event_time, amount * 2 AS doubled FROM input
sinks:
  - { name: out, type: topic, from: paid, topic: sales.paid, key: account_id, partitions: 2, format: avro }
`,
      );
      const c = await compilePipeline(await loadDefinitionFile(file), { dataDir: dir, log, registry });
      try {
        await c.pipeline.run({ untilCaughtUp: true });
      } finally {
        await c.pipeline.close();
      }
      const subject = registry.subjects.get('sales.paid-value')!;
      assert.equal(subject.length, 1);
      const schema = registry.schemas.get(subject[0])!;
      assert.equal(JSON.parse(schema).name, 'out');
      const written: Uint8Array[] = [];
      for (let p = 0; p < 2; p++) {
        const f = await log.fetch('sales.paid', p, 0, { maxRecords: 10_000 });
        for (const r of f.records) written.push(r.value!);
      }
      // Confluent's deserializer with our registry's schemas (ids from 1, as its own mock gives them).
      const decoded = execFileSync(PYTHON, [join(ROOT, 'test/connectors/avro/py/confluent_decode.py')], {
        input: JSON.stringify({
          topic: 'sales.paid',
          schemas: [...registry.schemas.values()],
          records: written.map((r) => Buffer.from(r).toString('hex')),
        }),
      });
      const got = (JSON.parse(decoded.toString()).records as Record<string, unknown>[]).sort((a, b) =>
        String(a.event_id) < String(b.event_id) ? -1 : 1,
      );
      const expected = records
        .map((r) => ({
          event_id: r.value.event_id,
          account_id: r.value.account_id,
          plan_tier: r.value.plan_tier,
          amount: r.value.amount,
          event_time: r.value.event_time,
          doubled: (Number(r.value.amount) * 2).toFixed(2),
        }))
        .sort((a, b) => (a.event_id < b.event_id ? -1 : 1));
      assert.deepEqual(got, expected);
    });
  });

  test('a registry that cannot be reached fails the batch and is retried; nothing goes to the DLQ', async () => {
    await withLog('avro-registry-down', async (log, dir) => {
      const registry = new MemoryRegistry();
      const id = await registry.register('sales.events.v1-value', JSON.stringify(SALES_V1));
      const records = Array.from({ length: 300 }, (_, i) => ({
        id,
        value: {
          event_id: `e-${i}`,
          event_time: iso(Date.UTC(2026, 10, 29, 9) + i),
          ingest_time: iso(Date.UTC(2026, 10, 29, 9) + i),
          schema_version: 1,
          account_id: `acct-${i % 5}`,
          plan_tier: 'pro',
          region: 'eu-west-1',
          event_type: 'upgrade',
          amount: '1.00',
          currency: 'EUR',
        },
      }));
      await log.ensureTopic('sales.events.v1', { partitions: 3 });
      await log.produce(
        fastavroFrames({ [id]: SALES_V1 }, records).map((value) => ({ topic: 'sales.events.v1', value })),
      );
      const file = join(dir, 'sales.yaml');
      await fs.writeFile(
        file,
        `name: sales_bronze
source: { topic: sales.events.v1, partitions: 3 }
format: avro
avro: { schema: '${JSON.stringify(SALES_V1)}' }
sinks:
  - { name: bronze, type: delta_append, from: input, table: sales_bronze }
`,
      );
      registry.down = true;
      const failures: string[] = [];
      // The registry comes back after the third failed try.
      const sleep = async () => {
        if (failures.length >= 3) registry.down = false;
      };
      const c = await compilePipeline(await loadDefinitionFile(file), { dataDir: dir, log, registry, sleep });
      try {
        await c.pipeline.run({
          untilCaughtUp: true,
          onError: (err) => failures.push((err as { code: string }).code),
        });
      } finally {
        await c.pipeline.close();
      }
      assert.deepEqual(failures, ['REGISTRY_UNAVAILABLE', 'REGISTRY_UNAVAILABLE', 'REGISTRY_UNAVAILABLE']);
      const table = await deltaRsRead(join(dir, 'tables', 'sales_bronze'));
      assert.equal(table.rows.length, 300);
      assert.equal(c.pipeline.metrics.invalid, 0);
      for (let p = 0; p < 3; p++) {
        assert.equal((await log.offsets('sales.events.v1.dlq', p).catch(() => ({ latest: 0 }))).latest, 0);
      }
    });
  });
});
