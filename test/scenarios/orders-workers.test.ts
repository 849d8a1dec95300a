/**
 * The orders pipeline on several worker processes sharing its topic through a Kafka
 * consumer group (docs/scale-out.md), while the generator produces all along: two
 * workers split the partitions, a third joins, one dies by SIGKILL in the middle of a
 * batch (at the crash point `sink.append.written`: files written, DLQ produced, commit
 * not made) and its partitions are taken over, a fourth joins, one is stopped cleanly.
 * Afterwards both tables and the DLQ must hold exactly what a single straight run gives
 * — the truth recomputed from the topic (orders-oracle.ts), every column, delta-rs
 * reading the tables too — nothing lost or duplicated.
 *
 * Needs a broker started by scripts/provision/kafka.start.sh (TRIBUTARY_TEST_KAFKA),
 * which lets a group have 3-second sessions.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openLog } from '../../src/log/open.ts';
import { openOrdersTables } from '../../src/scenarios/orders/tables.ts';
import { readTrace } from '../helpers/cli-child.ts';
import { pythonSkip } from '../interop/helpers.ts';
import { assertDeltaRsReads, assertOutputs, expectedFrom, readTopic } from './orders-oracle.ts';
import { inGroup, sleep, split, start, type Worker } from './workers-helpers.ts';

const kafka = process.env.TRIBUTARY_TEST_KAFKA;
if (!kafka && process.env.CI) throw new Error('TRIBUTARY_TEST_KAFKA is not set in CI');

test('orders on Kafka workers: split, SIGKILL mid-batch taken over, join, clean stop; tables equal a straight run', {
  skip: kafka ? false : 'TRIBUTARY_TEST_KAFKA is not set (npm test starts a broker)',
  timeout: 240_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-orders-workers-'));
  const topic = `orders-workers-${randomUUID().slice(0, 8)}`;
  const group = `tributary.orders-workers-${randomUUID().slice(0, 8)}`;
  const trace = join(dir, 'trace.tsv');
  const where = ['--data-dir', join(dir, 'data'), '--topic', topic, '--kafka', kafka!];
  const base = [
    'run',
    'orders',
    '--max-records',
    '1000',
    '--trigger-ms',
    '50',
    '--current-commit-ms',
    '300',
    '--progress-ms',
    '200',
    ...where,
  ];
  const runArgs = [...base, ...inGroup(group)];
  const generator = start('generator', [
    'generate',
    'orders',
    '--rate',
    '300',
    '--seed',
    '5',
    '--malformed-rate',
    '0.01',
    '--duplicate-rate',
    '0.01',
    '--out-of-order-rate',
    '0.05',
    ...where,
  ]);
  const workers: Worker[] = [];
  const began = Date.now();
  const at = () => `${((Date.now() - began) / 1000).toFixed(1)} s`;
  try {
    const log = await openLog({ dataDir: join(dir, 'data'), kafka });
    try {
      for (let i = 0; ; i++) {
        const exists = await log.describeTopic(topic).then(
          () => true,
          () => false,
        );
        if (exists) break;
        assert.ok(i < 100, 'the generator created the topic');
        await sleep(100);
      }
    } finally {
      await log.close();
    }
    const w1 = start('w1', runArgs);
    const w2 = start('w2', runArgs);
    workers.push(w1, w2);
    t.diagnostic(`${at()} two workers: ${JSON.stringify(await split([w1, w2], 'two workers'))}`);

    // The third dies by SIGKILL at its 12th batch's append: files written, DLQ produced, no commit.
    const w3 = start('w3', runArgs, {
      TRIBUTARY_CRASH_AT: 'sink.append.written:12',
      TRIBUTARY_CRASH_TRACE: trace,
    });
    workers.push(w3);
    // w3 may reach its crash point before the group has split the partitions in three.
    const w3Dead = () => w3.child.exitCode !== null || w3.child.signalCode !== null;
    const three = await split([w1, w2, w3], 'three workers', 60_000, undefined, w3Dead);
    t.diagnostic(`${at()} three workers: ${three ? JSON.stringify(three) : 'w3 died first'}`);
    const died = await w3.exit;
    assert.equal(died.signal, 'SIGKILL', `w3 was killed at its crash point:\n${died.stderr.slice(-2000)}`);
    assert.ok(
      readTrace(trace).some((l) => l.crash && l.name === 'sink.append.written'),
      'w3 died at sink.append.written',
    );
    t.diagnostic(`${at()} w3 killed; taken over: ${JSON.stringify(await split([w1, w2], 'after the kill'))}`);

    const w4 = start('w4', runArgs);
    workers.push(w4);
    t.diagnostic(`${at()} w4 joined: ${JSON.stringify(await split([w1, w2, w4], 'w4 joined'))}`);

    w2.child.kill('SIGTERM');
    const stopped = await w2.exit;
    assert.equal(stopped.code, 0, `w2 stopped cleanly:\n${stopped.stderr.slice(-2000)}`);
    t.diagnostic(`${at()} w2 stopped: ${JSON.stringify(await split([w1, w4], 'w2 stopped'))}`);
    await sleep(1_000);
  } catch (err) {
    for (const w of workers) w.child.kill('SIGKILL');
    throw err;
  } finally {
    generator.child.kill('SIGTERM');
  }
  const gen = await generator.exit;
  assert.equal(gen.code, 0, `generator failed:\n${gen.stderr}`);
  const produced = Number(/produced (\d+) records/.exec(gen.stdout)?.[1]);
  // Let the last workers drain, then stop them cleanly.
  await sleep(3_000);
  for (const w of workers)
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  for (const w of workers) {
    const e = await w.exit;
    if (w.name !== 'w3') assert.equal(e.code, 0, `${w.name} exited cleanly:\n${e.stderr.slice(-2000)}`);
  }
  // What the workers left undone (nothing, or the last records), by one process.
  const final = start('final', [...base, '--until-caught-up']);
  const done = await final.exit;
  assert.equal(done.code, 0, `final run failed:\n${done.stderr}`);
  t.diagnostic(`final run: ${done.stdout.trim()}`);

  const log = await openLog({ dataDir: join(dir, 'data'), kafka });
  try {
    const tables = await openOrdersTables(join(dir, 'data'));
    const expected = expectedFrom(await readTopic(log, topic));
    assert.equal(
      expected.events.size + expected.rejects.size + expected.duplicates,
      produced,
      'the topic holds every record the generator produced',
    );
    await assertOutputs(expected, tables, log, `${topic}.dlq`);
    if (pythonSkip() === undefined) await assertDeltaRsReads(join(dir, 'data', 'tables'), expected, tables);
    else t.diagnostic('delta-rs check skipped: no Python with deltalake');
    t.diagnostic(`${produced} records (${expected.rejects.size} invalid, ${expected.duplicates} duplicates)`);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
