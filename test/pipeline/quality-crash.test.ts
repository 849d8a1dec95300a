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

const NAME = 'sales';
const TOPIC = 'dq.results.v1';
const DEFINITION = salesDefinition({
  name: NAME,
  quality: { topic: TOPIC, samples: 1000, sampleId: 'event_id' },
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

async function resultsOf(log: Log): Promise<QualityResult[]> {
  return (await readWithHeaders(log, TOPIC)).map(
    (r) => JSON.parse(r.value.toString('utf8')) as QualityResult,
  );
}

async function table(dataDir: string, name: string) {
  const t = await DeltaTable.open(new LocalStore(join(dataDir, 'tables', name)));
  return readRows(t, await t.snapshot());
}

describe('quality results under crashes', () => {
  it('hold each batch once, as a straight run, with the batch relation stable across replays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-quality-crash-'));
    try {
      const file = join(dir, 'sales.yaml');
      writeFileSync(file, DEFINITION);
      const killed = join(dir, 'killed');
      const straight = join(dir, 'straight');
      const trace = join(dir, 'trace.tsv');

      const log = await openLog({ dataDir: killed });
      const input = new SalesInput(5);
      const raw: Array<{ partition: number; offset: number; value: Uint8Array }> = [];
      await log.ensureTopic(SOURCE, { partitions: 3 });
      raw.push(...(await produceStage(log, input, false)));
      const selfKilled = new Map<number, string>();
      for (const [i, kill] of KILLS.entries()) {
        if (i > 0) raw.push(...(await produceStage(log, input, true)));
        const what =
          'point' in kill ? `run killed at ${kill.point}:${kill.n}` : `run killed after ${kill.delayMs} ms`;
        const r = await killedRun(['run', file, '--data-dir', killed], kill, {
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
      const last = await startCli(['run', file, '--data-dir', killed, '--until-caught-up']).exit;
      assert.equal(last.code, 0, `the last run drains the topic:\n${last.stderr}`);

      // The same input, all at once, run straight.
      const log2 = await openLog({ dataDir: straight });
      await log2.ensureTopic(SOURCE, { partitions: 3 });
      const again = new SalesInput(5);
      for (let i = 0; i < KILLS.length; i++) await log2.produce(again.next(STAGE, i > 0));
      await log2.close();
      const run = await startCli(['run', file, '--data-dir', straight, '--until-caught-up']).exit;
      assert.equal(run.code, 0, `the straight run:\n${run.stderr}`);

      const after = await openLog({ dataDir: killed });
      const after2 = await openLog({ dataDir: straight });
      try {
        const got = await resultsOf(after);
        const want = await resultsOf(after2);
        const truth = judge(raw);
        assert.ok(truth.some((j) => j.late) && truth.some((j) => j.duplicate));
        assertResults(got, truth, 1000);
        assert.deepEqual(totals(got), totals(want), 'per-rule totals as the straight run');
        assertAgreesWithDlq(got, await readTopic(after, `${NAME}.dlq`));

        const byBatch = new Map<string, QualityResult>();
        for (const r of got)
          for (const x of r.offsets)
            for (let o = x.from; o <= x.to; o++) byBatch.set(`${x.partition}/${o}`, r);
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
  });
});
