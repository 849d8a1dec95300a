/**
 * Partitions added to the topic while two workers run: the group assigns the new ones,
 * the worker given one takes the topic's new size up and grows the DLQ topic to match,
 * and events produced into them land like the others. Afterwards both tables and the DLQ equal the truth
 * recomputed from the topic.
 *
 * Needs a broker started by scripts/provision/kafka.start.sh (TRIBUTARY_TEST_KAFKA).
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
import { assertOutputs, expectedFrom, readTopic } from './orders-oracle.ts';
import { inGroup, split, start, type Worker } from './workers-helpers.ts';

const kafka = process.env.TRIBUTARY_TEST_KAFKA;
if (!kafka && process.env.CI) throw new Error('TRIBUTARY_TEST_KAFKA is not set in CI');

test('partitions added while workers run are assigned and processed; tables exact', {
  skip: kafka ? false : 'TRIBUTARY_TEST_KAFKA is not set (npm test starts a broker)',
  timeout: 180_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-orders-grow-'));
  const topic = `orders-grow-${randomUUID().slice(0, 8)}`;
  const where = ['--data-dir', join(dir, 'data'), '--topic', topic, '--kafka', kafka!];
  const base = [
    'run',
    'orders',
    '--max-records',
    '2000',
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
    ...inGroup(`tributary.orders-grow-${randomUUID().slice(0, 8)}`),
  ];
  const generate = async (seed: string) => {
    const g = await start('generator', [
      'generate',
      'orders',
      '--events',
      '6000',
      '--seed',
      seed,
      '--malformed-rate',
      '0.01',
      ...where,
    ]).exit;
    assert.equal(g.code, 0, g.stderr);
  };
  const workers: Worker[] = [];
  const admin = new Admin({ clientId: 'grow-test', bootstrapBrokers: [kafka!] });
  try {
    await generate('3');
    const w1 = start('w1', runArgs);
    const w2 = start('w2', runArgs);
    workers.push(w1, w2);
    t.diagnostic(`4 partitions: ${JSON.stringify(await split([w1, w2], 'two workers'))}`);
    // The source topic only: the workers grow its DLQ topic themselves.
    await admin.createPartitions({ topics: [{ name: topic, count: 6 }] });
    await generate('21');
    t.diagnostic(
      `6 partitions: ${JSON.stringify(await split([w1, w2], 'after adding partitions', 60_000, 6))}`,
    );
    // The workers drain every partition, the new ones included: orders_events' progress
    // (its txn per partition) reaches each partition's end.
    const log = await openLog({ dataDir: join(dir, 'data'), kafka });
    try {
      const tables = await openOrdersTables(join(dir, 'data'));
      const end = Date.now() + 90_000;
      for (;;) {
        const snap = await tables.events.snapshot();
        let left = 0;
        for (let p = 0; p < 6; p++) {
          const last = (await log.offsets(topic, p)).latest - 1;
          if (last >= 0 && (snap.txnVersion(`orders/orders_events/${topic}/${p}`) ?? -1) < last) left++;
        }
        if (left === 0) break;
        assert.ok(
          Date.now() < end,
          `the workers drained every partition (${left} left):\n${workers.map((w) => w.stderr().slice(-1500)).join('\n---\n')}`,
        );
        await new Promise((r) => setTimeout(r, 300));
      }
    } finally {
      await log.close();
    }
  } catch (err) {
    for (const w of workers) w.child.kill('SIGKILL');
    throw err;
  } finally {
    await admin.close();
  }
  for (const w of workers) w.child.kill('SIGTERM');
  for (const w of workers) {
    const e = await w.exit;
    assert.equal(e.code, 0, `${w.name} exited cleanly:\n${e.stderr.slice(-2000)}`);
  }
  const final = await start('final', [...base, '--until-caught-up']).exit;
  assert.equal(final.code, 0, final.stderr);
  assert.match(final.stdout, / 0 records in/, 'the workers left nothing to the final run');
  const log = await openLog({ dataDir: join(dir, 'data'), kafka });
  try {
    const records = await readTopic(log, topic);
    assert.ok(
      records.some((r) => r.partition >= 4),
      'events were produced into the new partitions',
    );
    await assertOutputs(
      expectedFrom(records),
      await openOrdersTables(join(dir, 'data')),
      log,
      `${topic}.dlq`,
    );
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
