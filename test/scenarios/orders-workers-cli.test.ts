/**
 * `tributary run orders --kafka ... --workers 2`: one command starts two worker processes
 * that split the topic's partitions (each says which in its progress lines), a SIGTERM to
 * the command stops both cleanly, and the tables hold exactly the truth recomputed from
 * the topic. Also: what cannot run on workers is refused with a clear message.
 *
 * Needs a broker started by scripts/provision/kafka.start.sh (TRIBUTARY_TEST_KAFKA).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openLog } from '../../src/log/open.ts';
import { openOrdersTables } from '../../src/scenarios/orders/tables.ts';
import { startCli } from '../helpers/cli-child.ts';
import { assertOutputs, expectedFrom, readTopic } from './orders-oracle.ts';
import { inGroup } from './workers-helpers.ts';

const kafka = process.env.TRIBUTARY_TEST_KAFKA;
if (!kafka && process.env.CI) throw new Error('TRIBUTARY_TEST_KAFKA is not set in CI');
const skip = kafka ? false : 'TRIBUTARY_TEST_KAFKA is not set (npm test starts a broker)';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('--workers 2: two processes split the partitions, a SIGTERM stops both, tables exact', {
  skip,
  timeout: 180_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-workers-cli-'));
  const topic = `orders-wcli-${randomUUID().slice(0, 8)}`;
  const group = `tributary.wcli-${randomUUID().slice(0, 8)}`;
  const where = ['--data-dir', join(dir, 'data'), '--topic', topic, '--kafka', kafka!];
  try {
    const gen = startCli([
      'generate',
      'orders',
      '--events',
      '20000',
      '--seed',
      '3',
      '--malformed-rate',
      '0.01',
      '--duplicate-rate',
      '0.01',
      ...where,
    ]);
    const g = await gen.exit;
    assert.equal(g.code, 0, g.stderr);
    const cmd = startCli([
      'run',
      'orders',
      '--workers',
      '2',
      ...inGroup(group),
      '--max-records',
      '2000',
      '--progress-ms',
      '200',
      ...where,
    ]);
    let stderr = '';
    cmd.child.stderr!.on('data', (d) => {
      stderr += d;
    });
    // Both workers report, with disjoint partitions covering the topic, and the lag drains.
    const latest = () => {
      const byWorker = new Map<string, { owned: number[]; lag: number }>();
      for (const m of stderr.matchAll(/lag (\d+), worker (\d+) owns partitions \[([0-9,]*)\]/g)) {
        byWorker.set(m[2], { lag: Number(m[1]), owned: m[3] === '' ? [] : m[3].split(',').map(Number) });
      }
      return byWorker;
    };
    const end = Date.now() + 90_000;
    for (;;) {
      const w = [...latest().values()];
      const all = w.flatMap((x) => x.owned).sort((a, b) => a - b);
      if (w.length === 2 && w.every((x) => x.owned.length > 0 && x.lag === 0) && all.join() === '0,1,2,3')
        break;
      assert.ok(Date.now() < end, `two workers split the topic and drain it:\n${stderr.slice(-3000)}`);
      await sleep(200);
    }
    t.diagnostic(JSON.stringify([...latest()]));
    // The group's committed offsets (informative) reach each partition's end, as Kafka's own
    // tools read them.
    const probe = await openLog({ dataDir: join(dir, 'data'), kafka });
    try {
      const until = Date.now() + 20_000;
      for (;;) {
        const committed = await probe.committedOffsets(group, topic);
        const ends = await Promise.all([0, 1, 2, 3].map(async (p) => (await probe.offsets(topic, p)).latest));
        if (ends.every((e, p) => committed.get(p) === e)) break;
        assert.ok(
          Date.now() < until,
          `group offsets ${JSON.stringify([...committed])} reach the ends ${ends}`,
        );
        await sleep(200);
      }
    } finally {
      await probe.close();
    }
    await sleep(500);
    cmd.child.kill('SIGTERM');
    const done = await cmd.exit;
    assert.equal(done.code, 0, `the command and its workers stopped cleanly:\n${done.stderr.slice(-3000)}`);
    assert.equal(done.stdout.match(/^orders: /gm)?.length, 2, 'each worker printed its summary');

    const log = await openLog({ dataDir: join(dir, 'data'), kafka });
    try {
      const expected = expectedFrom(await readTopic(log, topic));
      await assertOutputs(expected, await openOrdersTables(join(dir, 'data')), log, `${topic}.dlq`);
    } finally {
      await log.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('what cannot run on workers is refused: the embedded log, window transforms', {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-workers-refused-'));
  try {
    const embedded = await startCli([
      'run',
      'orders',
      '--group',
      'g',
      '--data-dir',
      join(dir, 'a'),
      '--until-caught-up',
    ]).exit;
    assert.equal(embedded.code, 2, embedded.stderr);
    assert.match(embedded.stderr, /need Kafka/);
    if (kafka) {
      const windows = await startCli([
        'run',
        'clickstream',
        '--group',
        'g',
        '--data-dir',
        join(dir, 'b'),
        '--kafka',
        kafka,
        '--topic',
        `cs-${randomUUID().slice(0, 8)}`,
      ]).exit;
      assert.notEqual(windows.code, 0, windows.stderr);
      assert.match(windows.stderr, /keep window or dedup state for all partitions together/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--workers 6 --until-caught-up on 4 partitions: every worker stops once the group drained the topic; tables exact', {
  skip,
  timeout: 180_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-workers-drain-'));
  const topic = `orders-wdrain-${randomUUID().slice(0, 8)}`;
  const where = ['--data-dir', join(dir, 'data'), '--topic', topic, '--kafka', kafka!];
  try {
    const g = await startCli(['generate', 'orders', '--events', '6000', '--seed', '5', ...where]).exit;
    assert.equal(g.code, 0, g.stderr);
    const done = await startCli([
      'run',
      'orders',
      '--workers',
      '6',
      ...inGroup(`tributary.wdrain-${randomUUID().slice(0, 8)}`),
      '--until-caught-up',
      ...where,
    ]).exit;
    assert.equal(done.code, 0, `every worker stopped by itself:\n${done.stderr.slice(-3000)}`);
    const summaries = done.stdout.match(/^orders: .*/gm) ?? [];
    t.diagnostic(summaries.join('\n'));
    assert.equal(summaries.length, 6, 'each worker printed its summary');
    const log = await openLog({ dataDir: join(dir, 'data'), kafka });
    try {
      const expected = expectedFrom(await readTopic(log, topic));
      await assertOutputs(expected, await openOrdersTables(join(dir, 'data')), log, `${topic}.dlq`);
    } finally {
      await log.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
