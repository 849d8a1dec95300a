/**
 * The orders pipeline with its tables and state on S3 (`tributary run orders --lake
 * s3://bucket/warehouse`, the real S3 test server): the generator produces all along
 * while the pipeline is killed with SIGKILL at named crash points (a commit put but its
 * outcome unseen, data files written but not committed, inside a MERGE, VACUUM, a
 * checkpoint, ...) and at random moments, then a last run drains the topic. Every valid
 * event must be in orders_events once, every invalid one in the DLQ once, orders_current
 * the latest state per order (orders-oracle.ts recomputes it from the log), delta-rs must
 * read the same from S3, and a run of the same input into a local directory must hold
 * the same rows. With the embedded log, and with Kafka when TRIBUTARY_TEST_KAFKA is set
 * (then the data directory holds nothing a restart needs: the log is the broker's, the
 * tables and state are on S3).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import type { CrashPointName } from '../../src/core/crash-points.ts';
import { openLog } from '../../src/log/open.ts';
import { openOrdersTables } from '../../src/scenarios/orders/tables.ts';
import type { S3Store } from '../../src/storage/s3.ts';
import { assertKilledAt, type Kill, killedRun, readTrace, startCli } from '../helpers/cli-child.ts';
import { freshBucket, s3Env, s3Missing } from '../helpers/s3.ts';
import { deltaRsRead, pythonSkip } from '../interop/helpers.ts';
import { assertDeltaRsReads, assertOutputs, expectedFrom, readTopic } from './orders-oracle.ts';

const KILLS: Kill[] = [
  { point: 'commit.after-put', n: 2 },
  { point: 'sink.append.written', n: 2 },
  { point: 'merge.written', n: 1 },
  { delayMs: 2000 },
  { point: 'sink.merge.committed', n: 1 },
  { point: 'checkpoint.written', n: 1 },
  { point: 'vacuum.deleted', n: 1 },
];

const skip = s3Missing() ?? pythonSkip();

async function ordersOnS3(t: TestContext, kafka: string | undefined): Promise<void> {
  // The children (and this process's own reads of the tables) reach the server through
  // the standard AWS environment.
  Object.assign(process.env, s3Env());
  const dir = mkdtempSync(join(tmpdir(), 'tributary-orders-s3-'));
  const bucket = await freshBucket('tributary-orders');
  try {
    const data = join(dir, 'data');
    const lake = bucket.url('warehouse');
    const trace = join(dir, 'crash-trace.tsv');
    const topic = kafka ? `orders-s3-${randomUUID().slice(0, 8)}` : 'orders';
    const where = ['--data-dir', data, '--topic', topic, ...(kafka ? ['--kafka', kafka] : [])];
    const settings = [
      '--max-records',
      '500',
      '--trigger-ms',
      '50',
      '--maintenance-interval-ms',
      '400',
      '--current-commit-ms',
      '300',
      '--vacuum-retention-ms',
      '0',
      ...where,
    ];
    const pipeline = ['run', 'orders', '--lake', lake, ...settings];
    const generator = startCli([
      'generate',
      'orders',
      '--rate',
      '300',
      '--seed',
      '21',
      '--malformed-rate',
      '0.01',
      '--duplicate-rate',
      '0.01',
      '--out-of-order-rate',
      '0.05',
      ...where,
    ]);
    const selfKilled = new Map<number, CrashPointName>();
    const missed: string[] = [];
    try {
      for (const [i, kill] of KILLS.entries()) {
        const what = 'point' in kill ? `run ${i} armed at ${kill.point}:${kill.n}` : `run ${i}`;
        const run = await killedRun(pipeline, kill, { trace, armedTimeoutMs: 30_000, what });
        if ('point' in kill) {
          if (run.reached) selfKilled.set(run.pid, kill.point);
          else missed.push(`${kill.point}:${kill.n}`);
        }
      }
    } finally {
      generator.child.kill('SIGTERM');
    }
    const gen = await generator.exit;
    assert.equal(gen.code, 0, `generator failed:\n${gen.stderr}`);
    assertKilledAt(trace, selfKilled);
    t.diagnostic(
      `killed at ${[...selfKilled.values()].join(', ')}; not reached in time: ${missed.join(', ') || 'none'}`,
    );
    const crashes = readTrace(trace).filter((l) => l.crash);
    assert.ok(crashes.length >= 4, `most armed runs died at their point (${crashes.length})`);

    const final = await startCli([...pipeline, '--until-caught-up']).exit;
    assert.equal(final.code, 0, `final run failed:\n${final.stderr}`);

    const log = await openLog({ dataDir: data, kafka });
    const tables = await openOrdersTables(data, { lake });
    try {
      const expected = expectedFrom(await readTopic(log, topic));
      assert.ok(expected.events.size > 1000, `enough input (${expected.events.size} events)`);
      await assertOutputs(expected, tables, log, `${topic}.dlq`);
      await assertDeltaRsReads(lake, expected, tables);

      // The same input, tables in a local directory: delta-rs reads the same rows.
      const localLake = join(dir, 'local-lake');
      const local = await startCli(['run', 'orders', '--until-caught-up', ...settings, '--lake', localLake])
        .exit;
      assert.equal(local.code, 0, `local run failed:\n${local.stderr}`);
      for (const name of ['orders_events', 'orders_current']) {
        const onS3 = await deltaRsRead(`${lake}/${name}`);
        const onDisk = await deltaRsRead(join(localLake, name));
        assert.equal(onS3.rows.length, onDisk.rows.length, `${name}: as many rows on S3 as on disk`);
        assert.deepEqual(stable(name, onS3.rows), stable(name, onDisk.rows), `${name}: the same rows`);
      }
    } finally {
      await log.close();
      for (const table of [tables.events, tables.current]) (table.store as S3Store).destroy();
    }
  } finally {
    await bucket.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('orders with its tables on S3 survives SIGKILL at crash points, and equals a local run', {
  timeout: 1_200_000,
}, () => {
  test('embedded log', { skip: skip ?? false, timeout: 600_000 }, (t) => ordersOnS3(t, undefined));
  const kafka = process.env.TRIBUTARY_TEST_KAFKA;
  test(
    'Kafka',
    {
      skip: skip ?? (kafka ? false : 'TRIBUTARY_TEST_KAFKA is not set (npm test starts a broker)'),
      timeout: 600_000,
    },
    (t) => ordersOnS3(t, kafka),
  );
});

/**
 * Rows without the columns that depend on how the input was cut into batches: a
 * re-sent duplicate of an order's latest event may be the occurrence orders_current
 * keeps (the oracle checks either is one of the event's occurrences).
 */
function stable(table: string, rows: Record<string, unknown>[]): Record<string, unknown>[] {
  if (table !== 'orders_current') return rows;
  return rows
    .map(({ source_partition: _p, source_offset: _o, updated_at: _u, ...rest }) => rest)
    .sort((a, b) => String(a.order_id).localeCompare(String(b.order_id)));
}
