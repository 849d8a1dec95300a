/**
 * A worker frozen past its group session (SIGSTOP: what a long GC pause, a frozen VM or a
 * suspended laptop does) while events flow: the other worker takes its partitions over;
 * when it wakes up (SIGCONT) it may still hold a batch for partitions that are no longer
 * its own. Its commits are fenced by their progress (TABLE_PROGRESS_FENCED), it releases
 * everything, joins again and gets a share back. Each pause is repeated a few times at
 * different moments; afterwards both tables equal the truth recomputed from the topic,
 * nothing twice.
 *
 * The DLQ too: each source partition's dead letters are written in Kafka transactions
 * under a transactional id of that partition (src/stream/sinks/dlq.ts), which its new
 * owner claims before reading the DLQ's tail. A worker frozen while its DLQ produce is in
 * flight finds its transaction aborted and its commit fenced when it wakes up
 * (LOG_WRITER_FENCED), so the DLQ holds every rejected record exactly once, with its bytes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openLog } from '../../src/log/open.ts';
import { openOrdersTables } from '../../src/scenarios/orders/tables.ts';
import { assertOutputs, expectedFrom, readTopic } from './orders-oracle.ts';
import { inGroup, owned, sleep, split, start, type Worker } from './workers-helpers.ts';

const kafka = process.env.TRIBUTARY_TEST_KAFKA;
if (!kafka && process.env.CI) throw new Error('TRIBUTARY_TEST_KAFKA is not set in CI');

test('a worker frozen past its session cannot commit what it lost; tables exact', {
  skip: kafka ? false : 'TRIBUTARY_TEST_KAFKA is not set (npm test starts a broker)',
  timeout: 240_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-orders-pause-'));
  const topic = `orders-pause-${randomUUID().slice(0, 8)}`;
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
    ...where,
  ];
  const runArgs = [
    ...base,
    '--progress-ms',
    '200',
    ...inGroup(`tributary.orders-pause-${randomUUID().slice(0, 8)}`, 2000),
  ];
  const generator = start('generator', [
    'generate',
    'orders',
    '--rate',
    '400',
    '--seed',
    '9',
    '--malformed-rate',
    '0.01',
    '--duplicate-rate',
    '0.01',
    ...where,
  ]);
  const workers: Worker[] = [];
  try {
    await sleep(1_500);
    const w1 = start('w1', runArgs);
    const w2 = start('w2', runArgs);
    workers.push(w1, w2);
    await split([w1, w2], 'two workers');
    for (let i = 0; i < 3; i++) {
      await sleep(700 + 500 * i);
      const before = w2.stderr().length;
      w2.child.kill('SIGSTOP');
      // w1 takes everything over once w2's session has expired.
      const end = Date.now() + 30_000;
      while ((owned(w1) ?? []).length !== 4) {
        assert.ok(Date.now() < end, `w1 took w2's partitions over:\n${w1.stderr().slice(-2000)}`);
        await sleep(100);
      }
      await sleep(1_000);
      w2.child.kill('SIGCONT');
      t.diagnostic(
        `pause ${i + 1}: back to ${JSON.stringify(await split([w1, w2], `after pause ${i + 1}`))}`,
      );
      const w2log = w2.stderr().slice(before);
      const fenced = (w2log.match(/another writer/g) ?? []).length;
      const lost = (w2log.match(/no answer from the consumer group/g) ?? []).length;
      const dlqFenced = (w2log.match(/dead-letter writer of .* was fenced/g) ?? []).length;
      t.diagnostic(
        `pause ${i + 1}: w2's commits fenced ${fenced}, batches dropped for lost membership ${lost}, DLQ writes fenced ${dlqFenced}`,
      );
    }
  } catch (err) {
    for (const w of workers) w.child.kill('SIGKILL');
    throw err;
  } finally {
    generator.child.kill('SIGTERM');
  }
  const gen = await generator.exit;
  assert.equal(gen.code, 0, gen.stderr);
  await sleep(2_000);
  for (const w of workers) w.child.kill('SIGTERM');
  for (const w of workers) {
    const e = await w.exit;
    assert.equal(e.code, 0, `${w.name} exited cleanly:\n${e.stderr.slice(-2000)}`);
  }
  const final = await start('final', [...base, '--until-caught-up']).exit;
  assert.equal(final.code, 0, final.stderr);
  const log = await openLog({ dataDir: join(dir, 'data'), kafka });
  try {
    const expected = expectedFrom(await readTopic(log, topic));
    await assertOutputs(expected, await openOrdersTables(join(dir, 'data')), log, `${topic}.dlq`);
    const count = (w: Worker, re: RegExp) => (w.stderr().match(re) ?? []).length;
    t.diagnostic(
      `tables and DLQ exact; ${expected.rejects.size} rejects, each once in the DLQ; commits fenced: ${workers.map((w) => `${w.name} ${count(w, /another writer/g)}`).join(', ')}; DLQ writes fenced: ${workers.map((w) => `${w.name} ${count(w, /dead-letter writer of .* was fenced/g)}`).join(', ')}`,
    );
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
