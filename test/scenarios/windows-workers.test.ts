/**
 * A windowed pipeline (dedup, a final and an updating window, state per source partition)
 * on three worker processes of one Kafka consumer group, tables and state on the S3 test
 * server, each worker with a data directory of its own, while clicks flow: one worker dies
 * by SIGKILL in the middle of a batch (its state and plan saved, no sink committed), a
 * fourth joins, one stops with SIGTERM, and the topic gains two partitions (new users'
 * clicks go there; each user stays in one partition). Afterwards the tables and the DLQ
 * equal a single process's straight run over the same topic (restart equivalence with
 * rebalances) and the truth computed in plain code partition by partition.
 *
 * Needs TRIBUTARY_TEST_KAFKA (a broker allowing short group sessions) and TRIBUTARY_TEST_S3.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Admin } from '@platformatic/kafka';
import { openLog } from '../../src/log/open.ts';
import { readTrace } from '../helpers/cli-child.ts';
import { freshBucket, s3Env, s3Missing } from '../helpers/s3.ts';
import {
  clicksByPartition,
  expectedOutputs,
  outputLines,
  type Produced,
  partitionedDefinition,
  produceUserClicks,
  userClicks,
} from '../pipeline/partitioned-fixtures.ts';

import { drained, inGroup, sleep, split, start, type Worker } from './workers-helpers.ts';

const kafka = process.env.TRIBUTARY_TEST_KAFKA;
if (!kafka && process.env.CI) throw new Error('TRIBUTARY_TEST_KAFKA is not set in CI');
const skip = s3Missing() ?? (kafka ? undefined : 'TRIBUTARY_TEST_KAFKA is not set');

test('windowed pipeline on Kafka workers, state per partition on S3: kill, join, stop, grow; equal to a straight run', {
  skip: skip ?? false,
  timeout: 300_000,
}, async (t) => {
  Object.assign(process.env, s3Env());
  const dir = mkdtempSync(join(tmpdir(), 'tributary-windows-workers-'));
  const bucket = await freshBucket('tributary-wworkers');
  const id = randomUUID().slice(0, 8);
  const topic = `uclicks-${id}`;
  const group = `tributary.uclicks-${id}`;
  const definition = partitionedDefinition({ topic, dlq: `${topic}.dlq` });
  const straightDefinition = partitionedDefinition({ topic, dlq: `${topic}.straight.dlq` });
  const file = join(dir, 'u.yaml');
  const straightFile = join(dir, 'straight.yaml');
  writeFileSync(file, definition);
  writeFileSync(straightFile, straightDefinition);
  const lake = bucket.url('workers');
  const straightLake = bucket.url('straight');
  const trace = join(dir, 'trace.tsv');
  const settings = (name: string) => [
    'run',
    file,
    '--lake',
    lake,
    '--data-dir',
    join(dir, name),
    '--kafka',
    kafka!,
  ];
  const worker = (name: string, env: NodeJS.ProcessEnv = {}) =>
    start(name, [...settings(name), '--progress-ms', '200', ...inGroup(group)], env);
  const log = await openLog({ dataDir: join(dir, 'producer'), kafka });
  const workers: Worker[] = [];
  const began = Date.now();
  const at = () => `${((Date.now() - began) / 1000).toFixed(1)} s`;
  // Clicks in slices while the workers run: users 0-23 in partitions 0-2; after the topic
  // grows, users 24-35 in the new partitions 3 and 4.
  let partitions = 3;
  let sent = 0;
  let stop = false;
  const produce = async (slices: Produced[][]) => {
    for (const slice of slices) {
      if (stop) return;
      await produceUserClicks(log, topic, slice);
      sent += slice.length;
      await sleep(150);
    }
  };
  const slices = (seed: number, from: number, n: number, grown: boolean): Produced[][] => {
    const rows = grown
      ? userClicks(seed, from, n, 5, { first: 24, count: 12 }, (u) => 3 + (u % 2))
      : userClicks(seed, from, n, 3);
    return Array.from({ length: Math.ceil(rows.length / 400) }, (_, i) => rows.slice(i * 400, (i + 1) * 400));
  };
  const admin = new Admin({ clientId: 'windows-workers-test', bootstrapBrokers: [kafka!] });
  try {
    await log.ensureTopic(topic, { partitions });
    let flowing: Promise<void> = produce(slices(3, 0, 4000, false));
    try {
      const w1 = worker('w1');
      const w2 = worker('w2');
      // The third dies at its 6th batch plan: its state and plan saved, no sink committed.
      const w3 = worker('w3', { TRIBUTARY_CRASH_AT: 'plan.written:6', TRIBUTARY_CRASH_TRACE: trace });
      workers.push(w1, w2, w3);
      // w3 counts a plan per partition and batch: owning every partition before the others
      // joined, it may reach its 6th plan (and die) before the group split them in three.
      const dead = () => w3.child.exitCode !== null || w3.child.signalCode !== null;
      const three = await split([w1, w2, w3], 'three workers', 60_000, 3, dead);
      t.diagnostic(`${at()} three workers: ${three ? JSON.stringify(three) : 'w3 died first'}`);
      await flowing;
      flowing = produce(slices(4, 4000, 6000, false));
      const died = await w3.exit;
      assert.equal(died.signal, 'SIGKILL', `w3 was killed at its crash point:\n${died.stderr.slice(-2000)}`);
      assert.ok(
        readTrace(trace).some((l) => l.crash && l.name === 'plan.written'),
        'w3 died at plan.written',
      );
      t.diagnostic(
        `${at()} w3 killed; taken over: ${JSON.stringify(await split([w1, w2], 'after the kill', 60_000, 3))}`,
      );
      const w4 = worker('w4');
      workers.push(w4);
      t.diagnostic(`${at()} w4 joined: ${JSON.stringify(await split([w1, w2, w4], 'w4 joined', 60_000, 3))}`);
      w1.child.kill('SIGTERM');
      const left = await w1.exit;
      assert.equal(left.code, 0, `w1 stopped cleanly:\n${left.stderr.slice(-2000)}`);
      t.diagnostic(`${at()} w1 stopped: ${JSON.stringify(await split([w2, w4], 'w1 stopped', 60_000, 3))}`);
      await flowing;
      // The topic grows while clicks flow; the new users' clicks go to the new partitions.
      await admin.createPartitions({ topics: [{ name: topic, count: 5 }] });
      partitions = 5;
      flowing = produce([...slices(5, 10_000, 3000, false), ...slices(6, 0, 4000, true)]);
      t.diagnostic(
        `${at()} 5 partitions: ${JSON.stringify(await split([w2, w4], 'after growing', 60_000, 5))}`,
      );
      await flowing;
      const live = [w2, w4];
      t.diagnostic(
        `${at()} all produced; the workers drained the topic after ${await drained(log, group, topic, live)} ms`,
      );
    } catch (err) {
      stop = true;
      for (const w of workers) w.child.kill('SIGKILL');
      throw err;
    }
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    for (const w of workers) {
      const e = await w.exit;
      if (w.name !== 'w3') assert.equal(e.code, 0, `${w.name} exited cleanly:\n${e.stderr.slice(-2000)}`);
    }
    t.diagnostic(`${at()} workers stopped; ${sent} records produced into ${partitions} partitions`);

    // What the workers left (the last records at most), by one process; then the straight run.
    const final = await start('final', [...settings('final'), '--until-caught-up']).exit;
    assert.equal(final.code, 0, `final run failed:\n${final.stderr}`);
    const leftOver = Number(/(\d+) records in/.exec(final.stdout)?.[1]);
    t.diagnostic(`the final run read ${leftOver} records the workers had not committed`);
    // Only what came between the drain and the stop (nothing: the producer had finished).
    assert.equal(leftOver, 0, `the workers did the work (${leftOver} of ${sent} left)`);
    const straight = await start('straight', [
      'run',
      straightFile,
      '--lake',
      straightLake,
      '--data-dir',
      join(dir, 'straight'),
      '--kafka',
      kafka!,
      '--until-caught-up',
    ]).exit;
    assert.equal(straight.code, 0, `straight run failed:\n${straight.stderr}`);

    const got = await outputLines(log, join(dir, 'read'), definition, lake, `${topic}.dlq`);
    const want = await outputLines(
      log,
      join(dir, 'read-straight'),
      straightDefinition,
      straightLake,
      `${topic}.straight.dlq`,
    );
    const truth = expectedOutputs(await clicksByPartition(log, topic));
    t.diagnostic(
      `${got.minutes.length} final minutes, ${got.hops.length} hop windows, ${got.late.length} late`,
    );
    assert.ok(truth.minutes.length > 500 && truth.late.length >= 5);
    assert.deepEqual(want.minutes, truth.minutes, 'the straight run equals the truth (final windows)');
    assert.deepEqual(want.hops, truth.hops, 'the straight run equals the truth (hop windows)');
    assert.deepEqual(got.minutes, want.minutes, 'the workers wrote the straight run’s final windows');
    assert.deepEqual(got.hops, want.hops, 'the workers wrote the straight run’s hop windows');
    assert.deepEqual(
      got.late,
      truth.late.map((x) => `${x} late`),
      'the DLQ holds each late click once',
    );
    assert.deepEqual(got.late, want.late, 'the DLQ equals the straight run’s');
  } finally {
    stop = true;
    await admin.close();
    await log.close();
    await bucket.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});
