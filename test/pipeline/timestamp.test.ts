/**
 * A clickstream pipeline (seed 002's event schema) whose contract types the ISO-8601
 * field `timestamp` as a `timestamp` — a column named after a SQL keyword, used as the
 * event time (`"timestamp"`), as a window's time column and in a partition expression.
 * The process runs in another time zone (TZ) than UTC. Checked against plain code over
 * the raw input: the 1-minute tumbling windows' counts, the bronze rows' instants (read
 * by us and by delta-rs, a Delta `timestamp` column both declared and inferred), and
 * each malformed timestamp in the DLQ once with rule `timestamp` and its bytes.
 */
process.env.TZ = 'America/Los_Angeles';

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { checkDefinition } from '../../src/pipeline/compile.ts';
import { definePipeline } from '../../src/pipeline/definition.ts';
import { explainPlan } from '../../src/pipeline/explain.ts';
import { fromObject, fromYaml } from '../../src/pipeline/load.ts';
import { decodeDeadLetter, originalBytes } from '../../src/stream/dead-letter.ts';
import { readRows } from '../../src/table/index.ts';
import { deltaRsRead, pythonSkip } from '../interop/helpers.ts';
import { readTopic } from '../scenarios/orders-oracle.ts';
import { withLog } from '../stream/with-log.ts';
import { runUntilCaughtUp } from './run-definition.ts';

const DEFINITION = `
name: user_events
source: { topic: user-events, partitions: 3 }
contract:
  name: user-events.v1
  fields:
    - { name: event_id, type: string }
    - { name: user_id, type: string }
    - { name: event_type, type: string, enum: [click, login, logout, purchase] }
    - { name: page, type: string }
    - { name: timestamp, type: timestamp, min: 2020-01-01T00:00:00Z }
    - { name: source, type: string, enum: [web, mobile] }
event_time: { expr: '"timestamp"', watermark: 2 minutes }
transforms:
  - name: events_per_minute
    window: { type: tumble, size: 1 minute }
    group_by: [event_type]
    aggregates: { event_count: count(*) }
  - name: logins
    sql: SELECT * FROM input WHERE event_type = 'login'
  - name: logins_per_source
    from: logins
    window: { type: tumble, size: 1 minute, time: timestamp }
    group_by: [source]
    aggregates: { login_count: count(*) }
sinks:
  - { name: bronze, type: delta_append, from: input, table: bronze }
  - { name: logins_raw, type: delta_append, from: logins, table: logins_raw }
  - { name: events_per_minute, type: delta_append, from: events_per_minute, table: events_per_minute }
  - { name: logins_per_source, type: delta_append, from: logins_per_source, table: logins_per_source }
tables:
  - name: bronze
    columns:
      - { name: event_id, type: string, nullable: false }
      - { name: user_id, type: string }
      - { name: event_type, type: string }
      - { name: page, type: string }
      - { name: timestamp, type: timestamp, nullable: false }
      - { name: source, type: string }
      - { name: event_date, type: string }
    partition_by: [{ event_date: date(timestamp) }]
runtime: { trigger: 10ms, max_records_per_batch: 700 }
`;

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 30, 4, 0, 0);
const TYPES = ['click', 'click', 'click', 'login', 'logout', 'purchase'];
const PAGES = ['/home', '/products', '/cart', '/checkout'];

/** A malformed timestamp per kind the issue names, and what DuckDB's lenient cast would take. */
const MALFORMED = [
  'yesterday',
  '2026-13-45T99:00:00Z',
  '2026-02-30T00:00:00Z',
  '2026-11-30T04:35:28.123Zjunk',
  '',
  '2026-11-30',
  '2026-11-30 4:35:28',
  '2026-11-30T04:35:28Z ',
  'infinity',
];

interface Event {
  event_id: string;
  user_id: string;
  event_type: string;
  page: string;
  /** The instant, µs since the epoch: the truth, from which the text is written. */
  us: number;
  source: string;
}

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');

/** The instant `us` as text in one of the forms producers write; each form means the same instant. */
function format(us: number, form: number): string {
  const ms = Math.floor(us / 1000);
  const micros = pad(us % 1_000_000, 6);
  const at = (offsetMinutes: number) => new Date(ms + offsetMinutes * MIN).toISOString();
  switch (form) {
    case 0:
      return at(0); // the seed's form: 2026-11-30T04:35:28.123Z
    case 1:
      return `${at(330).slice(0, 19)}.${micros}+05:30`; // the wall clock at +05:30
    case 2:
      return `${at(-480).slice(0, 23)}-08:00`;
    case 3:
      return `${at(0).slice(0, 10)} ${at(0).slice(11, 19)}.${micros}`; // no offset: UTC
    default:
      return `${at(0).slice(0, 19)}Z`;
  }
}

function makeInput(n: number) {
  let s = 2026;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const valid: Event[] = [];
  const values: string[] = [];
  const malformed = new Set<string>();
  for (let i = 0; i < n; i++) {
    const e: Event = {
      event_id: `e-${i}`,
      user_id: `user_${Math.floor(rnd() * 110)}`,
      event_type: TYPES[Math.floor(rnd() * TYPES.length)],
      page: PAGES[Math.floor(rnd() * PAGES.length)],
      // Every ~250 ms, disorder under 90 s (inside the 2-minute watermark delay).
      us: (T0 + i * 250 + Math.floor(rnd() * 90_000)) * 1000 + Math.floor(rnd() * 1000),
      source: rnd() < 0.6 ? 'web' : 'mobile',
    };
    const { us, ...fields } = e;
    if (i % 97 === 50) {
      const text = JSON.stringify({ ...fields, timestamp: MALFORMED[malformed.size % MALFORMED.length] });
      malformed.add(text);
      values.push(text);
      continue;
    }
    const form = i % 5;
    // Forms without microseconds drop them from the truth too.
    const truth =
      form === 0 || form === 2 ? Math.floor(us / 1000) * 1000 : form === 4 ? Math.floor(us / 1e6) * 1e6 : us;
    valid.push({ ...e, us: truth });
    values.push(JSON.stringify({ ...fields, timestamp: format(truth, form) }));
  }
  return { valid, values, malformed };
}

/** Closed 1-minute windows (end ≤ max time − 2 minutes), as `start|group|count` lines. */
function tumbling(events: readonly Event[], group: (e: Event) => string): string[] {
  const counts = new Map<string, number>();
  for (const e of events) {
    const k = `${new Date(Math.floor(e.us / 1000 / MIN) * MIN).toISOString()}|${group(e)}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const watermark = Math.max(...events.map((e) => e.us / 1000)) - 2 * MIN;
  return [...counts]
    .filter(([k]) => Date.parse(k.split('|')[0]) + MIN <= watermark)
    .map(([k, v]) => `${k}|${v}`)
    .sort();
}

const isoUs = (us: number) =>
  `${new Date(Math.floor(us / 1000)).toISOString().slice(0, 19)}.${pad(us % 1_000_000, 6)}Z`;
/** DuckDB's TIMESTAMPTZ text (`2026-11-30 04:35:28.123+00`) → µs. */
const textUs = (v: unknown) => {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))?\+00$/.exec(String(v));
  assert.ok(m, `a UTC timestamp text: ${String(v)}`);
  return Date.parse(`${m[1]}T${m[2]}Z`) * 1000 + Number((m[3] ?? '').padEnd(6, '0'));
};

describe('a contract field of type timestamp, named timestamp', () => {
  it('validate and explain show it as a TIMESTAMP WITH TIME ZONE column (YAML and TypeScript)', async () => {
    const loaded = fromYaml(DEFINITION, 'user-events.yaml');
    const { plan, checked } = await checkDefinition(loaded);
    const input = checked.relations.get('input')!;
    assert.equal(String(input.types[input.names.indexOf('timestamp')]), 'TIMESTAMP WITH TIME ZONE');
    assert.equal(
      plan.contract?.fields[4].min,
      '2020-01-01T00:00:00Z',
      'an unquoted YAML timestamp stays text',
    );
    assert.match(explainPlan(plan, checked), /^input {4}.*\btimestamp TIMESTAMP WITH TIME ZONE\b/m);

    // The TypeScript front end: the same type and bounds, typed.
    const ts = definePipeline({
      name: 'typed',
      source: { topic: 'user-events' },
      contract: {
        name: 'user-events.v1',
        fields: [{ name: 'timestamp', type: 'timestamp', min: '2020-01-01T00:00:00Z' }],
      },
      event_time: { expr: 'timestamp' },
      sinks: [{ name: 'raw', type: 'delta_append', from: 'input', table: 'raw' }],
    });
    const typed = await checkDefinition(fromObject(ts));
    const cols = typed.checked.sinkColumns.get('raw')!;
    assert.equal(String(cols.types[cols.names.indexOf('timestamp')]), 'TIMESTAMP WITH TIME ZONE');
  });

  it('refuses bounds and rules that do not fit a timestamp, at their line', async () => {
    const refused = async (text: string) => {
      try {
        await checkDefinition(fromYaml(text, 'p.yaml'));
      } catch (err) {
        assert.ok(isTributaryError(err) && err.code === 'PIPELINE_INVALID', String(err));
        return err.message;
      }
      assert.fail('the definition was accepted');
    };
    const bound = 'min: 2020-01-01T00:00:00Z';
    assert.match(
      await refused(DEFINITION.replace(bound, 'min: 1577836800')),
      /p\.yaml:11:\d+: contract\.fields\[4\]\.min: field 'timestamp' is a timestamp: its min must be a timestamp too/,
    );
    assert.match(
      await refused(DEFINITION.replace(bound, 'max: 2020-02-30T00:00:00Z')),
      /p\.yaml:11:\d+: contract\.fields\[4\]\.max: .*got "2020-02-30T00:00:00Z"/,
    );
    assert.match(
      await refused(DEFINITION.replace(bound, 'coerce: true')),
      /contract\.fields\[4\]\.coerce: field 'timestamp' has coerce/,
    );
    assert.match(
      await refused(DEFINITION.replace(bound, 'min: [1]')),
      /contract\.fields\[4\]\.min: expected a number, got a list/,
    );
  });

  it('windows on it equal a plain computation; malformed timestamps go to the DLQ; Delta timestamps in UTC', async () => {
    await withLog('timestamp', async (log, dir) => {
      const dataDir = join(dir, 'data');
      const { valid, values, malformed } = makeInput(4000);
      await log.ensureTopic('user-events', { partitions: 3 });
      await log.produce(
        values.map((v, i) => ({
          topic: 'user-events',
          partition: i % 3,
          value: new TextEncoder().encode(v),
        })),
      );
      const c = await runUntilCaughtUp(fromYaml(DEFINITION, 'user-events.yaml'), { dataDir, log });

      const lines = async (table: string, group: string, count: string) => {
        const t = c.tables.get(table)!;
        return (await readRows(t, await t.snapshot()))
          .map((r) => `${new Date(String(r.window_start)).toISOString()}|${r[group]}|${r[count]}`)
          .sort();
      };
      const perMinute = tumbling(valid, (e) => e.event_type);
      assert.ok(perMinute.length > 40, `${perMinute.length} closed windows`);
      assert.deepEqual(await lines('events_per_minute', 'event_type', 'event_count'), perMinute);
      const logins = valid.filter((e) => e.event_type === 'login');
      assert.deepEqual(
        await lines('logins_per_source', 'source', 'login_count'),
        tumbling(logins, (e) => e.source),
      );

      // Bronze: every valid event once, at its instant, in the partition of its UTC day.
      const bronze = c.tables.get('bronze')!;
      const snap = await bronze.snapshot();
      assert.deepEqual(
        snap.schema.fields.map((f) => `${f.name}:${JSON.stringify(f.type)}`),
        ['event_id', 'user_id', 'event_type', 'page', 'timestamp', 'source', 'event_date'].map(
          (n) => `${n}:"${n === 'timestamp' ? 'timestamp' : 'string'}"`,
        ),
      );
      const want = valid.map((e) => `${e.event_id}|${e.us}|${isoUs(e.us).slice(0, 10)}`).sort();
      const rows = await readRows(bronze, snap);
      assert.deepEqual(rows.map((r) => `${r.event_id}|${textUs(r.timestamp)}|${r.event_date}`).sort(), want);
      const rawSchema = (await c.tables.get('logins_raw')!.snapshot()).schema.fields;
      assert.equal(
        rawSchema.find((f) => f.name === 'timestamp')?.type,
        'timestamp',
        'an inferred column of the type is a Delta timestamp',
      );

      // Each malformed timestamp in the DLQ once, with rule timestamp and its bytes.
      const dlq = (await readTopic(log, 'user-events.dlq')).map((r) => decodeDeadLetter(r.value));
      assert.deepEqual(
        dlq.map((d) => new TextDecoder().decode(originalBytes(d)!)).sort(),
        [...malformed].sort(),
      );
      for (const d of dlq) {
        assert.equal(d.field, 'timestamp');
        assert.equal(d.rule, 'timestamp', d.reason);
        assert.match(d.reason, /^timestamp: '.*' is not a timestamp: /);
      }

      if (!pythonSkip()) {
        const rs = await deltaRsRead(join(dataDir, 'tables', 'bronze'));
        assert.equal(rs.schema.fields.find((f) => f.name === 'timestamp')?.type, 'timestamp');
        assert.deepEqual(
          rs.rows.map((r) => `${r.event_id}|${r.timestamp}`).sort(),
          valid.map((e) => `${e.event_id}|${isoUs(e.us)}`).sort(),
          'delta-rs reads the same UTC instants',
        );
      }
    });
  });
});
