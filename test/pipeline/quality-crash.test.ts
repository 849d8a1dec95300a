/**
 * The data-quality results topic exactly once across crashes: the sales pipeline of
 * quality-oracle.ts runs as `tributary run` child processes killed with SIGKILL at the
 * named points on a batch's path — its results acknowledged and their progress not
 * stored (`quality.produced`), the plan written, the rejects in the DLQ, bronze
 * committed, the windows' state saved — and at random moments, with more input before
 * each run. A last run drains the topic. Then:
 * - every batch's results are there once each, and equal the truth recomputed in plain
 *   JavaScript over the offsets they name (so a replayed batch gave the same records);
 * - the per-rule totals equal a straight run's over the same input;
 * - their failures agree with the DLQ;
 * - each bronze row's `batch_id` and `batch_time` (the `batch` relation, recorded in the
 *   plan) equal its batch's results', whichever of the two was written before the kill;
 * - the gold windows equal the straight run's.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Log } from '../../src/log/log.ts';
import { openLog } from '../../src/log/open.ts';
import { LocalStore } from '../../src/storage/local.ts';
import type { QualityResult } from '../../src/stream/quality-results.ts';
import { readRows } from '../../src/table/index.ts';
import { DeltaTable } from '../../src/table/table.ts';
import { assertKilledAt, type Kill, killedRun, startCli } from '../helpers/cli-child.ts';
import { readTopic } from '../scenarios/orders-oracle.ts';
import {
  assertAgreesWithDlq,
  assertResults,
  judge,
  readWithHeaders,
  SalesInput,
  SOURCE,
  salesDefinition,
  totals,
} from './quality-oracle.ts';

/** The definition, its names made unique by `id` (a shared Kafka broker). */
const definition = (id: string) =>
  salesDefinition({
    name: `sales${id}`,
    source: `sales${id}`,
    quality: { topic: `dq.results.v1${id}`, samples: 1000, sampleId: 'event_id' },
  });
/** Records produced before each run (a batch is at most 150). */
const STAGE = 300;

const KILLS: Kill[] = [
  { point: 'quality.produced', n: 1 },
  { point: 'quality.produced', n: 2 },
  { point: 'quality.produced', n: 3 },
  { point: 'sink.append.committed', n: 2 },
  { point: 'plan.written', n: 2 },
  { point: 'dlq.produced', n: 1 },
  { point: 'window.state-saved', n: 1 },
  { delayMs: 900 },
  { delayMs: 1700 },
  { delayMs: 2600 },
];

async function produceStage(log: Log, input: SalesInput, late: boolean) {
  const records = input.next(STAGE, late);
  const acks = await log.produce(records);
  return acks.map((a, i) => ({
    partition: a.partition,
    offset: a.offset,
    value: records[i].value as Uint8Array,
  }));
}

async function resultsOf(log: Log, id: string): Promise<QualityResult[]> {
  return (await readWithHeaders(log, `dq.results.v1${id}`)).map(
    (r) => JSON.parse(r.value.toString('utf8')) as QualityResult,
  );
}

async function table(dataDir: string, name: string) {
  const t = await DeltaTable.open(new LocalStore(join(dataDir, 'tables', name)));
  return readRows(t, await t.snapshot());
}

/** The kills (the log on Kafka when `kafka` is given), then the straight run (embedded log), then the checks. */
async function crashScenario(kafka: string | undefined): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-quality-crash-'));
  const id = kafka ? `_${randomUUID().slice(0, 8)}` : '';
  const onLog = kafka ? ['--kafka', kafka] : [];
  try {
    const file = join(dir, 'sales.yaml');
    writeFileSync(file, definition(id));
    const straightFile = join(dir, 'straight.yaml');
    writeFileSync(straightFile, definition(''));
    const killed = join(dir, 'killed');
    const straight = join(dir, 'straight');
    const trace = join(dir, 'trace.tsv');

    const log = await openLog({ dataDir: killed, kafka });
    const input = new SalesInput(5, `sales${id}`);
    const raw: Array<{ partition: number; offset: number; value: Uint8Array }> = [];
    await log.ensureTopic(`sales${id}`, { partitions: 3 });
    raw.push(...(await produceStage(log, input, false)));
    const selfKilled = new Map<number, string>();
    for (const [i, kill] of KILLS.entries()) {
      if (i > 0) raw.push(...(await produceStage(log, input, true)));
      const what =
        'point' in kill ? `run killed at ${kill.point}:${kill.n}` : `run killed after ${kill.delayMs} ms`;
      const r = await killedRun(['run', file, '--data-dir', killed, ...onLog], kill, {
        trace,
        armedTimeoutMs: 30_000,
        what,
      });
      if ('point' in kill) {
        assert.ok(r.reached, `${what}: the point was reached`);
        selfKilled.set(r.pid, kill.point);
      }
    }
    await log.close();
    assertKilledAt(trace, selfKilled);
    const last = await startCli(['run', file, '--data-dir', killed, '--until-caught-up', ...onLog]).exit;
    assert.equal(last.code, 0, `the last run drains the topic:\n${last.stderr}`);

    // The same input, all at once, run straight.
    const log2 = await openLog({ dataDir: straight });
    await log2.ensureTopic(SOURCE, { partitions: 3 });
    const again = new SalesInput(5);
    for (let i = 0; i < KILLS.length; i++) await log2.produce(again.next(STAGE, i > 0));
    await log2.close();
    const run = await startCli(['run', straightFile, '--data-dir', straight, '--until-caught-up']).exit;
    assert.equal(run.code, 0, `the straight run:\n${run.stderr}`);

    const after = await openLog({ dataDir: killed, kafka });
    const after2 = await openLog({ dataDir: straight });
    try {
      const got = await resultsOf(after, id);
      const want = await resultsOf(after2, '');
      const truth = judge(raw);
      assert.ok(truth.some((j) => j.late) && truth.some((j) => j.duplicate));
      assertResults(got, truth, 1000);
      assert.deepEqual(totals(got), totals(want), 'per-rule totals as the straight run');
      assertAgreesWithDlq(got, await readTopic(after, `sales${id}.dlq`));

      const byBatch = new Map<string, QualityResult>();
      for (const r of got)
        for (const x of r.offsets) for (let o = x.from; o <= x.to; o++) byBatch.set(`${x.partition}/${o}`, r);
      const bronze = await table(killed, 'bronze');
      assert.equal(bronze.length, truth.filter((j) => !j.reject).length, 'bronze: every valid record once');
      for (const row of bronze) {
        const r = byBatch.get(`${row._p}/${row._o}`)!;
        assert.equal(Number(row.batch_id), r.batch_id, `bronze ${row._p}/${row._o}: its batch`);
        assert.equal(new Date(String(row.pipeline_time)).toISOString(), r.batch_time, 'its batch time');
      }
      const gold = (rows: Record<string, unknown>[]) =>
        rows
          .map(
            (g) =>
              `${new Date(String(g.window_start)).toISOString()}|${g.plan_tier}|${g.region}|${g.revenue}|${g.events}`,
          )
          .sort();
      assert.deepEqual(
        gold(await table(killed, 'gold')),
        gold(await table(straight, 'gold')),
        'gold as the straight run',
      );
    } finally {
      await after.close();
      await after2.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('quality results under crashes', () => {
  it('hold each batch once, as a straight run, with the batch relation stable across replays', () =>
    crashScenario(undefined));

  const kafka = process.env.TRIBUTARY_TEST_KAFKA;
  it(
    'the same with the topics on Apache Kafka',
    {
      skip: kafka ? false : 'TRIBUTARY_TEST_KAFKA is not set (npm test starts a broker)',
    },
    () => crashScenario(kafka),
  );
});
