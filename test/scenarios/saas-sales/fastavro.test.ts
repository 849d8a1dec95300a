/**
 * The generator's records read by fastavro (Python), one process for the whole batch,
 * each with the schema its id names: every record that claims to be valid decodes to the
 * event the generator says and keeps every rule of the contract; every invalid record is
 * the kind it claims (a frame fastavro refuses, an id the registry lacks, a body it
 * cannot decode, or a decodable record breaking exactly the rule of its kind). The
 * oracle's own decoding (avsc) agrees with fastavro on every record. Schema resolution:
 * fastavro reads version-1 records with the v2 schema (discount_code null) and refuses
 * to read them with v3.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ManualClock } from '../../../src/core/clock.ts';
import {
  BILLING_PERIODS,
  CURRENCIES,
  centsText,
  EVENT_TYPES,
  PLAN_TIERS,
  REGIONS,
} from '../../../src/scenarios/saas-sales/domain.ts';
import { SalesGenerator, type SalesRecord } from '../../../src/scenarios/saas-sales/generator.ts';
import { type InvalidKind, isRuleKind } from '../../../src/scenarios/saas-sales/invalid.ts';
import { classify } from '../../../src/scenarios/saas-sales/oracle.ts';
import { salesSchemaText } from '../../../src/scenarios/saas-sales/schemas.ts';
import { ROOT } from '../../interop/helpers.ts';

const PYTHON = process.env.TRIBUTARY_TEST_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');
const SCRIPT = join(import.meta.dirname, 'fastavro_decode.py');

function skip(): string | undefined {
  if (existsSync(PYTHON)) return undefined;
  const why = `no Python with fastavro at ${PYTHON}; set TRIBUTARY_TEST_PYTHON or run 'npm test'`;
  if (process.env.CI) throw new Error(why);
  return why;
}

type Decoded =
  | { ok: true; id: number; value: Record<string, unknown>; rest: number }
  | { ok: false; stage: 'frame' | 'id' | 'decode'; error: string };

function fastavro(
  schemas: Map<number, string>,
  records: Buffer[],
  resolve: Array<{ record: number; reader: string }>,
): Promise<{
  records: Decoded[];
  resolve: Array<{ ok: boolean; value?: Record<string, unknown>; error?: string }>;
}> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(PYTHON, [SCRIPT], { maxBuffer: 512 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`fastavro_decode.py failed: ${err.message}\n${stderr}`));
      resolvePromise(JSON.parse(stdout));
    });
    child.stdin!.end(
      JSON.stringify({
        schemas: Object.fromEntries(schemas),
        records: records.map((r) => r.toString('base64')),
        resolve,
      }),
    );
  });
}

/** The contract's rules on a value fastavro decoded, by the invalid kind each breaks. */
const RULES: Record<string, (v: Record<string, unknown>) => boolean> = {
  'negative-seats': (v) => (v.seats as number) >= 0,
  'negative-amount': (v) => !(v.amount as string).startsWith('-'),
  'unknown-region': (v) => (REGIONS as readonly unknown[]).includes(v.region),
  'unknown-plan-tier': (v) => (PLAN_TIERS as readonly unknown[]).includes(v.plan_tier),
  'unknown-event-type': (v) => (EVENT_TYPES as readonly unknown[]).includes(v.event_type),
  'unknown-currency': (v) => (CURRENCIES as readonly unknown[]).includes(v.currency),
  'billing-period': (v) => (BILLING_PERIODS as readonly unknown[]).includes(v.billing_period),
};

describe('sales records read by fastavro', { skip: skip(), timeout: 120_000 }, () => {
  test('valid records decode to their events; invalid ones are the kind they claim; the oracle agrees', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 30, 9));
    const g = new SalesGenerator({
      seed: 11,
      clock,
      schema: { version: 1, id: 1 },
      invalidRate: 0.05,
      lateRate: 0.03,
      duplicateRate: 0.02,
    });
    const recs: SalesRecord[] = [];
    for (let i = 0; i < 8000; i++) {
      if (i === 4000) g.useSchema(2, 2);
      clock.advance(37);
      recs.push(g.next());
    }
    const schemas = new Map([
      [1, salesSchemaText(1)],
      [2, salesSchemaText(2)],
    ]);
    const v1Valid = recs.findIndex((r) => r.kind === 'valid' && r.schemaVersion === 1);
    const out = await fastavro(
      schemas,
      recs.map((r) => r.value),
      [
        { record: v1Valid, reader: salesSchemaText(2) },
        { record: v1Valid, reader: salesSchemaText(3) },
      ],
    );
    const oracle = classify(
      recs.map((r, i) => ({ partition: 0, offset: i, value: r.value })),
      schemas,
    );
    const oracleValid = new Map(oracle.valid.map((e) => [e.offset, e]));
    const oracleInvalid = new Map(oracle.invalid.map((e) => [e.offset, e]));

    const seen = new Map<InvalidKind | 'ok', number>();
    recs.forEach((r, i) => {
      const d = out.records[i];
      const where = `record ${i} (${r.kind}${r.invalid ? ` ${r.invalid}` : ''})`;
      if (r.kind !== 'invalid') {
        assert.ok(d.ok, `${where}: fastavro failed: ${!d.ok && d.error}`);
        assert.equal(d.rest, 0, `${where}: bytes after the record`);
        const v = d.value;
        assert.equal(d.id, r.schemaId);
        assert.equal(v.event_id, r.eventId);
        assert.equal(v.event_time, r.eventTime);
        assert.equal(v.account_id, r.key);
        assert.equal(v.schema_version, r.schemaVersion);
        assert.equal('discount_code' in v, r.schemaVersion === 2);
        for (const [rule, holds] of Object.entries(RULES)) assert.ok(holds(v), `${where}: breaks ${rule}`);
        // The oracle (avsc) decodes the same values.
        const e = oracleValid.get(i);
        assert.ok(e, `${where}: the oracle finds it invalid: ${oracleInvalid.get(i)?.message}`);
        assert.equal(centsText(e.amountCents), v.amount);
        assert.deepEqual(
          [e.eventTime, e.ingestTime, e.planTier, e.region, e.eventType, e.currency, e.seats, e.discountCode],
          [
            v.event_time,
            v.ingest_time,
            v.plan_tier,
            v.region,
            v.event_type,
            v.currency,
            v.seats,
            v.discount_code ?? null,
          ],
        );
        seen.set('ok', (seen.get('ok') ?? 0) + 1);
        return;
      }
      const kind = r.invalid!;
      seen.set(kind, (seen.get(kind) ?? 0) + 1);
      const o = oracleInvalid.get(i);
      assert.ok(o, `${where}: the oracle finds it valid`);
      if (isRuleKind(kind)) {
        assert.ok(d.ok && d.rest === 0, `${where}: a rule kind must decode`);
        const broken = Object.entries(RULES).filter(([, holds]) => !holds(d.value));
        assert.deepEqual(
          broken.map(([k]) => k),
          [kind],
          `${where}: breaks ${broken.map(([k]) => k)}`,
        );
        assert.equal(o.reason, 'rule');
        return;
      }
      assert.ok(!d.ok, `${where}: fastavro decoded it`);
      const expected = {
        'wrong-magic-byte': ['frame', 'magic-byte'],
        'too-short': ['frame', 'too-short'],
        'unknown-schema-id': ['id', 'unknown-schema-id'],
        truncated: ['decode', 'decode'],
      }[kind as string]!;
      assert.deepEqual([d.stage, o.reason], expected, `${where}: ${d.error} / ${o.message}`);
    });
    assert.equal(oracle.valid.length + oracle.invalid.length, recs.length);
    // Every kind occurred (400 invalid records over 10 kinds).
    assert.equal(seen.size, 11, `kinds seen: ${[...seen.keys()]}`);

    // Avro schema resolution by fastavro: v2 reads a v1 record, v3 cannot.
    const [asV2, asV3] = out.resolve;
    assert.ok(asV2.ok, String(asV2.error));
    assert.equal(asV2.value!.discount_code, null);
    assert.equal(asV2.value!.event_id, recs[v1Valid].eventId);
    assert.ok(!asV3.ok);
    assert.match(asV3.error!, /sales_channel/);
  });
});
