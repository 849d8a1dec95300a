/**
 * The orders pipeline on three worker processes of one Kafka consumer group with its
 * tables and state on the S3 test server (`--lake s3://...`), each worker with a data
 * directory of its own (as on separate machines), table upkeep every 400 ms, while the
 * generator produces all along: one worker dies by SIGKILL in the middle of a batch (at
 * `sink.append.written`: files written, DLQ produced, no commit), a fourth joins, one
 * stops cleanly, and the topic grows from 4 to 6 partitions while events flow.
 * Afterwards both tables (delta-rs reading them on S3 too) and the DLQ equal the truth
 * recomputed from the topic (orders-oracle.ts), every table's versions are gapless, and
 * the upkeep ran on one worker at a time: the maintenance lease's records, collected
 * while the workers ran, show holders whose tenures never overlap, and each OPTIMIZE
 * commit, which names the holder and lease record it ran under, lies within that
 * holder's tenure.
 *
 * Needs TRIBUTARY_TEST_KAFKA (a broker allowing short group sessions) and
 * TRIBUTARY_TEST_S3 (scripts/provision/s3.start.sh).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Admin } from '@platformatic/kafka';
import { openLog } from '../../src/log/open.ts';
import { openOrdersTables } from '../../src/scenarios/orders/tables.ts';
import { openStore } from '../../src/storage/open.ts';
import type { S3Store } from '../../src/storage/s3.ts';
import { readTrace } from '../helpers/cli-child.ts';
import { freshBucket, s3Env, s3Missing } from '../helpers/s3.ts';
import { pythonSkip } from '../interop/helpers.ts';
import { assertGapless, assertWithinTenures, tableLog, tenures, watchLease } from './maintenance-history.ts';
import { assertDeltaRsReads, assertOutputs, expectedFrom, readTopic } from './orders-oracle.ts';
import { inGroup, sleep, split, start, type Worker } from './workers-helpers.ts';

const kafka = process.env.TRIBUTARY_TEST_KAFKA;
if (!kafka && process.env.CI) throw new Error('TRIBUTARY_TEST_KAFKA is not set in CI');
const skip = s3Missing() ?? pythonSkip() ?? (kafka ? undefined : 'TRIBUTARY_TEST_KAFKA is not set');
const TABLES = ['orders_events', 'orders_current'];

test('orders on Kafka workers with tables on S3: SIGKILL mid-batch, join, stop, grow; tables exact, upkeep one worker at a time', {
  skip: skip ?? false,
  timeout: 240_000,
}, async (t) => {
  Object.assign(process.env, s3Env());
  const dir = mkdtempSync(join(tmpdir(), 'tributary-orders-workers-s3-'));
  const bucket = await freshBucket('tributary-workers');
  const lake = bucket.url('warehouse');
  const topic = `orders-ws3-${randomUUID().slice(0, 8)}`;
  const group = `tributary.orders-ws3-${randomUUID().slice(0, 8)}`;
  const trace = join(dir, 'trace.tsv');
  const settings = (name: string) => [
    'run',
    'orders',
    '--lake',
    lake,
    '--data-dir',
    join(dir, name),
    '--topic',
    topic,
    '--kafka',
    kafka!,
    '--max-records',
    '1000',
    '--trigger-ms',
    '50',
    '--current-commit-ms',
    '300',
    '--maintenance-interval-ms',
    '400',
    // Not 0: a worker may still read a snapshot another's OPTIMIZE has since replaced.
    '--vacuum-retention-ms',
    '5000',
    '--progress-ms',
    '200',
  ];
  const worker = (name: string, env: NodeJS.ProcessEnv = {}) =>
    start(name, [...settings(name), ...inGroup(group)], env);
  const stores = TABLES.map((name) => openStore(`${lake}/${name}`));
  const watchers = stores.map((s) => watchLease(s));
  const generator = start('generator', [
    'generate',
    'orders',
    '--rate',
    '300',
    '--seed',
    '9',
    '--malformed-rate',
    '0.01',
    '--duplicate-rate',
    '0.01',
    '--out-of-order-rate',
    '0.05',
    '--data-dir',
    join(dir, 'generator'),
    '--topic',
    topic,
    '--kafka',
    kafka!,
  ]);
  const workers: Worker[] = [];
  const dead = new Set<number>();
  const admin = new Admin({ clientId: 'workers-s3-test', bootstrapBrokers: [kafka!] });
  let extra = 0;
  const began = Date.now();
  const at = () => `${((Date.now() - began) / 1000).toFixed(1)} s`;
  try {
    try {
      const log = await openLog({ dataDir: join(dir, 'probe'), kafka });
      try {
        for (
          let i = 0;
          !(await log.describeTopic(topic).then(
            () => true,
            () => false,
          ));
          i++
        ) {
          assert.ok(i < 100, 'the generator created the topic');
          await sleep(100);
        }
      } finally {
        await log.close();
      }
      const w1 = worker('w1');
      const w2 = worker('w2');
      // The third dies by SIGKILL at its 8th batch's append: files written, DLQ produced, no commit.
      const w3 = worker('w3', { TRIBUTARY_CRASH_AT: 'sink.append.written:8', TRIBUTARY_CRASH_TRACE: trace });
      workers.push(w1, w2, w3);
      // w3 may reach its crash point before the group has split the partitions in three.
      const w3Dead = () => w3.child.exitCode !== null || w3.child.signalCode !== null;
      const three = await split([w1, w2, w3], 'three workers', 60_000, undefined, w3Dead);
      t.diagnostic(`${at()} three workers: ${three ? JSON.stringify(three) : 'w3 died first'}`);
      const died = await w3.exit;
      dead.add(w3.child.pid!);
      assert.equal(died.signal, 'SIGKILL', `w3 was killed at its crash point:\n${died.stderr.slice(-2000)}`);
      assert.ok(
        readTrace(trace).some((l) => l.crash && l.name === 'sink.append.written'),
        'w3 died at sink.append.written',
      );
      t.diagnostic(
        `${at()} w3 killed; taken over: ${JSON.stringify(await split([w1, w2], 'after the kill'))}`,
      );
      const w4 = worker('w4');
      workers.push(w4);
      t.diagnostic(`${at()} w4 joined: ${JSON.stringify(await split([w1, w2, w4], 'w4 joined'))}`);
      // One stops cleanly; then the topic grows from 4 to 6 partitions while events flow
      // (a second generator, started after, writes to all six).
      w1.child.kill('SIGTERM');
      const left = await w1.exit;
      assert.equal(left.code, 0, `w1 stopped cleanly:\n${left.stderr.slice(-2000)}`);
      t.diagnostic(`${at()} w1 stopped: ${JSON.stringify(await split([w2, w4], 'w1 stopped'))}`);
      // The generator keys orders to partitions by the partition count: one that re-sent an
      // event after the growth could put the copy in another partition than its original
      // (docs/scale-out.md, "Limits"). So the first generator stops here and a second one,
      // started after the growth, produces while the workers still drain the backlog.
      generator.child.kill('SIGTERM');
      await admin.createPartitions({ topics: [{ name: topic, count: 6 }] });
      const more = start('generator-2', [
        'generate',
        'orders',
        '--events',
        '3000',
        '--seed',
        '10',
        '--malformed-rate',
        '0.01',
        '--data-dir',
        join(dir, 'generator-2'),
        '--topic',
        topic,
        '--kafka',
        kafka!,
      ]);
      t.diagnostic(`${at()} 6 partitions: ${JSON.stringify(await split([w2, w4], 'grown', 60_000, 6))}`);
      const g2 = await more.exit;
      assert.equal(g2.code, 0, `second generator failed:\n${g2.stderr}`);
      extra = Number(/produced (\d+) records/.exec(g2.stdout)?.[1]);
      await sleep(3_000);
    } catch (err) {
      for (const w of workers) w.child.kill('SIGKILL');
      throw err;
    } finally {
      generator.child.kill('SIGTERM');
      await admin.close();
    }
    const gen = await generator.exit;
    assert.equal(gen.code, 0, `generator failed:\n${gen.stderr}`);
    const produced = Number(/produced (\d+) records/.exec(gen.stdout)?.[1]) + extra;
    await sleep(2_000);
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    for (const w of workers) {
      const e = await w.exit;
      if (w.name !== 'w3') assert.equal(e.code, 0, `${w.name} exited cleanly:\n${e.stderr.slice(-2000)}`);
    }
    const records = await Promise.all(watchers.map((w) => w.stop()));
    t.diagnostic(`${at()} workers stopped`);

    // Upkeep: one holder at a time, each OPTIMIZE inside its holder's tenure. The history is
    // taken before the final run so that it covers exactly the workers.
    for (const [i, name] of TABLES.entries()) {
      const held = tenures(records[i], dead);
      const { versions, optimizes, untagged } = await tableLog(stores[i]);
      assertGapless(name, versions);
      assertWithinTenures(name, optimizes, records[i], held);
      const holders = new Set(held.map((x) => x.pid)); // a holder name is per round, its pid per worker
      t.diagnostic(
        `${name}: ${versions.length} versions; lease records ${records[i].size}, ${held.length} tenures by ${holders.size} workers; ${optimizes.length} OPTIMIZE commits under the lease by ${new Set(optimizes.map((o) => records[i].get(o.seq)?.pid)).size} workers (${untagged} untagged: a MERGE sink's own compaction)`,
      );
      assert.ok(holders.size >= 2, `${name}: upkeep ran on more than one worker over the run`);
    }
    const events = await tableLog(stores[0]);
    assert.ok(events.optimizes.length > 0, 'orders_events was compacted under the lease');

    // What the workers left undone (nothing, or the last records), by one process.
    const final = start('final', [...settings('final'), '--until-caught-up']);
    const done = await final.exit;
    assert.equal(done.code, 0, `final run failed:\n${done.stderr}`);

    const log = await openLog({ dataDir: join(dir, 'probe'), kafka });
    const tables = await openOrdersTables(join(dir, 'probe'), { lake });
    try {
      const expected = expectedFrom(await readTopic(log, topic));
      assert.equal(
        expected.events.size + expected.rejects.size + expected.duplicates,
        produced,
        'the topic holds every record the generator produced',
      );
      await assertOutputs(expected, tables, log, `${topic}.dlq`);
      await assertDeltaRsReads(lake, expected, tables);
      for (const [i, name] of TABLES.entries()) {
        const { versions } = await tableLog(stores[i]);
        assertGapless(`${name} after the final run`, versions);
      }
      t.diagnostic(
        `${at()} ${produced} records (${expected.rejects.size} invalid, ${expected.duplicates} duplicates)`,
      );
    } finally {
      await log.close();
      for (const table of [tables.events, tables.current]) (table.store as S3Store).destroy();
    }
  } finally {
    await Promise.all(watchers.map((w) => w.stop().catch(() => {})));
    for (const s of stores) (s as S3Store).destroy();
    await bucket.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});
