/**
 * Seed 003's failure-handling table, with the polling capture: `tributary run cdc
 * --source URL` runs as a child process while this process's workload inserts and
 * updates orders in the source (a real PostgreSQL server, and the embedded PGlite served
 * on a port), and is SIGKILLed again and again:
 * - the producer after its query, before the publish (`capture.polling.queried`);
 * - the producer after the publish, before the state update (`capture.polling.published`);
 * - the consumer mid-stream: a MERGE's files written (`merge.written`), a commit put
 *   (`commit.after-put`), one sink committed and the others not (`sink.merge.committed`);
 * - the broker (the embedded log lives in the process): a produce written and not yet
 *   indexed or flushed (`log.append.written`), and kills at random moments.
 * Each armed run must die at its point (the crash trace says so). A last run with
 * --until-caught-up lands what is left; then the lake is compared with the source table
 * read with plain SQL (cdc-oracle.ts): nothing lost, nothing doubled. A second scenario
 * polls created_at with inserts only (the seed's producer): the orders table then holds
 * each valid order exactly once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { Rng } from '../../src/connectors/generators/rng.ts';
import { PostgresPool } from '../../src/connectors/postgres/client.ts';
import { EmbeddedPostgres } from '../../src/connectors/postgres/embedded.ts';
import type { CrashPointName } from '../../src/core/crash-points.ts';
import { setupFoodOrders } from '../../src/scenarios/food-orders/schema.ts';
import { FoodOrdersWorkload, type WorkloadMix } from '../../src/scenarios/food-orders/workload.ts';
import { freshDatabase, postgresMissing } from '../connectors/postgres/server.ts';
import { assertKilledAt, type Kill, killedRun, startCli } from '../helpers/cli-child.ts';
import { assertLakeMatchesSource } from './cdc-oracle.ts';

const ARMED_TIMEOUT_MS = 40_000;

interface Source {
  url: string;
  close(): Promise<void>;
}

async function openSource(kind: 'server' | 'pglite', dir: string): Promise<Source> {
  if (kind === 'server') {
    const db = await freshDatabase('cdc_crash');
    return { url: db.url, close: () => db.drop() };
  }
  const embedded = await EmbeddedPostgres.start({ dir: join(dir, 'source-pg'), port: 0 });
  return { url: embedded.url, close: () => embedded.stop() };
}

async function scenario(
  t: TestContext,
  kind: 'server' | 'pglite',
  opts: { cursor: 'updated_at' | 'created_at'; mix: WorkloadMix; schedule: Kill[] },
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-cdc-crash-'));
  const source = await openSource(kind, dir);
  const pool = new PostgresPool(source.url, { max: 1 });
  const trace = join(dir, 'trace.tsv');
  try {
    await setupFoodOrders(pool);
    const args = [
      'run',
      'cdc',
      '--source',
      source.url,
      '--data-dir',
      join(dir, 'data'),
      '--trigger-ms',
      '50',
      '--set',
      `source.capture.cursor=${opts.cursor}`,
      '--set',
      'source.capture.poll_interval=100ms',
      '--set',
      'source.capture.batch_limit=40',
      '--set',
      'source.capture.delay=300ms',
    ];
    const stopWork = new AbortController();
    const workload = new FoodOrdersWorkload({
      db: pool,
      rate: 150,
      mix: opts.mix,
      invalidRate: 0.05,
      seed: 17,
      signal: stopWork.signal,
    });
    const working = workload.run();
    const schedule = [...opts.schedule];
    const selfKilled = new Map<number, string>();
    try {
      for (let i = 0; i < schedule.length; i++) {
        const kill = schedule[i];
        const armed = 'point' in kill;
        const what = armed
          ? `run ${i} armed at ${kill.point}:${kill.n}`
          : `run ${i} (kill after ${kill.delayMs} ms)`;
        const run = await killedRun(args, kill, { trace, armedTimeoutMs: ARMED_TIMEOUT_MS, what });
        if (armed && !run.reached) assert.fail(`${what} did not reach its point in ${ARMED_TIMEOUT_MS} ms`);
        if (armed) selfKilled.set(run.pid, kill.point);
      }
    } finally {
      stopWork.abort();
    }
    const stats = await working;
    assertKilledAt(trace, selfKilled);
    const final = startCli([...args, '--until-caught-up']);
    const done = await final.exit;
    assert.equal(done.code, 0, `the last run failed:\n${done.stderr}`);
    const check = await assertLakeMatchesSource(source.url, join(dir, 'data'), {
      insertsOnly: opts.mix.update === 0 && opts.mix.delete === 0,
    });
    t.diagnostic(
      `${schedule.length} kills (${selfKilled.size} at crash points); workload +${stats.inserted} ~${stats.updated} (${stats.invalid} invalid); ` +
        `source ${check.source} orders (${check.valid} valid), change log ${check.changeLog}, failed ${check.failed}`,
    );
  } finally {
    await pool.end();
    await source.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every point of the failure table at two different n, plus random kills, shuffled. */
function schedule(seed: number): Kill[] {
  const points: Array<[CrashPointName, number[]]> = [
    ['capture.polling.queried', [2, 6]],
    ['capture.polling.published', [2, 6]],
    ['merge.written', [2]],
    ['commit.after-put', [3]],
    ['sink.merge.committed', [2]],
    ['log.append.written', [3]],
  ];
  const rng = new Rng(seed);
  const out: Kill[] = [
    ...points.flatMap(([point, ns]) => ns.map((n) => ({ point, n }))),
    ...Array.from({ length: 3 }, () => ({ delayMs: 1_500 + rng.int(3_000) })),
  ];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const UPDATES: WorkloadMix = { insert: 0.7, update: 0.3, delete: 0 };
const INSERTS: WorkloadMix = { insert: 1, update: 0, delete: 0 };

describe('food-orders CDC by polling survives the seed failure table', { timeout: 900_000 }, () => {
  test(
    'real server, updated_at cursor, inserts and updates',
    { skip: postgresMissing(), timeout: 450_000 },
    (t) => scenario(t, 'server', { cursor: 'updated_at', mix: UPDATES, schedule: schedule(1) }),
  );
  test('PGlite, updated_at cursor, inserts and updates', { timeout: 450_000 }, (t) =>
    scenario(t, 'pglite', { cursor: 'updated_at', mix: UPDATES, schedule: schedule(2) }),
  );
  test(
    'real server, created_at cursor (the seed), inserts only',
    { skip: postgresMissing(), timeout: 450_000 },
    (t) =>
      scenario(t, 'server', {
        cursor: 'created_at',
        mix: INSERTS,
        schedule: [
          { point: 'capture.polling.queried', n: 3 },
          { point: 'capture.polling.published', n: 3 },
          { point: 'commit.after-put', n: 2 },
          { delayMs: 2_500 },
        ],
      }),
  );
});
