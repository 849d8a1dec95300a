/**
 * The contract type `timestamp` through the runtime's decode step, in a process whose
 * time zone (TZ) and DuckDB session time zone are Pacific/Chatham (+13:45 / +12:45):
 * every accepted value is the instant a plain-code judge computes (no offset: UTC),
 * every refused one names rule `timestamp` and quotes the value; the fast path's verdict
 * equals the precise path's and the judge's over a seeded corpus of near-timestamps.
 */
process.env.TZ = 'Pacific/Chatham';

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DuckDBConnection } from '@duckdb/node-api';
import { decodeBatch } from '../../src/connectors/json/decode.ts';
import { explainViolations } from '../../src/connectors/json/explain.ts';
import type { ValueBatch } from '../../src/log/log.ts';
import { compileContract, type DataContract } from '../../src/quality/contract.ts';
import { connect } from '../../src/table/duckdb.ts';
import { judgeTimestamp, microsText, timestampCorpus } from './timestamp-judge.ts';

function batch(values: string[]): ValueBatch {
  const parts: Buffer[] = [];
  const ends = new Uint32Array(values.length);
  let pos = 0;
  values.forEach((v, i) => {
    const b = Buffer.from(v);
    parts.push(b, Buffer.from('\n'));
    pos += b.length;
    ends[i] = pos;
    pos += 1;
  });
  return {
    topic: 'events',
    partition: 0,
    count: values.length,
    values: Buffer.concat(parts),
    offsets: Float64Array.from(values, (_, i) => i),
    timestamps: Float64Array.from(values, () => 0),
    ends,
    nextOffset: values.length,
    highWatermark: values.length,
  };
}

let conn: DuckDBConnection;
before(async () => {
  // Not openConnection (it sets UTC): a connection as the process's time zone makes it.
  conn = await connect();
  const tz = (await conn.runAndReadAll(`SELECT current_setting('TimeZone')`)).getRows()[0][0];
  assert.equal(tz, 'Pacific/Chatham', 'DuckDB runs in the time zone of TZ');
  assert.notEqual(new Date(0).getTimezoneOffset(), 0, 'so does the process');
});
after(() => conn.closeSync());

const one: DataContract = { name: 'events', fields: [{ name: 'timestamp', type: 'timestamp' }] };

describe('contract type timestamp', () => {
  test('accepted values are the instants of the text (no offset: UTC), microseconds kept; refused ones name the rule', async () => {
    const good = [
      '2026-11-30T04:35:28.123Z',
      '2026-11-30T04:35:28Z',
      '2026-11-30T04:35:28',
      '2026-11-30 04:35:28.5',
      '2026-11-30T04:35:28.123456+05:30',
      '2026-11-30T04:35:28.1234567-08:00',
      '2026-11-30T04:35:28+00:00',
      '2024-02-29T23:59:59.999999Z',
      '1969-12-31T23:59:59.9999999Z',
      '0000-01-01T00:00:00Z',
      '9999-12-31T23:59:59.999999-23:59',
    ];
    const bad: Array<[unknown, string, RegExp]> = [
      [
        'yesterday',
        'timestamp',
        /^'yesterday' is not a timestamp: expected YYYY-MM-DDTHH:MM:SS\[\.fraction\]\[Z\|±HH:MM\]/,
      ],
      ['2026-13-45T99:00:00Z', 'timestamp', /^'2026-13-45T99:00:00Z' is not a timestamp: expected/],
      [
        '2026-02-30T00:00:00Z',
        'timestamp',
        /^'2026-02-30T00:00:00Z' is not a timestamp: no such day in that month$/,
      ],
      ['2026-11-30T04:35:28Zjunk', 'timestamp', /^'2026-11-30T04:35:28Zjunk' is not a timestamp/],
      ['2026-11-30T04:35:28Z ', 'timestamp', /is not a timestamp/],
      ['', 'timestamp', /^'' is not a timestamp: expected/],
      ['2026-11-30', 'timestamp', /^'2026-11-30' is not a timestamp/],
      ['2026-1-5 1:2:3', 'timestamp', /is not a timestamp/],
      ['infinity', 'timestamp', /is not a timestamp/],
      ['2026-11-30T04:35:28+05', 'timestamp', /is not a timestamp/],
      ['2026-11-30T24:00:00Z', 'timestamp', /is not a timestamp/],
      [
        `2026-11-30T04:35:28.${'1'.repeat(80)}x`,
        'timestamp',
        /^'2026-11-30T04:35:28\.1{40}' is not a timestamp/,
      ],
      [1796013328, 'type', /^expected timestamp \(an RFC 3339 string\), got number/],
      [null, 'required', /missing or null/],
    ];
    const values = [
      ...good.map((t) => JSON.stringify({ timestamp: t })),
      ...bad.map(([t]) => JSON.stringify({ timestamp: t })),
      '{}',
    ];
    const decoded = await decodeBatch(conn, [batch(values)], compileContract(one));
    const rows = (
      await conn.runAndReadAll(
        `SELECT _o, epoch_us("timestamp")::VARCHAR AS us, typeof("timestamp") AS t FROM ${decoded.validTable} ORDER BY _o`,
      )
    ).getRowObjectsJson();
    assert.deepEqual(
      rows.map((r) => [good[Number(r._o)], r.us, r.t]),
      good.map((g) => [g, microsText(judgeTimestamp(g)), 'TIMESTAMP WITH TIME ZONE']),
    );
    assert.deepEqual(
      decoded.rejected.map((r) => r.offset),
      values.map((_, i) => i).slice(good.length),
    );
    decoded.rejected.slice(0, bad.length).forEach((r, i) => {
      assert.equal(r.field, 'timestamp');
      assert.equal(r.rule, bad[i][1], `rule for ${JSON.stringify(bad[i][0])}: ${r.message}`);
      assert.match(r.message, bad[i][2]);
    });
    assert.equal(decoded.rejected.at(-1)?.rule, 'required', 'an absent required timestamp');
    // A refused text has no value, not DuckDB's lenient reading of it (tagged rows keep it).
    const leniently = await conn.runAndReadAll(
      `SELECT count(*) FROM __stream_raw WHERE NOT _ok AND "timestamp" IS NOT NULL`,
    );
    assert.equal(Number(leniently.getRows()[0][0]), 0);
  });

  test('optional, bounded and nested timestamps: the fast path, the precise path and the judge agree', async () => {
    const contract: DataContract = {
      name: 'events',
      fields: [
        { name: 'ts', type: 'timestamp' },
        {
          name: 'opt',
          type: 'timestamp',
          required: false,
          min: '1970-01-01T00:00:00',
          max: '2100-01-01T00:00:00+01:00',
        },
        { name: 'items', type: 'array', required: false, items: [{ name: 'at', type: 'timestamp' }] },
      ],
    };
    const corpus = timestampCorpus(2026, 3 * 4000);
    let k = 0;
    const next = () => corpus[k++ % corpus.length];
    const MIN = judgeTimestamp('1970-01-01T00:00:00Z')!;
    const MAX = judgeTimestamp('2100-01-01T00:00:00+01:00')!;
    const records: Array<{ value: string; ok: boolean; ts?: bigint; opt?: bigint | null }> = [];
    for (let i = 0; i < 4000; i++) {
      const rec: Record<string, unknown> = { ts: next() };
      const mode = i % 3;
      if (mode === 1) rec.opt = null;
      if (mode === 2) rec.opt = next();
      if (i % 2 === 1) rec.items = Array.from({ length: 1 + (i % 3) }, () => ({ at: next() }));
      const ts = judgeTimestamp(rec.ts as string);
      const opt = typeof rec.opt === 'string' ? judgeTimestamp(rec.opt) : null;
      const optOk = opt === null || (opt !== undefined && opt >= MIN && opt <= MAX);
      const itemsOk = ((rec.items as Array<{ at: string }>) ?? []).every(
        (x) => judgeTimestamp(x.at) !== undefined,
      );
      records.push({ value: JSON.stringify(rec), ok: ts !== undefined && optOk && itemsOk, ts, opt });
    }
    const expectValid = records.flatMap((r, i) => (r.ok ? [i] : []));
    assert.ok(expectValid.length > 600 && expectValid.length < 3400, `a mix (${expectValid.length} valid)`);

    const compiled = compileContract(contract);
    const decoded = await decodeBatch(conn, [batch(records.map((r) => r.value))], compiled);
    const rows = (
      await conn.runAndReadAll(
        `SELECT _o, epoch_us(ts)::VARCHAR AS ts, epoch_us(opt)::VARCHAR AS opt, list_transform(items, x -> epoch_us(x.at)::VARCHAR) AS items FROM ${decoded.validTable} ORDER BY _o`,
      )
    ).getRowObjectsJson();
    assert.deepEqual(
      rows.map((r) => Number(r._o)),
      expectValid,
      'the fast path keeps exactly the records the judge calls valid',
    );
    for (const r of rows) {
      const want = records[Number(r._o)];
      const items = (JSON.parse(want.value).items as Array<{ at: string }> | undefined)?.map((x) =>
        microsText(judgeTimestamp(x.at)),
      );
      assert.deepEqual(
        [r.ts, r.opt, r.items],
        [microsText(want.ts), want.opt === null ? null : microsText(want.opt), items ?? null],
        `values of ${want.value}`,
      );
    }
    // The precise path over every record: a violation exactly for the invalid ones.
    const why = await explainViolations(
      conn,
      records.map((r, i) => ({ partition: 0, offset: i, value: Buffer.from(r.value) })),
      compiled,
    );
    const disagree = records.flatMap((r, i) => (r.ok === why.has(`0/${i}`) ? [r.value] : []));
    assert.deepEqual(
      disagree.slice(0, 5),
      [],
      'the precise path finds a violation exactly in the invalid records',
    );
    assert.deepEqual(
      decoded.rejected.filter((r) => r.rule === 'contract'),
      [],
      'every record the fast path rejected is explained by the precise path',
    );
    for (const r of decoded.rejected) {
      const bad = records[r.offset];
      if (bad.ts === undefined) assert.deepEqual([r.field, r.rule], ['ts', 'timestamp'], r.message);
    }
  });

  test('a definition error for bounds and rules that do not fit a timestamp', () => {
    const bad = (f: Record<string, unknown>) => () =>
      compileContract({
        name: 'c',
        fields: [{ name: 'at', type: 'timestamp', ...f }] as DataContract['fields'],
      });
    assert.throws(bad({ min: 1796013328 }), /'at' is a timestamp: its min must be a timestamp too/);
    assert.throws(
      bad({ max: '2026-02-30T00:00:00Z' }),
      /its max must be a timestamp too.*got "2026-02-30T00:00:00Z"/,
    );
    assert.throws(bad({ enum: ['2026-11-30T04:35:28Z'] }), /cannot have enum/);
    assert.throws(bad({ coerce: true }), /has coerce/);
    assert.throws(
      () =>
        compileContract({ name: 'c', fields: [{ name: 'n', type: 'number', min: '2026-01-01T00:00:00Z' }] }),
      /a bound of a number field is a number/,
    );
  });
});
