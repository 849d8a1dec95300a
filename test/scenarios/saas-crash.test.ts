/**
 * The sales pipeline (pipelines/saas.yaml) exactly once under SIGKILL: `tributary run
 * saas` child processes (the embedded registry over the log's `_schemas`) are killed
 * again and again — at the named crash points on a batch's path, each reached as the
 * trace shows, and at random moments — with more sales events produced before each run
 * (and now and then old events re-sent past the dedup transform's horizon). A last run
 * drains the topic. Then everything is compared with the truth (saas-truth.ts) exactly as
 * the straight run's test does (saas-pipeline.test.ts): a straight run's outputs are the
 * truth given its batches, and so are these, given the batches the crashed runs made:
 * - bronze, silver, gold and the late table, row for row;
 * - the DLQ: every invalid message once, bytes unchanged;
 * - dq.results.v1: one record per batch and rule, batch by batch equal to the truth, the
 *   batches tiling the topic; totals per rule agree with the DLQ;
 * - the revenue topic: the gold rows once each (decoded with avsc by the writer schema
 *   from the registry), each from the batch that closed its window.
 * Kills at the points where an output is ahead of its progress are checked to have left
 * it so (records in the revenue topic, dq.results.v1 or the DLQ that their progress does
 * not yet cover), so the restart had to recognise them.
 *
 * The clock moves 1.2 s a record: a full batch of 300 records spans 6 minutes of event
 * time, so its watermark passes the end of a 5-minute window and the topic sink has rows
 * to produce (a point whose kills all missed such a batch is tried again).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import avro from 'avsc';
import { Rng } from '../../src/connectors/generators/rng.ts';
import type { CrashPointName } from '../../src/core/crash-points.ts';
import type { Log } from '../../src/log/log.ts';
import { openLog } from '../../src/log/open.ts';
import { tablesDir } from '../../src/pipeline/compile.ts';
import {
  DQ_RESULTS_TOPIC,
  REVENUE_TOPIC,
  SALES_DLQ_TOPIC,
  SALES_PARTITIONS,
} from '../../src/scenarios/saas-sales/domain.ts';
import type { SalesRecord } from '../../src/scenarios/saas-sales/generator.ts';
import { openRegistry } from '../../src/server/registry/server.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { decodeDeadLetter } from '../../src/stream/dead-letter.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { killedRun, readTrace, startCli } from '../helpers/cli-child.ts';
import { isoMicros } from '../interop/helpers.ts';
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
import { generateTracked, resendStale, SteppingClock } from './saas-input.ts';
import { readAll, salesTruth, type TopicRecord } from './saas-truth.ts';

const T0 = Date.UTC(2026, 10, 30, 21, 0, 0);
const STEP_MS = 1200;
const SEED = 4005;
/** Records produced before each run; a batch is at most BATCH. */
const STAGE = 400;
const BATCH = 300;
const ARMED_TIMEOUT_MS = 20_000;

type Armed = { point: CrashPointName; n: number };
type Kill = Armed | { delayMs: number };

/**
 * The named kills. Sinks commit in definition order (bronze, silver, gold, then the late
 * table), so `sink.append.committed` at n = 1..4 leaves the first n of them committed.
 */
const NAMED: Armed[] = [
  { point: 'sink.append.committed', n: 1 },
  { point: 'sink.append.committed', n: 2 },
  { point: 'sink.append.committed', n: 3 },
  { point: 'sink.append.committed', n: 4 },
  { point: 'sink.append.written', n: 2 },
  { point: 'plan.written', n: 1 },
  { point: 'plan.written', n: 3 },
  { point: 'dlq.produced', n: 1 },
  { point: 'dlq.produced', n: 2 },
  { point: 'quality.produced', n: 1 },
  { point: 'quality.produced', n: 3 },
  { point: 'window.state-saved', n: 2 },
  { point: 'dedup.state-saved', n: 1 },
  { point: 'dedup.state-saved', n: 3 },
  { point: 'sink.topic.produced', n: 1 },
  { point: 'sink.topic.produced', n: 2 },
  { point: 'sink.topic.produced', n: 3 },
];
const RANDOM_KILLS = 4;

/** The points where an output runs ahead of its progress, and how to see it did. */
const AHEAD: Partial<Record<CrashPointName, (dir: string, log: Log) => Promise<boolean>>> = {
  'sink.topic.produced': async (dir, log) => {
    const stored = readJson(join(dir, 'state', 'saas', 'sinks', 'revenue_topic.json'))?.plan ?? 0;
    return maxPlan(await readAll(log, REVENUE_TOPIC)) > stored;
  },
  'quality.produced': async (dir, log) => {
    const stored = readJson(join(dir, 'state', 'saas', 'quality.json'))?.plan ?? 0;
    return maxPlan(await readAll(log, DQ_RESULTS_TOPIC)) > stored;
  },
  'dlq.produced': async (dir, log) => {
    const snap = await (
      await DeltaTable.open(new LocalStore(join(tablesDir(dir), 'sales_bronze')))
    ).snapshot();
    const tail = new Map<number, number>();
    for (const r of await readAll(log, SALES_DLQ_TOPIC)) {
      const d = decodeDeadLetter(r.value!);
      tail.set(d.source_partition, Math.max(tail.get(d.source_partition) ?? -1, d.source_offset));
    }
    return [...tail].some(([p, o]) => o > (snap.txnVersion(`saas/dlq/sales.events.v1/${p}`) ?? -1));
  },
};

function readJson(path: string): { plan?: number } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

const maxPlan = (records: readonly TopicRecord[]) =>
  Math.max(0, ...records.map((r) => Number(r.headers['tributary-plan'] ?? 0)));

describe('the sales pipeline under SIGKILL', { timeout: 400_000 }, () => {
  test('killed at every named point and at random moments, then drained: all equals the truth', async (t) => {
    const began = Date.now();
    const dir = mkdtempSync(join(tmpdir(), 'tributary-saas-crash-'));
    const trace = join(dir, 'crash-trace.tsv');
    const log = await openLog({ dataDir: dir });
    const registry = await openRegistry({ log });
    const args = [
      'run',
      'saas',
      '--data-dir',
      dir,
      '--set',
      `runtime.max_records_per_batch=${BATCH}`,
      '--trigger-ms',
      '20',
      '--progress-ms',
      '0',
    ];
    try {
      const clock = new SteppingClock(T0, STEP_MS);
      const made = new Map<string, SalesRecord>();
      const stale = new Set<string>();
      /** Produces a round's records: enough for `batches` full batches at least. */
      const produce = async (round: number, batches: number) => {
        const count = Math.max(STAGE, batches * BATCH + 50);
        const opts = round === 0 ? { count: 2 * count, switchAt: count } : { count, version: 2 as const };
        for (const [at, r] of await generateTracked(log, registry.client, clock, {
          ...opts,
          seed: SEED + round,
        }))
          made.set(at, r);
        // Past 30 minutes of event time, now and then a few old events again.
        if (round % 3 === 2 && clock.t - T0 > 30 * 60_000)
          for (const at of await resendStale(log, made, clock.t, 3)) stale.add(at);
      };

      const rng = new Rng(13);
      const schedule: Kill[] = [
        ...NAMED,
        ...Array.from({ length: RANDOM_KILLS }, () => ({ delayMs: 1500 + rng.int(2500) })),
      ];
      for (let i = schedule.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [schedule[i], schedule[j]] = [schedule[j], schedule[i]];
      }
      const selfKilled = new Map<number, Armed>();
      const ahead = new Map<CrashPointName, number>();
      const missed: string[] = [];
      const took: string[] = [];
      let round = 0;
      for (let i = 0; i < schedule.length; i++) {
        const kill = schedule[i];
        // A run armed at the n-th time a point is reached gets n batches of new records.
        await produce(round++, 'point' in kill ? kill.n : 1);
        const what =
          'point' in kill
            ? `run ${i} armed at ${kill.point}:${kill.n}`
            : `run ${i} killed after ${kill.delayMs} ms`;
        const start = Date.now();
        const run = await killedRun(args, kill, { trace, armedTimeoutMs: ARMED_TIMEOUT_MS, what });
        took.push(
          `${'point' in kill ? `${kill.point}:${kill.n}` : `${kill.delayMs}ms`} ${Date.now() - start}`,
        );
        if (!('point' in kill)) continue;
        if (!run.reached) {
          missed.push(`${kill.point}:${kill.n}`);
          if (kill.n > 1) schedule.push({ ...kill, n: 1 });
          continue;
        }
        selfKilled.set(run.pid, kill);
        const probe = AHEAD[kill.point];
        if (probe && (await probe(dir, log))) ahead.set(kill.point, (ahead.get(kill.point) ?? 0) + 1);
        // At the end of the schedule, a point whose kills all fell where its output had
        // nothing to be ahead with (a batch closing no window) is tried again, a few times.
        if (i === schedule.length - 1) {
          for (const point of Object.keys(AHEAD) as CrashPointName[]) {
            const tries = schedule.filter((k) => 'point' in k && k.point === point).length;
            if (!ahead.has(point) && tries < 8) schedule.push({ point, n: 1 + (tries % 3) });
          }
        }
      }

      // Each armed run that died by itself died at its point, at its n; every point was reached.
      const lines = readTrace(trace);
      for (const [pid, kill] of selfKilled) {
        assert.ok(
          lines.some((l) => l.crash && l.pid === pid && l.name === kill.point && l.n === kill.n),
          `the run killed by SIGKILL (pid ${pid}) was killed at ${kill.point}:${kill.n}`,
        );
      }
      for (const point of new Set(NAMED.map((k) => k.point))) {
        assert.ok(
          [...selfKilled.values()].some((k) => k.point === point),
          `a run was killed at ${point}`,
        );
      }
      for (const point of Object.keys(AHEAD) as CrashPointName[]) {
        assert.ok((ahead.get(point) ?? 0) >= 1, `a kill at ${point} left its output ahead of its progress`);
      }
      t.diagnostic(took.join(', '));
      if (missed.length > 0)
        t.diagnostic(`armed runs that did not reach their point in time: ${missed.join(', ')}`);

      const killsDone = Date.now();
      const final = startCli([...args, '--until-caught-up']);
      const done = await final.exit;
      assert.equal(done.code, 0, `the last run failed:\n${done.stderr}`);

      const finalDone = Date.now();
      const truth = await salesTruth(log, registry.client, stale);
      assert.ok(
        truth.stale.length >= 3 && truth.late.length > 50,
        'stale copies and late events among the input',
      );
      assertBronze(await tableRows(dir, 'sales_bronze', 'ours'), truth);
      assertSilver(await tableRows(dir, 'sales_silver', 'ours'), truth);
      assertGold(await tableRows(dir, 'sales_revenue_5m', 'ours'), truth);
      assertLate(await tableRows(dir, 'sales_late_events', 'ours'), truth);
      const dlq = assertDlq(await readAll(log, SALES_DLQ_TOPIC), truth);
      assertQuality(truth, dlq);
      assertRevenueTopic(await decodeRevenue(log, registry.client), truth);
      const sec = (a: number, b: number) => `${Math.round((b - a) / 100) / 10} s`;
      t.diagnostic(
        `kills ${sec(began, killsDone)}, last run ${sec(killsDone, finalDone)}, checks ${sec(finalDone, Date.now())}`,
      );
      t.diagnostic(
        `${schedule.length + 1} runs (${selfKilled.size} killed at a point; ahead: ${JSON.stringify(Object.fromEntries(ahead))}), ` +
          `${truth.input.length} records in ${truth.batches.length} batches: ${truth.invalid.length} invalid, ` +
          `${truth.dropped.length} copies dropped, ${truth.stale.length} stale, ${truth.late.length} late, ` +
          `${truth.closed.length} windows closed`,
      );
    } finally {
      await registry.close();
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The revenue topic's records decoded with avsc by the writer schema the registry holds for each record's id. */
async function decodeRevenue(
  log: Log,
  registry: { schemaById(id: number): Promise<string> },
): Promise<DecodedRevenue[]> {
  const types = new Map<number, { type: avro.Type; fields: Array<{ name: string; type: unknown }> }>();
  const out: DecodedRevenue[] = [];
  for (const r of await readAll(log, REVENUE_TOPIC)) {
    const v = r.value!;
    assert.equal(v[0], 0, 'a revenue record starts with the magic byte');
    const id = v.readUInt32BE(1);
    if (!types.has(id)) {
      const schema = JSON.parse(await registry.schemaById(id));
      types.set(id, { type: avro.Type.forSchema(schema), fields: schema.fields });
    }
    const { type, fields } = types.get(id)!;
    const rec = type.fromBuffer(v.subarray(5)) as Record<string, unknown>;
    const value: Record<string, unknown> = {};
    for (const f of fields) value[f.name] = plain(rec[f.name], f.type);
    out.push({
      partition: r.partition,
      offset: r.offset,
      key: r.key!.toString(),
      plan: r.headers['tributary-plan'],
      value,
    });
  }
  assert.ok(out.every((r) => r.partition < SALES_PARTITIONS));
  return out;
}

/** An Avro value as the comparison takes it: decimals as text, timestamp-micros as ISO 8601 µs, longs as numbers. */
function plain(v: unknown, type: unknown): unknown {
  if (v === null || v === undefined) return null;
  const branch = Array.isArray(type) ? type.find((b) => b !== 'null') : type;
  const t = branch as { type?: string; logicalType?: string; scale?: number };
  if (t?.logicalType === 'decimal') {
    const bytes = v as Buffer;
    let n = 0n;
    for (const b of bytes) n = (n << 8n) | BigInt(b);
    if (bytes.length > 0 && bytes[0] & 0x80) n -= 1n << BigInt(8 * bytes.length);
    const scale = BigInt(t.scale ?? 0);
    const neg = n < 0n;
    const abs = neg ? -n : n;
    const unit = 10n ** scale;
    return `${neg ? '-' : ''}${abs / unit}${scale > 0n ? `.${String(abs % unit).padStart(Number(scale), '0')}` : ''}`;
  }
  if (t?.logicalType === 'timestamp-micros') {
    const us = BigInt(v as number);
    return isoMicros(
      `${new Date(Number(us / 1000n)).toISOString().slice(0, 19)}.${String(us % 1_000_000n).padStart(6, '0')}Z`,
    );
  }
  return typeof v === 'bigint' ? Number(v) : v;
}
