/**
 * A windowed pipeline defined in YAML, run in three stretches with restarts between them
 * (the windows' state is saved with each batch and restored on start): 1-minute tumbling
 * counts (emit final, appended) and 2-minute hopping counts every minute (emit update,
 * MERGEd by window and page), checked against the same windows computed in plain code
 * from the raw input; records far behind the watermark go to the DLQ with reason `late`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Log } from '../../src/log/log.ts';
import { openLog } from '../../src/log/open.ts';
import { compilePipeline } from '../../src/pipeline/compile.ts';
import { fromYaml } from '../../src/pipeline/load.ts';
import { decodeDeadLetter } from '../../src/stream/dead-letter.ts';
import { readRows } from '../../src/table/index.ts';
import { withLog } from '../stream/with-log.ts';
import { runUntilCaughtUp } from './run-definition.ts';
import {
  clicks,
  expectedWindows,
  MIN,
  produceClicks,
  T0,
  tableLines,
  topicLines,
  WINDOWED,
} from './window-fixtures.ts';

/**
 * The scenario on a log: clicks in three stretches with restarts between them, late
 * records in the second; `names` are the source topic and the topic sink's topic.
 */
async function windowsScenario(log: Log, dataDir: string, names: { in: string; out: string }): Promise<void> {
  const def = fromYaml(WINDOWED.replace('topic: page_minutes', `topic: ${names.out}`), 'windows.yaml');
  let lateCounted = 0;
  const run = async () => {
    const c = await compilePipeline(def, { dataDir, log, topic: names.in });
    try {
      await c.pipeline.run({ untilCaughtUp: true });
    } finally {
      await c.pipeline.close();
    }
    lateCounted += c.pipeline.metrics.late;
    return c;
  };
  await log.ensureTopic(names.in, { partitions: 3 });
  const a = clicks(1, 0, 3000);
  await produceClicks(log, a, names.in);
  let c = await run();
  // Held back: nothing is final past the watermark of what was read.
  const wmA = Math.max(...a.map((x) => x.ts)) - 2 * MIN;
  assert.deepEqual((await tableLines(c)).final, expectedWindows(a, wmA).final);

  // Far behind the watermark now: late under any batching.
  const late = [
    { user_id: 'u1', page: 'home', ts: T0 + 1000 },
    { user_id: 'u2', page: 'cart', ts: T0 + 5 * MIN },
  ];
  const b = clicks(2, 3000, 2000);
  await produceClicks(log, [...late, ...b], names.in);
  c = await run();
  const rest = clicks(3, 5000, 1500);
  await produceClicks(log, rest, names.in);
  c = await run();

  const on = [...a, ...b, ...rest];
  const watermark = Math.max(...on.map((x) => x.ts)) - 2 * MIN;
  const want = expectedWindows(on, watermark);
  const got = await tableLines(c);
  assert.ok(want.final.length > 100, `${want.final.length} final windows`);
  assert.deepEqual(got.final, want.final, 'each closed 1-minute window once, with its final counts');
  assert.deepEqual(
    (await topicLines(log, names.out)).lines,
    want.final,
    'the topic sink: each closed window once, as JSON',
  );
  assert.deepEqual(got.hops, want.hops, 'every hopping window with its value over all on-time clicks');
  assert.deepEqual(
    got.busy,
    want.final.filter((l) => Number(l.split('|')[2]) >= 5).map((l) => l.split('|').slice(0, 3).join('|')),
    'a SQL transform over the window: the closed windows with at least 5 views',
  );
  assert.equal(lateCounted, 2, 'the late records are counted');

  const dlq: Array<{ reason: string; value: string | null }> = [];
  for (let p = 0; p < 3; p++) {
    const r = await log.fetch(`${names.in}.dlq`, p, 0, { maxRecords: 100 });
    for (const rec of r.records) {
      const d = decodeDeadLetter(rec.value!);
      dlq.push({ reason: `${d.rule}: ${d.reason}`, value: d.value });
    }
  }
  assert.equal(dlq.length, 2, 'each late record once');
  for (const l of late) {
    const mine = dlq.filter((d) => d.value === JSON.stringify(l));
    assert.equal(mine.length, 1, `late record ${JSON.stringify(l)} in the DLQ, with its bytes`);
    assert.match(
      mine[0].reason,
      /^late: per_minute,per_two_minutes: event time 2026-11-28T09:0\d:\d\d\.\d{3}Z is behind the watermark 2026-11-28T09:\d\d:\d\d\.\d{3}Z of window 'per_minute' .*; event time .* of window 'per_two_minutes'/,
    );
  }
}

describe('a windowed pipeline', () => {
  it('tumbling (final) and hopping (update) windows across restarts equal a plain recomputation; late records to the DLQ', async () => {
    await withLog('windows', (log, dir) =>
      windowsScenario(log, join(dir, 'data'), { in: 'clicks', out: 'page_minutes' }),
    );
  });

  const kafka = process.env.TRIBUTARY_TEST_KAFKA;
  it('the same on Apache Kafka', {
    skip: kafka ? false : 'TRIBUTARY_TEST_KAFKA is not set (npm test starts a broker)',
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-windows-kafka-'));
    const log = await openLog({ dataDir: dir, kafka });
    const id = randomUUID().slice(0, 8);
    try {
      await windowsScenario(log, join(dir, 'data'), { in: `clicks-${id}`, out: `page-minutes-${id}` });
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('late records to a side table: their columns, the window and the watermark, each once', async () => {
    await withLog('windows-late', async (log, dir) => {
      const dataDir = join(dir, 'data');
      const yaml = WINDOWED.replace(
        `    aggregates: { views: count(*), users: count(distinct user_id) }
    emit: final`,
        `    aggregates: { views: count(*), users: count(distinct user_id) }
    emit: final
    late: { table: late_clicks }`,
      );
      const def = fromYaml(yaml, 'late.yaml');
      const run = () => runUntilCaughtUp(def, { dataDir, log });
      await log.ensureTopic('clicks', { partitions: 3 });
      await produceClicks(log, clicks(1, 0, 2000));
      await run();
      const late = [
        { user_id: 'u1', page: 'home', ts: T0 + 1000 },
        { user_id: 'u2', page: 'cart', ts: T0 + 5 * MIN },
      ];
      await produceClicks(log, [...late, ...clicks(2, 2000, 1000)]);
      await run();
      const c = await run();
      const side = c.tables.get('late_clicks')!;
      const rows = await readRows(side, await side.snapshot());
      assert.deepEqual(
        rows.map((r) => `${r.user_id}|${r.page}|${r.ts}|${r.late_window}`).sort(),
        late.map((l) => `${l.user_id}|${l.page}|${l.ts}|per_minute`).sort(),
        'each late record once, with its columns and the window',
      );
      for (const r of rows) {
        assert.ok(Number(r._o) >= 0 && r.late_watermark !== null, 'the source position and the watermark');
        assert.ok(new Date(String(r.late_watermark)).getTime() > Number(r.ts), 'behind the watermark');
      }
      const dlq: string[] = [];
      for (let p = 0; p < 3; p++) {
        for (const rec of (await log.fetch('clicks.dlq', p, 0, { maxRecords: 100 })).records) {
          dlq.push(decodeDeadLetter(rec.value!).reason);
        }
      }
      assert.equal(dlq.length, 2, 'the other window still sends them to the DLQ');
      for (const reason of dlq) assert.match(reason, /^per_two_minutes: /);
    });
  });
});
