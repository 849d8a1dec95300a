/**
 * What the clickstream pipeline must have written, from the records themselves (plain
 * code, not the pipeline's SQL), and checks of what it did write: for the tests where
 * the database goes away, stalls or is given badly.
 *
 * Records are produced here with the generator, which labels each one (valid, duplicate,
 * malformed; no late ones: the tests keep its late rate 0, so every event counts in its
 * window). The truth:
 * - bronze: every record that is not malformed, once, by (partition, offset);
 * - realtime.*: events deduplicated by event_id (copies are identical), counted per UTC
 *   minute of `timestamp` — by event_type, logins by source, purchases;
 * - the DLQ: each malformed record once, with its original bytes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import { ClickstreamGenerator } from '../../../src/connectors/generators/clickstream.ts';
import type { Log } from '../../../src/log/log.ts';
import { CLICKSTREAM_PARTITIONS, CLICKSTREAM_TOPIC } from '../../../src/scenarios/clickstream/generate.ts';
import { decodeDeadLetter, originalBytes } from '../../../src/stream/dead-letter.ts';
import { deltaRsRead } from '../../interop/helpers.ts';
import { readTopic } from '../../scenarios/orders-oracle.ts';

/** Produces clickstream records into `user-events`, remembering each one's kind. */
export class TrackedProducer {
  readonly kinds = new Map<string, string>();
  produced = 0;
  private readonly gen: ClickstreamGenerator;
  private readonly log: Log;
  private readonly step: number;
  /** Event time: starts at a fixed instant and moves `stepMs` per record (many minutes in a few thousand records). */
  private t = Date.UTC(2026, 0, 15, 9, 0, 0);

  constructor(log: Log, seed: number, stepMs = 100) {
    this.log = log;
    this.gen = new ClickstreamGenerator({
      seed,
      clock: { now: () => this.t },
      lateRate: 0,
      // More copies and rejects than the defaults, so a few thousand records have some.
      duplicateRate: 0.02,
      malformedRate: 0.01,
    });
    this.step = stepMs;
  }

  async produce(n: number): Promise<void> {
    await this.log.ensureTopic(CLICKSTREAM_TOPIC, { partitions: CLICKSTREAM_PARTITIONS });
    const records = [];
    for (let i = 0; i < n; i++) {
      const r = this.gen.next();
      this.t += this.step;
      const known = this.kinds.get(r.value);
      if (known === undefined || known === 'duplicate') this.kinds.set(r.value, r.kind);
      records.push({ topic: CLICKSTREAM_TOPIC, key: Buffer.from(r.key), value: Buffer.from(r.value) });
    }
    await this.log.produce(records);
    this.produced += n;
  }
}

export interface Truth {
  bronze: string[];
  malformed: string[];
  /** `minute_ms|event_type` → count. */
  eventsPerMinute: Map<string, number>;
  /** `minute_ms|source` → count. */
  loginsPerSource: Map<string, number>;
  /** `minute_ms` → count. */
  purchasesPerMinute: Map<string, number>;
}

const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

/** The truth, from the topic's records and the producer's labels. */
export async function truthFrom(log: Log, kinds: Map<string, string>): Promise<Truth> {
  const records = await readTopic(log, CLICKSTREAM_TOPIC);
  const truth: Truth = {
    bronze: [],
    malformed: [],
    eventsPerMinute: new Map(),
    loginsPerSource: new Map(),
    purchasesPerMinute: new Map(),
  };
  const seen = new Set<string>();
  for (const r of records) {
    const text = r.value.toString('utf8');
    const kind = kinds.get(text);
    assert.ok(kind !== undefined, `a record of the topic the test did not produce: ${text}`);
    if (kind === 'malformed') {
      truth.malformed.push(text);
      continue;
    }
    truth.bronze.push(`${r.partition}/${r.offset}`);
    const e = JSON.parse(text) as { event_id: string; event_type: string; timestamp: string; source: string };
    if (seen.has(e.event_id)) continue;
    seen.add(e.event_id);
    const minute = String(Math.floor(Date.parse(e.timestamp) / 60_000) * 60_000);
    bump(truth.eventsPerMinute, `${minute}|${e.event_type}`);
    if (e.event_type === 'login') bump(truth.loginsPerSource, `${minute}|${e.source}`);
    if (e.event_type === 'purchase') bump(truth.purchasesPerMinute, minute);
  }
  truth.bronze.sort();
  truth.malformed.sort();
  return truth;
}

/** The realtime tables as maps like the truth's (every row once: a doubled key would show as a count mismatch or fail the primary key). */
export async function readRealtime(url: string): Promise<Omit<Truth, 'bronze' | 'malformed'>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const q = async (sql: string) => (await client.query<{ k: string; n: string }>(sql)).rows;
    const toMap = (rows: { k: string; n: string }[]) => {
      const m = new Map<string, number>();
      for (const r of rows) {
        assert.ok(!m.has(r.k), `two rows for ${r.k}`);
        m.set(r.k, Number(r.n));
      }
      return m;
    };
    const ms = `(extract(epoch FROM window_start) * 1000)::bigint`;
    return {
      eventsPerMinute: toMap(
        await q(`SELECT ${ms} || '|' || event_type AS k, event_count AS n FROM realtime.events_per_minute`),
      ),
      loginsPerSource: toMap(
        await q(`SELECT ${ms} || '|' || source AS k, login_count AS n FROM realtime.logins_per_source`),
      ),
      purchasesPerMinute: toMap(
        await q(`SELECT ${ms}::text AS k, purchase_count AS n FROM realtime.purchases_per_minute`),
      ),
    };
  } finally {
    await client.end();
  }
}

const sorted = (m: Map<string, number>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));

/**
 * Asserts the pipeline's outputs equal the truth: the realtime tables in PostgreSQL
 * (`url`), the bronze Delta table (read by delta-rs) and the DLQ.
 */
export async function assertOutputs(opts: {
  log: Log;
  kinds: Map<string, string>;
  url: string;
  dataDir: string;
}): Promise<Truth> {
  const truth = await truthFrom(opts.log, opts.kinds);
  const realtime = await readRealtime(opts.url);
  const dlq = await readTopic(opts.log, `${CLICKSTREAM_TOPIC}.dlq`);
  const letters = dlq.map((r) => decodeDeadLetter(r.value));
  // On a difference, first say where: the keys that differ, and the DLQ's records that are
  // not malformed ones (late, or refused for another reason), which the counts then miss.
  const differing = (name: string, got: Map<string, number>, want: Map<string, number>) =>
    [...new Set([...got.keys(), ...want.keys()])]
      .filter((k) => got.get(k) !== want.get(k))
      .slice(0, 10)
      .map((k) => `${name} ${k}: ${got.get(k)} written, ${want.get(k)} in the records`);
  const diffs = [
    ...differing('events_per_minute', realtime.eventsPerMinute, truth.eventsPerMinute),
    ...differing('logins_per_source', realtime.loginsPerSource, truth.loginsPerSource),
    ...differing('purchases_per_minute', realtime.purchasesPerMinute, truth.purchasesPerMinute),
  ];
  const malformed = new Set(truth.malformed);
  const others = letters
    .filter((d) => !malformed.has(Buffer.from(originalBytes(d) ?? []).toString('utf8')))
    .slice(0, 10)
    .map((d) => {
      const text = Buffer.from(originalBytes(d) ?? []).toString('utf8');
      return `${d.source_partition}/${d.source_offset} (${opts.kinds.get(text) ?? 'not produced'}) ${d.rule}: ${d.reason}`;
    });
  if (diffs.length > 0 || others.length > 0) {
    assert.fail(
      `the realtime tables or the DLQ differ from the records:\n${diffs.join('\n') || '(realtime tables equal)'}\n` +
        `DLQ records that are not malformed ones (${others.length}${others.length === 10 ? '+' : ''}):\n${others.join('\n') || '(none)'}`,
    );
  }
  assert.deepEqual(sorted(realtime.eventsPerMinute), sorted(truth.eventsPerMinute), 'events_per_minute');
  assert.deepEqual(sorted(realtime.loginsPerSource), sorted(truth.loginsPerSource), 'logins_per_source');
  assert.deepEqual(
    sorted(realtime.purchasesPerMinute),
    sorted(truth.purchasesPerMinute),
    'purchases_per_minute',
  );
  const bronze = await deltaRsRead(join(opts.dataDir, 'tables', 'bronze_user_events'));
  const positions = bronze.rows.map((r) => `${r.source_partition}/${r.source_offset}`).sort();
  assert.equal(positions.length, truth.bronze.length, 'bronze: one row per valid record');
  assert.deepEqual(positions, truth.bronze, 'bronze: each valid record once');
  const bytes = letters
    .map((d) => originalBytes(d))
    .map((b) => Buffer.from(b ?? []).toString('utf8'))
    .sort();
  assert.deepEqual(bytes, truth.malformed, 'the DLQ: each malformed record once, with its bytes');
  return truth;
}

/** Per partition of `user-events`, the offset after the last record. */
export async function latestOffsets(log: Log): Promise<number[]> {
  const out: number[] = [];
  for (let p = 0; p < CLICKSTREAM_PARTITIONS; p++) out.push((await log.offsets(CLICKSTREAM_TOPIC, p)).latest);
  return out;
}
