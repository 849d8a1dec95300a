/**
 * Exactly once into PostgreSQL: the clickstream speed layer (pipelines/clickstream.yaml)
 * runs as `tributary run` child processes against a real PostgreSQL server and is killed
 * with SIGKILL again and again while this process keeps producing user events:
 * - at the named crash points on the path of a batch, twice or more each, at different n:
 *   the windows' state saved (`window.state-saved`), the batch plan written
 *   (`plan.written`), the rejects in the DLQ (`dlq.produced`), bronze's files written
 *   and committed (`sink.append.*`), a PostgreSQL sink's rows written in its open
 *   transaction and committed (`sink.postgres.*`);
 * - at random moments (start-up included).
 * Sinks on the batch connection commit one after the other in definition order, and the
 * built-in definition has bronze first: a kill at `sink.append.committed` leaves Delta
 * committed and PostgreSQL not. For the other way round, some runs use a copy of the
 * definition with the PostgreSQL sinks first (the same pipeline, sinks and progress); a
 * kill at `sink.postgres.committed` there leaves PostgreSQL committed and Delta not. The
 * test reads both progresses after those kills to see each state was reached.
 *
 * Then a last run drains the topic, and everything is compared with the truth recomputed
 * from the topic's records in plain JavaScript (clickstream-oracle.ts): every row of
 * realtime.* (keys and counts), bronze (every valid record once, every column; delta-rs
 * reads the same), the DLQ (every malformed record once with its bytes, every late one
 * once), the progress in PostgreSQL and in bronze at the topic's end.
 *
 * Event time comes from a ManualClock advanced 50 ms per record, and each record's log
 * timestamp is that clock: the generator's late records (3-10 minutes behind it) are
 * late, and the rest (at most 60 s behind) on time, under every batching of at most 500
 * records (a batch spans 25 s of event time); the first records hold no late ones, so
 * the first batch (no watermark yet) has none. Records go round-robin to the 3
 * partitions, so each partition's offsets advance at the same pace in event time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import { type ClickRecordKind, ClickstreamGenerator } from '../../src/connectors/generators/clickstream.ts';
import { Rng } from '../../src/connectors/generators/rng.ts';
import { ManualClock } from '../../src/core/clock.ts';
import type { CrashPointName } from '../../src/core/crash-points.ts';
import type { Log, ProduceRecord } from '../../src/log/log.ts';
import { openLog } from '../../src/log/open.ts';
import { builtinDefinitionSync, builtinPath } from '../../src/pipeline/builtin.ts';
import { openTables, tablesDir } from '../../src/pipeline/compile.ts';
import { plan } from '../../src/pipeline/plan.ts';
import { SCRATCH_DIR } from '../../src/stream/scratch.ts';
import type { DeltaTable } from '../../src/table/table.ts';
import { freshDatabase, postgresMissing } from '../connectors/postgres/server.ts';
import { killedRun, readTrace, startCli } from '../helpers/cli-child.ts';
import { pythonSkip } from '../interop/helpers.ts';
import { assertBronze, assertDlq, assertRealtime, clickTruth } from './clickstream-oracle.ts';
import { readTopic } from './orders-oracle.ts';

const TOPIC = 'user-events';
const PARTITIONS = 3;
/** Event time: 23:45 UTC, so the run crosses midnight (two bronze partitions) after ~18,000 records. */
const T0 = Date.UTC(2026, 2, 14, 23, 45, 0);
const STEP_MS = 50;
/** Records per second produced while the kills go on. */
const RATE = 500;
/** Records produced before the first run, none of them late. */
const WARMUP = 1500;
const RANDOM_KILLS = 6;
/** A run armed at a point it does not reach in this time is stopped and tried again with n = 1. */
const ARMED_TIMEOUT_MS = 30_000;
const PG_SINKS = ['events_per_minute', 'logins_per_source', 'purchases_per_minute'];

/** Which definition a run uses: the built-in one (bronze first) or the copy with the PostgreSQL sinks first. */
type Order = 'bronze-first' | 'pg-first';
type Armed = { point: CrashPointName; n: number; order: Order };
type Kill = Armed | { delayMs: number; order: Order };

/**
 * The kills at named points. `sink.postgres.committed` in pg-first order at n ≥ 4 falls
 * in a run's second batch or later, after one PostgreSQL sink committed it and before
 * bronze did; `sink.append.committed` in bronze-first order at n ≥ 2 likewise leaves
 * bronze a batch ahead of PostgreSQL (in a run's first batch, a sink already ahead from
 * the run before may skip the batch).
 */
const NAMED: Armed[] = [
  { point: 'sink.postgres.written', n: 1, order: 'bronze-first' },
  { point: 'sink.postgres.written', n: 4, order: 'pg-first' },
  { point: 'sink.postgres.committed', n: 2, order: 'bronze-first' },
  { point: 'sink.postgres.committed', n: 4, order: 'pg-first' },
  { point: 'sink.postgres.committed', n: 6, order: 'pg-first' },
  { point: 'sink.append.written', n: 1, order: 'pg-first' },
  { point: 'sink.append.written', n: 3, order: 'bronze-first' },
  { point: 'sink.append.committed', n: 2, order: 'bronze-first' },
  { point: 'sink.append.committed', n: 3, order: 'bronze-first' },
  { point: 'window.state-saved', n: 1, order: 'bronze-first' },
  { point: 'window.state-saved', n: 3, order: 'pg-first' },
  { point: 'plan.written', n: 1, order: 'pg-first' },
  { point: 'plan.written', n: 3, order: 'bronze-first' },
  { point: 'dlq.produced', n: 1, order: 'bronze-first' },
  { point: 'dlq.produced', n: 2, order: 'pg-first' },
];

/** Produces the generator's records round-robin, each timestamped with the generator's clock. */
class Producer {
  readonly kinds = new Map<string, ClickRecordKind>();
  produced = 0;
  private readonly log: Log;
  private readonly clock = new ManualClock(T0);
  private readonly generator: ClickstreamGenerator;

  constructor(log: Log) {
    this.log = log;
    this.generator = new ClickstreamGenerator({
      seed: 2,
      clock: this.clock,
      lateRate: 0.01,
      malformedRate: 0.005,
      duplicateRate: 0.01,
      outOfOrderRate: 0.05,
    });
  }

  /** `n` records; with `noLate`, the generator's late records are left out. */
  async produce(n: number, noLate = false): Promise<void> {
    const records: ProduceRecord[] = [];
    const kinds: ClickRecordKind[] = [];
    while (records.length < n) {
      const r = this.generator.next();
      if (noLate && r.kind === 'late') continue;
      records.push({
        topic: TOPIC,
        partition: this.produced++ % PARTITIONS,
        key: Buffer.from(r.key),
        value: Buffer.from(r.value),
        timestamp: this.clock.now(),
      });
      kinds.push(r.kind);
      this.clock.advance(STEP_MS);
    }
    const results = await this.log.produce(records);
    for (const [i, x] of results.entries()) this.kinds.set(`${x.partition}/${x.offset}`, kinds[i]);
  }

  /** Produces at RATE records per second until `stop` aborts. */
  async steady(stop: AbortSignal): Promise<void> {
    const began = Date.now();
    const base = this.produced;
    while (!stop.aborted) {
      const due = base + Math.floor(((Date.now() - began) / 1000) * RATE) - this.produced;
      if (due > 0) await this.produce(Math.min(due, 300));
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** The built-in definition with its PostgreSQL sinks before bronze, written to `file`. */
function writePgFirst(file: string): void {
  const def = parse(readFileSync(builtinPath('clickstream'), 'utf8'));
  const sinks = def.sinks as Array<{ type: string }>;
  def.sinks = [...sinks.filter((s) => s.type === 'postgres'), ...sinks.filter((s) => s.type !== 'postgres')];
  writeFileSync(file, stringify(def));
}

async function openBronze(dataDir: string): Promise<DeltaTable> {
  const tables = await openTables(plan(builtinDefinitionSync('clickstream').definition), undefined, {
    dataDir,
  });
  return tables.get('bronze_user_events')!;
}

/** Per partition, the last offset committed in bronze and in each PostgreSQL sink (-1: none). */
async function progresses(dataDir: string, db: pg.Client) {
  const snap = await (await openBronze(dataDir)).snapshot();
  const bronze = Array.from(
    { length: PARTITIONS },
    (_, p) => snap.txnVersion(`clickstream/bronze/${TOPIC}/${p}`) ?? -1,
  );
  const { rows } = await db.query<{ app_id: string; version: string }>(
    'SELECT app_id, version FROM tributary.progress',
  );
  const pgSinks = Object.fromEntries(
    PG_SINKS.map((s) => [
      s,
      Array.from({ length: PARTITIONS }, (_, p) => {
        const row = rows.find((r) => r.app_id === `clickstream/${s}/${TOPIC}/${p}`);
        return row === undefined ? -1 : Number(row.version);
      }),
    ]),
  );
  return { bronze, pg: pgSinks, rows };
}

async function crashScenario(t: TestContext, dir: string, url: string): Promise<void> {
  const began = Date.now();
  const dataDir = join(dir, 'data');
  const trace = join(dir, 'crash-trace.tsv');
  const pgFirst = join(dir, 'clickstream-pg-first.yaml');
  writePgFirst(pgFirst);
  const args = (order: Order) => [
    'run',
    order === 'pg-first' ? pgFirst : 'clickstream',
    '--data-dir',
    dataDir,
    '--postgres',
    url,
    '--set',
    'runtime.max_records_per_batch=500',
    '--trigger-ms',
    '50',
  ];
  const rng = new Rng(2027);
  const schedule: Kill[] = [
    ...NAMED,
    ...Array.from({ length: RANDOM_KILLS }, (_, i) => ({
      delayMs: 300 + rng.int(3500),
      order: (i % 2 === 0 ? 'pg-first' : 'bronze-first') as Order,
    })),
  ];
  for (let i = schedule.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [schedule[i], schedule[j]] = [schedule[j], schedule[i]];
  }

  const log = await openLog({ dataDir });
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    await log.ensureTopic(TOPIC, { partitions: PARTITIONS });
    const producer = new Producer(log);
    await producer.produce(WARMUP, true);
    const stop = new AbortController();
    const producing = producer.steady(stop.signal);
    const killed: number[] = [];
    const selfKilled = new Map<number, Armed>();
    const missed: string[] = [];
    let runs = 0;
    try {
      for (let i = 0; i < schedule.length; i++) {
        const kill = schedule[i];
        runs++;
        const what =
          'point' in kill
            ? `run ${i} (${kill.order}) armed at ${kill.point}:${kill.n}`
            : `run ${i} (${kill.order}, kill after ${kill.delayMs} ms)`;
        const run = await killedRun(args(kill.order), kill, {
          trace,
          armedTimeoutMs: ARMED_TIMEOUT_MS,
          what,
        });
        if ('point' in kill && !run.reached) {
          missed.push(`${kill.point}:${kill.n}`);
          if (kill.n > 1) schedule.push({ ...kill, n: 1 });
        }
        killed.push(run.pid);
        if ('point' in kill && run.reached) {
          selfKilled.set(run.pid, kill);
          // The states a crash between two sinks' commits leaves: PostgreSQL a batch
          // ahead of Delta, and the other way round.
          const pgAhead =
            kill.point === 'sink.postgres.committed' && kill.order === 'pg-first' && kill.n >= 4;
          const deltaAhead =
            kill.point === 'sink.append.committed' && kill.order === 'bronze-first' && kill.n >= 2;
          if (pgAhead || deltaAhead) {
            const { bronze, pg: sinks } = await progresses(dataDir, db);
            const ahead = (a: number[], b: number[]) => a.some((x, p) => x > b[p]);
            const pgMax = bronze.map((_, p) => Math.max(...PG_SINKS.map((s) => sinks[s][p])));
            const pgMin = bronze.map((_, p) => Math.min(...PG_SINKS.map((s) => sinks[s][p])));
            const state = `bronze ${JSON.stringify(bronze)}, PostgreSQL ${JSON.stringify(sinks)}`;
            if (pgAhead)
              assert.ok(ahead(pgMax, bronze), `${what}: PostgreSQL committed, Delta not (${state})`);
            else assert.ok(ahead(bronze, pgMin), `${what}: Delta committed, PostgreSQL not (${state})`);
          }
        }
      }
    } finally {
      stop.abort();
      await producing;
    }

    // Every point was reached, and each armed run that died by itself died at its point, at its n.
    const lines = readTrace(trace);
    const crashes = new Map<string, number[]>();
    for (const l of lines) {
      if (!l.crash) continue;
      crashes.set(l.name, [...(crashes.get(l.name) ?? []), l.n]);
      assert.ok(killed.includes(l.pid), `the crash at ${l.name} was in a pipeline run of this test`);
    }
    for (const [pid, kill] of selfKilled) {
      assert.ok(
        lines.some((l) => l.crash && l.pid === pid && l.name === kill.point && l.n === kill.n),
        `the run killed by SIGKILL (pid ${pid}) was killed at ${kill.point}:${kill.n}`,
      );
    }
    const points = [...new Set(NAMED.map((k) => k.point))];
    t.diagnostic(
      `kills at n per point: ${points.map((p) => `${p} ${JSON.stringify(crashes.get(p) ?? [])}`).join(', ')}`,
    );
    if (missed.length > 0)
      t.diagnostic(`armed runs that did not reach their point in time: ${missed.join(', ')}`);
    for (const p of points) {
      const at = new Set(crashes.get(p) ?? []);
      assert.ok(at.size >= 2, `killed at ${p} at two different n at least (n = ${[...at].join(', ')})`);
    }

    const killsDone = Date.now();
    const final = startCli([...args('bronze-first'), '--until-caught-up']);
    runs++;
    const done = await final.exit;
    assert.equal(done.code, 0, `final run failed:\n${done.stderr}`);
    const left = readdirSync(SCRATCH_DIR).filter((f) => killed.some((pid) => f.includes(`-${pid}-`)));
    assert.deepEqual(left, [], 'scratch files of killed runs are swept on start');
    const finalDone = Date.now();

    const records = await readTopic(log, TOPIC);
    assert.equal(records.length, producer.produced, 'the topic holds every record produced');
    const truth = clickTruth(records, producer.kinds);
    assert.ok(truth.late.size > 50 && truth.malformed.size > 50 && truth.duplicates > 50, 'a mixed input');
    await assertRealtime(url, truth);
    const bronze = await openBronze(dataDir);
    const python = pythonSkip();
    await assertBronze(
      bronze,
      truth,
      python === undefined ? join(tablesDir(dataDir), 'bronze_user_events') : undefined,
    );
    if (python !== undefined) t.diagnostic(`delta-rs check skipped: ${python}`);
    await assertDlq(await readTopic(log, `${TOPIC}.dlq`), truth);

    // Progress at the topic's end: every PostgreSQL sink's (and nothing else) in
    // tributary.progress, bronze's and the DLQ's in bronze.
    const end = await Promise.all(
      Array.from({ length: PARTITIONS }, async (_, p) => (await log.offsets(TOPIC, p)).latest - 1),
    );
    const { bronze: bronzeAt, pg: pgAt, rows } = await progresses(dataDir, db);
    assert.equal(
      rows.length,
      PG_SINKS.length * PARTITIONS,
      'tributary.progress holds the three sinks’ progress',
    );
    for (const s of PG_SINKS) assert.deepEqual(pgAt[s], end, `${s} committed through the topic's end`);
    assert.deepEqual(bronzeAt, end, "bronze committed through the topic's end");
    const snap = await bronze.snapshot();
    assert.deepEqual(
      end.map((_, p) => snap.txnVersion(`clickstream/dlq/${TOPIC}/${p}`)),
      end,
      "the DLQ's progress is at the topic's end",
    );
    const s = (a: number, b: number) => `${Math.round((b - a) / 1000)} s`;
    t.diagnostic(
      `${runs} runs (${schedule.length} killed), ${producer.produced} records (${truth.malformed.size} malformed, ` +
        `${truth.late.size} late, ${truth.duplicates} duplicates), ${truth.events.size} (minute, type) rows; ` +
        `kills ${s(began, killsDone)}, last run ${s(killsDone, finalDone)}, checks ${s(finalDone, Date.now())}`,
    );
  } finally {
    await db.end();
    await log.close();
  }
}

const missing = postgresMissing();
// In CI a missing server is a failure, never a silent skip.
const skip = missing !== undefined && !process.env.CI ? missing : false;

describe('clickstream speed layer: exactly once into PostgreSQL under SIGKILL', () => {
  test('killed at every point of a batch and at random moments, then drained: all equals the truth', {
    timeout: 600_000,
    skip,
  }, async (t) => {
    if (missing !== undefined) throw new Error(`${missing} (in CI, scripts/test.sh must start it)`);
    const dir = mkdtempSync(join(tmpdir(), 'tributary-clickstream-crash-'));
    const db = await freshDatabase('clickstream_crash');
    try {
      await crashScenario(t, dir, db.url);
    } finally {
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
