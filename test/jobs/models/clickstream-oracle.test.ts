/**
 * The clickstream system end to end, batch layer included: generated user events (with
 * the generator's duplicates, late, out-of-order and malformed records) produced to the
 * embedded log across midnight, landed in bronze by the speed layer's pipeline
 * (pipelines/clickstream.yaml, with its PostgreSQL sinks), then the batch layer
 * (projects/clickstream) run for each day. Silver and the four gold tables must equal
 * what plain JavaScript computes from the topic's raw records — validity by the event
 * contract checked by hand (clickstream-oracle.ts), deduplication on event_id keeping
 * the first record by (partition, offset), days in UTC — and PostgreSQL's gold.* must
 * hold the gold tables' rows.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ClickstreamGenerator } from '../../../src/connectors/generators/clickstream.ts';
import { PostgresPool } from '../../../src/connectors/postgres/client.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { runModels } from '../../../src/jobs/models/run.ts';
import type { Log, ProduceRecord } from '../../../src/log/log.ts';
import { openLog } from '../../../src/log/open.ts';
import { builtinDefinitionSync } from '../../../src/pipeline/builtin.ts';
import { type FreshDatabase, freshDatabase, postgresMissing } from '../../connectors/postgres/server.ts';
import { runUntilCaughtUp } from '../../pipeline/run-definition.ts';
import { type ClickEvent, validClickEvent } from '../../scenarios/clickstream-oracle.ts';
import { type LogRecordRef, readTopic } from '../../scenarios/orders-oracle.ts';
import { tableRows, tempDir } from './helpers.ts';

const skip = postgresMissing();
const TOPIC = 'user-events';
/** 23:52 UTC: 12,000 records 50 ms apart cross midnight. */
const T0 = Date.UTC(2026, 10, 28, 23, 52, 0);
const RECORDS = 12_000;
const STEP_MS = 50;

interface Truth {
  silver: Map<string, { e: ClickEvent; partition: number; offset: number; day: string }>;
  dau: Map<string, number>;
  conversion: Map<string, { rate: number; purchases: number; dau: number }>;
  perSource: Map<string, number>;
  perPage: Map<string, number>;
}

/** The batch layer's truth, from the topic's records, in plain JavaScript. */
function truthOf(records: LogRecordRef[]): Truth {
  const ordered = [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const silver: Truth['silver'] = new Map();
  for (const r of ordered) {
    const e = validClickEvent(r.value.toString('utf8'));
    if (e === undefined || silver.has(e.event_id)) continue;
    silver.set(e.event_id, {
      e,
      partition: r.partition,
      offset: r.offset,
      day: new Date(e.t).toISOString().slice(0, 10),
    });
  }
  const users = new Map<string, Set<number>>();
  const buyers = new Map<string, Set<number>>();
  const purchases = new Map<string, number>();
  const perSource = new Map<string, number>();
  const perPage = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const { e, day } of silver.values()) {
    if (!users.has(day)) users.set(day, new Set());
    users.get(day)!.add(e.user_id);
    bump(perSource, `${day}|${e.source}`);
    if (e.event_type === 'purchase') {
      if (!buyers.has(day)) buyers.set(day, new Set());
      buyers.get(day)!.add(e.user_id);
      bump(purchases, day);
      bump(perPage, `${day}|${e.page}`);
    }
  }
  const dau = new Map([...users].map(([d, s]) => [d, s.size]));
  const conversion = new Map(
    [...users].map(([d, s]) => [
      d,
      { rate: (buyers.get(d)?.size ?? 0) / s.size, purchases: purchases.get(d) ?? 0, dau: s.size },
    ]),
  );
  return { silver, dau, conversion, perSource, perPage };
}

const sorted = <V>(m: Map<string, V>) => [...m].sort(([a], [b]) => (a < b ? -1 : 1));

describe('clickstream batch layer equals plain JavaScript over the raw topic', { skip }, () => {
  const tmp = tempDir('models-clickstream-oracle');
  let db: FreshDatabase;
  let pool: PostgresPool;
  let truth: Truth;
  let days: string[];
  const dataDir = join(tmp.dir, 'data');

  before(async () => {
    db = await freshDatabase('models_clickstream_oracle');
    pool = new PostgresPool(db.url, { max: 2 });
    const log: Log = await openLog({ dataDir });
    try {
      await log.ensureTopic(TOPIC, { partitions: 3 });
      const clock = new ManualClock(T0);
      const gen = new ClickstreamGenerator({
        seed: 11,
        clock,
        duplicateRate: 0.02,
        lateRate: 0.01,
        outOfOrderRate: 0.05,
        malformedRate: 0.01,
      });
      const batch: ProduceRecord[] = [];
      for (let i = 0; i < RECORDS; i++) {
        const r = gen.next();
        batch.push({
          topic: TOPIC,
          partition: i % 3,
          key: Buffer.from(r.key),
          value: Buffer.from(r.value),
          timestamp: clock.now(),
        });
        clock.advance(STEP_MS);
      }
      await log.produce(batch);
      // The realtime sinks write PostgreSQL too (RunContext.postgres).
      const ctx = { dataDir, log, postgres: pool };
      await runUntilCaughtUp(builtinDefinitionSync('clickstream'), ctx);
      truth = truthOf(await readTopic(log, TOPIC));
    } finally {
      await log.close();
    }
    days = [...truth.dau.keys()].sort();
    assert.deepEqual(days, ['2026-11-28', '2026-11-29'], 'the events cross midnight');
    for (const day of days) {
      const r = await runModels({
        project: 'clickstream',
        dataDir,
        postgres: pool,
        clock: new ManualClock(Date.UTC(2026, 10, 30)),
        partition: `event_date=${day}`,
      });
      assert.ok(r.ok, JSON.stringify(r.models.map((m) => [m.model, m.status, m.error])));
    }
  });

  after(async () => {
    await pool?.end();
    await db?.drop();
    tmp.cleanup();
  });

  test('silver: each valid event once, its first record, every column', async () => {
    const rows = await tableRows(dataDir, 'silver_user_events');
    assert.equal(rows.length, truth.silver.size);
    for (const r of rows) {
      const want = truth.silver.get(String(r.event_id));
      assert.ok(want, `silver event ${r.event_id} is a valid event of the topic`);
      assert.deepEqual(
        {
          user_id: Number(r.user_id),
          event_type: r.event_type,
          page: r.page,
          t: Date.parse(String(r.timestamp).replace(' ', 'T').replace(/\+00$/, 'Z')),
          source: r.source,
          partition: Number(r.source_partition),
          offset: Number(r.source_offset),
          day: r.event_date,
        },
        {
          user_id: want.e.user_id,
          event_type: want.e.event_type,
          page: want.e.page,
          t: want.e.t,
          source: want.e.source,
          partition: want.partition,
          offset: want.offset,
          day: want.day,
        },
      );
    }
  });

  test('gold: daily active users, conversion, events per source, purchases per page', async () => {
    const dau = await tableRows(dataDir, 'daily_active_users');
    assert.deepEqual(
      dau.map((r) => [r.event_date, Number(r.dau_count)]),
      sorted(truth.dau),
    );
    const conv = await tableRows(dataDir, 'conversion_rate_daily');
    assert.deepEqual(
      conv.map((r) => [
        r.event_date,
        { rate: r.conversion_rate, purchases: Number(r.total_purchases), dau: Number(r.dau_count) },
      ]),
      sorted(truth.conversion),
    );
    const src = await tableRows(dataDir, 'events_per_source_daily');
    assert.deepEqual(
      src.map((r) => [`${r.event_date}|${r.source}`, Number(r.event_count)]),
      sorted(truth.perSource),
    );
    const page = await tableRows(dataDir, 'purchases_per_page_daily');
    assert.deepEqual(
      page.map((r) => [`${r.event_date}|${r.page}`, Number(r.purchase_count)]),
      sorted(truth.perPage),
    );
  });

  test('PostgreSQL gold.* holds the gold tables', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // Dates as text: node-postgres would read a date as local midnight.
      const day = (d: unknown) => String(d);
      const q = async (sql: string) => (await client.query(sql)).rows;
      assert.deepEqual(
        (
          await q('SELECT event_date::text AS event_date, dau_count FROM gold.daily_active_users ORDER BY 1')
        ).map((r) => [day(r.event_date), Number(r.dau_count)]),
        sorted(truth.dau),
      );
      assert.deepEqual(
        (
          await q(
            'SELECT event_date::text AS event_date, conversion_rate, total_purchases, dau_count FROM gold.conversion_rate_daily ORDER BY 1',
          )
        ).map((r) => [
          day(r.event_date),
          { rate: r.conversion_rate, purchases: Number(r.total_purchases), dau: Number(r.dau_count) },
        ]),
        sorted(truth.conversion),
      );
      assert.deepEqual(
        (
          await q(
            'SELECT event_date::text AS event_date, source, event_count FROM gold.events_per_source_daily ORDER BY 1, 2',
          )
        ).map((r) => [`${day(r.event_date)}|${r.source}`, Number(r.event_count)]),
        sorted(truth.perSource),
      );
      assert.deepEqual(
        (
          await q(
            'SELECT event_date::text AS event_date, page, purchase_count FROM gold.purchases_per_page_daily ORDER BY 1, 2',
          )
        ).map((r) => [`${day(r.event_date)}|${r.page}`, Number(r.purchase_count)]),
        sorted(truth.perPage),
      );
      const stamps = await q('SELECT DISTINCT updated_at FROM gold.daily_active_users');
      assert.deepEqual(
        stamps.map((r) => (r.updated_at as Date).toISOString()),
        ['2026-11-30T00:00:00.000Z'],
        'updated_at is the run start',
      );
    } finally {
      await client.end();
    }
  });
});
