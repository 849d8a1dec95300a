/**
 * The data-quality results topic (`quality:`) of a JSON pipeline with records that break
 * each rule of its contract, re-sent copies and late events: every batch's results are
 * checked against the truth recomputed in plain JavaScript from the topic's bytes
 * (quality-oracle.ts), the sums against the DLQ, and the `batch` relation's values in the
 * bronze table against the results' batch ids and times.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isTributaryError, TributaryError } from '../../src/core/errors.ts';
import type { Log, ProduceRecord } from '../../src/log/log.ts';
import { openLog } from '../../src/log/open.ts';
import { checkDefinition, compilePipeline } from '../../src/pipeline/compile.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import { plan } from '../../src/pipeline/plan.ts';
import type { QualityResult } from '../../src/stream/quality-results.ts';
import { readRows } from '../../src/table/index.ts';
import { readTopic } from '../scenarios/orders-oracle.ts';
import { withLog } from '../stream/with-log.ts';
import {
  assertAgreesWithDlq,
  assertResults,
  judge,
  readWithHeaders,
  SalesInput,
  SOURCE,
  salesDefinition,
} from './quality-oracle.ts';
import { runUntilCaughtUp } from './run-definition.ts';

/** Produces `n` records (late ones only with `late`); returns them with their positions, in produce order. */
async function produce(log: Log, input: SalesInput, n: number, late: boolean) {
  const records = input.next(n, late);
  const acks = await log.produce(records);
  return acks.map((a, i) => ({
    partition: a.partition,
    offset: a.offset,
    value: records[i].value as Uint8Array,
  }));
}

async function results(log: Log, topic: string, pipeline: string): Promise<QualityResult[]> {
  return (await readWithHeaders(log, topic))
    .filter((r) => r.pipeline === pipeline)
    .map((r) => {
      const v = JSON.parse(r.value.toString('utf8')) as QualityResult;
      assert.equal(r.plan, v.batch_id, 'the plan header is the batch id');
      return v;
    });
}

/**
 * Two pipelines over the same source, reporting to one results topic (samples by id, and
 * by position); `id` makes the names unique (a shared Kafka broker).
 */
async function sharedTopicScenario(log: Log, dir: string, id: string): Promise<void> {
  const source = `sales${id}`;
  const topic = `dq.results.v1${id}`;
  await log.ensureTopic(source, { partitions: 3 });
  const input = new SalesInput(7, source);
  const raw = [...(await produce(log, input, 300, false)), ...(await produce(log, input, 1700, true))];
  const truth = judge(raw);
  assert.ok(truth.filter((j) => j.reject).length > 100, 'rejects in the input');
  assert.ok(truth.filter((j) => j.duplicate).length > 50, 'copies in the input');
  assert.ok(truth.filter((j) => j.late).length > 10, 'late events in the input');

  const [nameA, nameB] = [`sales_a${id}`, `sales_b${id}`];
  const byId = await runUntilCaughtUp(
    fromYaml(
      salesDefinition({ name: nameA, source, quality: { topic, samples: 1000, sampleId: 'event_id' } }),
      'a.yaml',
    ),
    { dataDir: join(dir, 'a'), log },
  );
  await runUntilCaughtUp(
    fromYaml(salesDefinition({ name: nameB, source, quality: { topic, samples: 2 } }), 'b.yaml'),
    { dataDir: join(dir, 'b'), log },
  );
  const a = await results(log, topic, nameA);
  assertResults(a, truth, 1000);
  const b = await results(log, topic, nameB);
  const byPosition = truth.map((j) => ({ ...j, id: `${j.partition}/${j.offset}` }));
  assertResults(b, byPosition, 2);
  assert.ok(new Set(a.map((r) => r.batch_id)).size > 10, 'many batches');

  assertAgreesWithDlq(a, await readTopic(log, `${nameA}.dlq`));
  assertAgreesWithDlq(b, await readTopic(log, `${nameB}.dlq`));

  // The batch relation: each bronze row carries its batch's id and time, as its results do.
  const bronze = byId.tables.get('bronze')!;
  const rows = await readRows(bronze, await bronze.snapshot());
  assert.equal(rows.length, truth.filter((j) => !j.reject).length, 'bronze: every valid record');
  const batchOf = new Map<string, QualityResult>();
  for (const r of a)
    for (const x of r.offsets) for (let o = x.from; o <= x.to; o++) batchOf.set(`${x.partition}/${o}`, r);
  for (const row of rows) {
    const r = batchOf.get(`${row._p}/${row._o}`)!;
    assert.equal(Number(row.batch_id), r.batch_id, 'batch_id is the batch plan');
    assert.equal(
      new Date(String(row.pipeline_time)).toISOString(),
      r.batch_time,
      'pipeline_time is the batch time',
    );
  }
}

describe('quality results', () => {
  it('report each rule of each batch as the raw input has it, agree with the DLQ, and share a topic', async () => {
    await withLog('quality', (log, dir) => sharedTopicScenario(log, dir, ''));
  });

  const kafka = process.env.TRIBUTARY_TEST_KAFKA;
  it('the same on Apache Kafka', {
    skip: kafka ? false : 'TRIBUTARY_TEST_KAFKA is not set (npm test starts a broker)',
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-quality-kafka-'));
    const log = await openLog({ dataDir: dir, kafka });
    try {
      await sharedTopicScenario(log, dir, `_${randomUUID().slice(0, 8)}`);
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * A log whose produce to `topic` lands only the first half of the records of some calls
 * and then fails as a broker would (retryable): a crash in the middle of a batch's
 * results, without the process dying.
 */
function halfProducing(log: Log, topic: string, every: number): { log: Log; cut: () => number } {
  let calls = 0;
  let cut = 0;
  const produce = async (records: ProduceRecord[]) => {
    if (records[0]?.topic === topic && records.length > 1 && ++calls % every === 0) {
      await log.produce(records.slice(0, Math.floor(records.length / 2)));
      cut++;
      throw new TributaryError('LOG_BROKER', 'connection lost after part of the batch (test)');
    }
    return log.produce(records);
  };
  return {
    log: new Proxy(log, { get: (t, k) => (k === 'produce' ? produce : Reflect.get(t, k)) }),
    cut: () => cut,
  };
}

describe('quality results of a pipeline without state', () => {
  it('report the contract rules of each batch; the pipeline plans its batches for them', async () => {
    await withLog('quality-plain', async (log, dir) => {
      await log.ensureTopic(SOURCE, { partitions: 3 });
      const input = new SalesInput(13);
      const raw = await produce(log, input, 1200, false);
      const text = salesDefinition({
        name: 'sales_p',
        quality: { topic: 'dq', samples: 4, sampleId: 'event_id' },
      });
      // Only the contract and a bronze table: no SQL reading batch, no dedup, no window.
      const plain = `${text.slice(0, text.indexOf('transforms:'))}sinks:
  - { name: bronze, type: delta_append, from: input, table: bronze }
${text.slice(text.indexOf('dlq:'))}`;
      const c = await runUntilCaughtUp(fromYaml(plain, 'p.yaml'), { dataDir: join(dir, 'p'), log });
      assert.deepEqual(
        c.plan.sinks.map((s) => s.planned),
        [false],
      );
      const rs = await results(log, 'dq', 'sales_p');
      assertResults(rs, judge(raw), 4, false);
      assertAgreesWithDlq(rs, await readTopic(log, 'sales_p.dlq'));
    });
  });
});

describe('quality results after a produce that landed in part', () => {
  it('complete the batch with the records missing, each once', async () => {
    await withLog('quality-half', async (log, dir) => {
      await log.ensureTopic(SOURCE, { partitions: 3 });
      const input = new SalesInput(11);
      const raw = [...(await produce(log, input, 300, false)), ...(await produce(log, input, 900, true))];
      const half = halfProducing(log, 'dq', 3);
      const c = await compilePipeline(
        fromYaml(
          salesDefinition({ name: 'sales_h', quality: { topic: 'dq', samples: 3, sampleId: 'event_id' } }),
          'h.yaml',
        ),
        { dataDir: join(dir, 'h'), log: half.log, sleep: async () => {} },
      );
      const failures: unknown[] = [];
      try {
        await c.pipeline.run({ untilCaughtUp: true, onError: (err) => failures.push(err) });
      } finally {
        await c.pipeline.close();
      }
      assert.ok(half.cut() >= 2, `produces cut in half (${half.cut()})`);
      assert.equal(failures.length, half.cut(), 'each retried');
      const rs = await results(log, 'dq', 'sales_h');
      assertResults(rs, judge(raw), 3);
      assertAgreesWithDlq(rs, await readTopic(log, 'sales_h.dlq'));
    });
  });
});

describe('quality and batch in a definition', () => {
  const base = salesDefinition({
    name: 'sales_d',
    quality: { topic: 'dq', samples: 5, sampleId: 'event_id' },
  });
  const refused = async (text: string) => {
    try {
      await checkDefinition(fromYaml(text, 'p.yaml'));
    } catch (err) {
      assert.ok(isTributaryError(err) && err.code === 'PIPELINE_INVALID', String(err));
      return err.message;
    }
    assert.fail('the definition was accepted');
  };

  it('plans the sinks that read the batch relation, and only those', async () => {
    const { plan: p, checked } = await checkDefinition(fromYaml(base, 'p.yaml'));
    assert.equal(p.readsBatch, true);
    assert.deepEqual(
      p.sinks.map((s) => [s.def.name, s.planned]),
      [
        ['bronze', true],
        ['gold', true],
      ],
    );
    const cols = checked.sinkColumns.get('bronze')!;
    assert.equal(cols.types[cols.names.indexOf('batch_id')].toString(), 'BIGINT');
    assert.equal(cols.types[cols.names.indexOf('pipeline_time')].toString(), 'TIMESTAMP WITH TIME ZONE');
    // 'batch' in a comment or a string is not a read of it.
    const quiet = plan(
      fromYaml(
        base.replace(
          'SELECT i.*, b.batch_id, b.batch_time AS pipeline_time FROM input AS i, batch AS b',
          "SELECT *, 'batch' AS label FROM input -- newest per batch",
        ),
        'p.yaml',
      ).definition,
    );
    assert.equal(quiet.readsBatch, false);
    assert.equal(quiet.sinks.find((s) => s.def.name === 'bronze')!.planned, false);
  });

  it('refuses a sample column the input lacks, a transform named batch, a sink named quality', async () => {
    assert.match(
      await refused(base.replace('sample_id: event_id', 'sample_id: order_id')),
      /quality\.sample_id: 'order_id' is not a column of 'input'/,
    );
    assert.match(
      await refused(
        base.replace('- name: enriched', '- name: batch').replaceAll('from: enriched', 'from: batch'),
      ),
      /transforms\[0\]\.name: 'batch' is the relation of the batch's metadata/,
    );
    assert.match(
      await refused(base.replace('name: gold, type', 'name: quality, type')),
      /sinks\[1\]\.name: 'quality' names the sink of the quality results/,
    );
    assert.match(
      await refused(base.replace('samples: 5', 'sample: 5')),
      /unknown key 'sample' \(did you mean 'samples'\?\)/,
    );
  });
});
