/**
 * The sales generator (src/scenarios/saas-sales/generator.ts) and its run into a topic
 * (generate.ts): reproducible from a seed, the configured shares of duplicates, late and
 * invalid records, both schema versions after the switch, keys on their murmur2
 * partitions, schemas registered under the topic's value subject.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import avro from 'avsc';
import { ManualClock } from '../../../src/core/clock.ts';
import { openLog } from '../../../src/log/open.ts';
import { partitionForKey } from '../../../src/log/partitioner.ts';
import { SALES_TOPIC } from '../../../src/scenarios/saas-sales/domain.ts';
import { expectedSales, readSalesTopic } from '../../../src/scenarios/saas-sales/expected.ts';
import { generateSales } from '../../../src/scenarios/saas-sales/generate.ts';
import {
  DELIVERY_DELAY_MAX_MS,
  DUPLICATE_MAX_BEHIND_MS,
  LATE_BEHIND_MS,
  SalesGenerator,
  type SalesGeneratorOptions,
  type SalesRecord,
} from '../../../src/scenarios/saas-sales/generator.ts';
import { INVALID_KINDS } from '../../../src/scenarios/saas-sales/invalid.ts';
import { salesSchemaText } from '../../../src/scenarios/saas-sales/schemas.ts';
import { MemoryRegistry } from './memory-registry.ts';

const T0 = Date.UTC(2026, 10, 30, 12);

/** `n` records of a generator on a clock moving 20 ms per record; v2 (id 2) from record `switchAt`. */
function run(n: number, opts: Partial<SalesGeneratorOptions> = {}, switchAt?: number): SalesRecord[] {
  const clock = new ManualClock(T0);
  const g = new SalesGenerator({ seed: 4, clock, schema: { version: 1, id: 1 }, ...opts });
  const out: SalesRecord[] = [];
  for (let i = 0; i < n; i++) {
    if (i === switchAt) g.useSchema(2, 2);
    clock.advance(20);
    out.push(g.next());
  }
  return out;
}

const idOf = (v: Uint8Array) => Buffer.from(v).readUInt32BE(1);
const decoders = {
  1: avro.Type.forSchema(JSON.parse(salesSchemaText(1))),
  2: avro.Type.forSchema(JSON.parse(salesSchemaText(2))),
};

describe('sales generator', () => {
  test('the same seed and clock give the same bytes; another seed other events', () => {
    const a = run(3000, {}, 1500);
    const b = run(3000, {}, 1500);
    assert.deepEqual(
      a.map((r) => [r.key, r.value.toString('hex'), r.kind, r.invalid]),
      b.map((r) => [r.key, r.value.toString('hex'), r.kind, r.invalid]),
    );
    const c = run(3000, { seed: 5 }, 1500);
    const ids = new Set(a.map((r) => r.eventId));
    assert.equal(c.filter((r) => ids.has(r.eventId)).length, 0);
  });

  test('duplicates, late and invalid records in their configured shares, each kind as it says', () => {
    const n = 40_000;
    const rates = { duplicateRate: 0.02, lateRate: 0.03, invalidRate: 0.02 };
    const recs = run(n, rates);
    const count = (k: string) => recs.filter((r) => r.kind === k).length;
    // Binomial counts: within 4 standard deviations of n·p.
    for (const [kind, p] of [
      ['duplicate', rates.duplicateRate],
      ['late', rates.lateRate],
      ['invalid', rates.invalidRate],
    ] as const) {
      const sd = Math.sqrt(n * p * (1 - p));
      assert.ok(
        Math.abs(count(kind) - n * p) < 4 * sd,
        `${kind}: ${count(kind)} of ${n}, expected about ${n * p}`,
      );
    }
    // Every invalid kind, about uniformly (800 over 10 kinds).
    for (const kind of INVALID_KINDS) {
      const k = recs.filter((r) => r.invalid === kind).length;
      assert.ok(k > 40 && k < 130, `${kind}: ${k}`);
    }

    const clockAt = (i: number) => T0 + 20 * (i + 1);
    const seen = new Map<string, string>();
    recs.forEach((r, i) => {
      const hex = r.value.toString('hex');
      if (r.kind === 'valid' || r.kind === 'late') {
        const v = decoders[1].fromBuffer(r.value.subarray(5));
        assert.equal(v.ingest_time, clockAt(i), 'ingest_time is the clock at produce');
        const behind = clockAt(i) - v.event_time;
        if (r.kind === 'valid')
          assert.ok(behind >= 0 && behind <= DELIVERY_DELAY_MAX_MS, `valid: ${behind} ms behind`);
        else
          assert.ok(behind >= LATE_BEHIND_MS[0] && behind <= LATE_BEHIND_MS[1], `late: ${behind} ms behind`);
        assert.equal(r.key, v.account_id);
        assert.ok(!seen.has(r.eventId), 'event ids of new events are unique');
        if (r.kind === 'valid') seen.set(r.eventId, hex);
      } else if (r.kind === 'duplicate') {
        // A retry: the bytes of an earlier on-time record, not far behind the clock.
        assert.equal(seen.get(r.eventId), hex);
        assert.ok(clockAt(i) - r.eventTime <= DUPLICATE_MAX_BEHIND_MS);
      }
    });

    const none = run(5000, { duplicateRate: 0, lateRate: 0, invalidRate: 0 });
    assert.ok(none.every((r) => r.kind === 'valid'));
  });

  test('after the switch, new records are version 2 (schema_version 2, the v2 id) and carry discount codes', () => {
    const recs = run(6000, {}, 3000);
    const before = recs.slice(0, 3000).filter((r) => r.kind === 'valid' || r.kind === 'late');
    const after_ = recs.slice(3000).filter((r) => r.kind === 'valid' || r.kind === 'late');
    assert.ok(before.every((r) => idOf(r.value) === 1 && r.schemaVersion === 1));
    assert.ok(after_.every((r) => idOf(r.value) === 2 && r.schemaVersion === 2));
    const v2 = after_.map((r) => decoders[2].fromBuffer(r.value.subarray(5)));
    assert.ok(v2.every((v) => v.schema_version === 2));
    const coded = v2.filter((v) => v.discount_code !== null);
    assert.ok(
      coded.length > 50 &&
        coded.every((v) => ['subscription_created', 'renewal', 'upgrade'].includes(v.event_type)),
    );
  });

  test('refuses shares out of range, shares adding up past 1, unknown invalid kinds', () => {
    const clock = new ManualClock(T0);
    const schema = { version: 1 as const, id: 1 };
    assert.throws(
      () => new SalesGenerator({ clock, schema, lateRate: 1.5 }),
      /CONFIG_INVALID|lateRate must be/,
    );
    assert.throws(
      () => new SalesGenerator({ clock, schema, lateRate: 0.5, duplicateRate: 0.3, invalidRate: 0.3 }),
      /add up to 1.1, more than 1/,
    );
    // @ts-expect-error: not a kind
    assert.throws(() => new SalesGenerator({ clock, schema, invalidKinds: ['nope'] }), /invalidKinds/);
    assert.throws(() => new SalesGenerator({ clock, schema: { version: 1, id: -1 } }), /schema id/);
  });
});

describe('generateSales into a topic', { timeout: 60_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-sales-gen-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('registers v1 then v2 under sales.events.v1-value, keys on murmur2 partitions, a second run continues', async () => {
    const registry = new MemoryRegistry();
    const schemas: Array<[number, number, string]> = [];
    const log = await openLog({ dataDir });
    try {
      const clock = new ManualClock(T0);
      const produced = await generateSales({
        log,
        registry,
        clock,
        count: 6000,
        switchAt: 2500,
        seed: 9,
        onSchema: (v, id, subject) => schemas.push([v, id, subject]),
      });
      assert.equal(produced, 6000);
      assert.deepEqual(schemas, [
        [1, 1, 'sales.events.v1-value'],
        [2, 2, 'sales.events.v1-value'],
      ]);
      assert.equal((await registry.latest('sales.events.v1-value'))?.version, 2);
      const info = await log.describeTopic(SALES_TOPIC);
      assert.equal(info.partitions, 3);

      /** Every record of the topic, with its event id when it decodes with its writer's schema. */
      const read = async () => {
        const all: Array<{ p: number; key: string; value: Buffer; eventId?: string; accountId?: string }> =
          [];
        for (let p = 0; p < 3; p++) {
          for (let offset = 0; ; ) {
            const f = await log.fetch(SALES_TOPIC, p, offset);
            for (const r of f.records) {
              const value = Buffer.from(r.value!);
              const id = value.length >= 5 && value[0] === 0 ? value.readUInt32BE(1) : 0;
              let decoded: { event_id: string; account_id: string } | undefined;
              if (id === 1 || id === 2) {
                try {
                  decoded = decoders[id].fromBuffer(value.subarray(5));
                } catch {}
              }
              all.push({
                p,
                key: Buffer.from(r.key!).toString(),
                value,
                eventId: decoded?.event_id,
                accountId: decoded?.account_id,
              });
            }
            if (f.records.length === 0 || f.nextOffset >= f.highWatermark) break;
            offset = f.nextOffset;
          }
        }
        return all;
      };
      const first = await read();
      assert.equal(first.length, 6000);
      const perPartition = [0, 1, 2].map((p) => first.filter((r) => r.p === p).length);
      assert.ok(
        perPartition.every((c) => c > 1000),
        `records per partition ${perPartition}`,
      );
      const versions = new Map<number, number>();
      for (const r of first) {
        assert.equal(r.p, partitionForKey(Buffer.from(r.key), 3), `key ${r.key} on its murmur2 partition`);
        if (r.accountId === undefined) continue;
        assert.equal(r.accountId, r.key, 'the key is the account_id');
        versions.set(idOf(r.value), (versions.get(idOf(r.value)) ?? 0) + 1);
      }
      assert.ok(
        (versions.get(1) ?? 0) > 2000 && (versions.get(2) ?? 0) > 3000,
        `by schema id: ${[...versions]}`,
      );

      // The oracle's input from the topic: all records, the schemas of the registered ids only.
      const raw = await readSalesTopic(log, SALES_TOPIC, registry);
      assert.equal(raw.records.length, 6000);
      assert.deepEqual([...raw.schemas.keys()], [1, 2]);
      const x = expectedSales(raw.records, raw.schemas, { delayMs: 120_000 });
      assert.ok(x.invalid.some((i) => i.reason === 'unknown-schema-id'));
      assert.equal(x.events.length + x.duplicates.length + x.invalid.length, 6000);

      // Again with the same seed: v2 (registered already: the same id) from the start, new event ids.
      const again = await generateSales({ log, registry, clock, count: 1000, seed: 9, schemaVersion: 2 });
      assert.equal(again, 1000);
      assert.equal(registry.byId.size, 2);
      const all = await read();
      assert.equal(all.length, 7000);
      const before = new Set(first.map((r) => r.eventId));
      const perPart = [0, 1, 2].map((p) => first.filter((r) => r.p === p).length);
      const added = [0, 1, 2].flatMap((p) => all.filter((r) => r.p === p).slice(perPart[p]));
      const addedIds = added.filter((r) => r.eventId !== undefined);
      assert.ok(addedIds.length > 900);
      assert.ok(addedIds.every((r) => idOf(r.value) === 2));
      // New events only: a re-sent record (a duplicate) repeats an id of its own run.
      const repeated = addedIds.filter((r) => before.has(r.eventId));
      assert.equal(repeated.length, 0, `event ids of the first run again: ${repeated.map((r) => r.eventId)}`);
    } finally {
      await log.close();
    }
  });
});
