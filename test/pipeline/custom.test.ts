/**
 * A user's own pipeline, written only as a definition: a filter and projection in SQL, a
 * table with columns inferred from the rows and partitioned by an expression (the day of
 * the event time), and a MERGE keeping each user's latest page that deletes users whose
 * latest page is a logout. Two runs with more input in between; the tables are checked
 * row for row against a recomputation in plain code from the raw input, the DLQ against
 * the invalid records, and delta-rs reads the same rows.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Log } from '../../src/log/log.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import { readRows } from '../../src/table/index.ts';
import { deltaRsRead, pythonSkip } from '../interop/helpers.ts';
import { withLog } from '../stream/with-log.ts';
import { runUntilCaughtUp } from './run-definition.ts';

const DEFINITION = `
name: clicks
source: { topic: clicks, partitions: 3 }
contract:
  name: clicks.v1
  fields:
    - { name: user_id, type: string, pattern: 'u[0-9]+' }
    - { name: page, type: string }
    - { name: ts, type: integer, min: 0 }
    - { name: amount, type: number, required: false, decimals: 2 }
event_time: { expr: epoch_ms(ts) }
transforms:
  - name: clicks
    sql: |
      SELECT user_id, page, epoch_ms(ts) AS seen_at, amount::DECIMAL(10,2) AS amount
      FROM input WHERE page <> 'health'
  - name: latest
    sql: SELECT user_id, arg_max(page, seen_at) AS page, max(seen_at) AS seen_at FROM clicks GROUP BY user_id
sinks:
  - { name: clicks, type: delta_append, from: clicks, table: clicks }
  - { name: clicks_out, type: topic, from: clicks, topic: clicks_clean, key: user_id }
  - name: last_page
    type: delta_merge
    from: latest
    table: last_page
    key: [user_id]
    newest_by: [seen_at]
    delete_when: source.page = 'logout' AND source.seen_at >= target.seen_at
    insert_when: source.page <> 'logout'
tables:
  - name: clicks
    not_null: [user_id]
    partition_by: [{ day: date(seen_at) }]
runtime: { trigger: 10ms, max_records_per_batch: 700 }
`;

interface Click {
  user_id: string;
  page: string;
  ts: number;
  amount?: number;
}

const PAGES = ['home', 'search', 'cart', 'health', 'logout', 'checkout'];

/** Seeded input: valid clicks (unique ts per user, spread over 3 days) and some invalid records. */
function makeInput(seed: number, n: number, tsBase: number) {
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const valid: Click[] = [];
  const values: string[] = [];
  let invalid = 0;
  for (let i = 0; i < n; i++) {
    if (rnd() < 0.05) {
      values.push(
        rnd() < 0.5
          ? `{"user_id": "x${i}", "page": "home", "ts": 1}`
          : `{"user_id": "u1", "page": 7, "ts": 2}`,
      );
      invalid++;
      continue;
    }
    const c: Click = {
      user_id: `u${Math.floor(rnd() * 40)}`,
      page: PAGES[Math.floor(rnd() * PAGES.length)],
      ts: tsBase + i * 97_000 + Math.floor(rnd() * 1000),
      ...(rnd() < 0.5 ? { amount: Math.round(rnd() * 10_000) / 100 } : {}),
    };
    valid.push(c);
    values.push(JSON.stringify(c));
  }
  return { valid, values, invalid };
}

async function produce(log: Log, values: string[]) {
  await log.produce(
    values.map((v, i) => ({ topic: 'clicks', partition: i % 3, value: new TextEncoder().encode(v) })),
  );
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('a pipeline defined only in YAML', () => {
  it('lands filtered, partitioned rows and a per-user MERGE with deletes, exactly as recomputed', async () => {
    await withLog('custom', async (log, dir) => {
      const dataDir = join(dir, 'data');
      const first = makeInput(7, 2000, Date.UTC(2026, 10, 27));
      const second = makeInput(8, 1500, Date.UTC(2026, 10, 27) + 2000 * 97_000);
      const runOnce = () => runUntilCaughtUp(fromYaml(DEFINITION, 'clicks.yaml'), { dataDir, log });
      await log.ensureTopic('clicks', { partitions: 3 });
      await produce(log, first.values);
      await runOnce();
      await produce(log, second.values);
      const c = await runOnce();

      const all = [...first.valid, ...second.valid];
      // orders_events-like table: every click but health, with its day partition.
      const expected = all
        .filter((x) => x.page !== 'health')
        .map((x) => ({
          user_id: x.user_id,
          page: x.page,
          at: iso(x.ts),
          amount: x.amount === undefined ? null : x.amount.toFixed(2),
          day: iso(x.ts).slice(0, 10),
        }))
        .sort((a, b) => a.at.localeCompare(b.at));
      const clicks = c.tables.get('clicks')!;
      const snap = await clicks.snapshot();
      assert.deepEqual(snap.metadata.partitionColumns, ['day']);
      const schema = snap.schema.fields.map((f) => `${f.name}:${JSON.stringify(f.type)}:${f.nullable}`);
      assert.deepEqual(schema, [
        'user_id:"string":false',
        'page:"string":true',
        'seen_at:"timestamp":true',
        'amount:"decimal(10,2)":true',
        'day:"string":true',
      ]);
      const rows = (await readRows(clicks, snap, { orderBy: 'seen_at' })).map((r) => ({
        user_id: r.user_id,
        page: r.page,
        at: new Date(String(r.seen_at)).toISOString(),
        amount: r.amount === null ? null : Number(r.amount).toFixed(2),
        day: r.day,
      }));
      assert.equal(rows.length, expected.length);
      assert.deepEqual(rows, expected);

      // Each user's latest non-health page; users whose latest is a logout are deleted.
      const latest = new Map<string, Click>();
      for (const x of all) {
        if (x.page === 'health') continue;
        const cur = latest.get(x.user_id);
        if (!cur || x.ts > cur.ts) latest.set(x.user_id, x);
      }
      const expectedLast = [...latest.values()]
        .filter((x) => x.page !== 'logout')
        .map((x) => ({ user_id: x.user_id, page: x.page, at: iso(x.ts) }))
        .sort((a, b) => a.user_id.localeCompare(b.user_id));
      const last = c.tables.get('last_page')!;
      const lastRows = (await readRows(last, await last.snapshot(), { orderBy: 'user_id' })).map((r) => ({
        user_id: r.user_id,
        page: r.page,
        at: new Date(String(r.seen_at)).toISOString(),
      }));
      assert.ok(expectedLast.length > 10 && expectedLast.length < latest.size, 'some users were deleted');
      assert.deepEqual(lastRows, expectedLast);

      // The topic sink: every click but health once, as JSON, keyed (and partitioned) by user.
      const out: string[] = [];
      for (let q = 0; q < 3; q++) {
        const r = await log.fetch('clicks_clean', q, 0, { maxRecords: 10_000 });
        for (const rec of r.records) {
          const o = JSON.parse(new TextDecoder().decode(rec.value!));
          assert.equal(new TextDecoder().decode(rec.key!), o.user_id);
          out.push(`${o.user_id}|${o.page}|${new Date(`${o.seen_at}Z`).toISOString()}`);
        }
      }
      assert.deepEqual(
        out.sort(),
        expected.map((e) => `${e.user_id}|${e.page}|${e.at}`).sort(),
        'the topic holds every row once',
      );

      // Rejected records: in the DLQ once each.
      let dlq = 0;
      for (let p = 0; p < 3; p++) dlq += (await log.offsets('clicks.dlq', p)).latest;
      assert.equal(dlq, first.invalid + second.invalid);

      if (!pythonSkip()) {
        const byRs = await deltaRsRead(join(dataDir, 'tables', 'clicks'));
        assert.equal(byRs.rows.length, expected.length, 'delta-rs reads every click');
        assert.equal(byRs.version, snap.version);
        const rsLast = await deltaRsRead(join(dataDir, 'tables', 'last_page'));
        assert.deepEqual(rsLast.rows.map((r) => r.user_id).sort(), expectedLast.map((r) => r.user_id).sort());
      }
    });
  });
});
