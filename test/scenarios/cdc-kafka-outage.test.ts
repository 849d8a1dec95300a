/**
 * The seed's last failure, "Kafka broker goes down", with a real Apache Kafka broker of
 * this test's own (scripts/provision/kafka.start.sh, from the jars it fetched): while
 * `tributary run cdc --kafka` captures a workload's changes — by polling (inserts and
 * updates), and by logical replication (inserts, updates and deletes) — the broker is
 * killed (SIGKILL), left down for a while, and started again on the same port with the
 * same data. The process must not end: the capture waits for the log (its position
 * kept), the pipeline retries its batch. Afterwards the lake equals the source table
 * (cdc-oracle.ts): nothing lost, nothing doubled.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { PostgresPool } from '../../src/connectors/postgres/client.ts';
import { setupFoodOrders } from '../../src/scenarios/food-orders/schema.ts';
import { FoodOrdersWorkload } from '../../src/scenarios/food-orders/workload.ts';
import { freshDatabase, postgresMissing } from '../connectors/postgres/server.ts';
import { kafkaToolsMissing } from '../log/kafka-tools.ts';
import { assertLakeMatchesSource } from './cdc-oracle.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'tributary.js');

/** A broker of our own: stopped by SIGKILL and started again with the same command line. */
async function privateBroker() {
  const { stdout } = await run('bash', [join(ROOT, 'scripts/provision/kafka.start.sh')], {
    timeout: 300_000,
  });
  const address = /TRIBUTARY_TEST_KAFKA=(\S+)/.exec(stdout)![1];
  const port = Number(address.split(':')[1]);
  const dir = join(ROOT, '.cache', 'kafka', 'run', String(port));
  const pidOf = () => Number(readFileSync(join(dir, 'pid'), 'utf8').trim());
  const argv = readFileSync(`/proc/${pidOf()}/cmdline`, 'utf8')
    .split('\0')
    .filter((a) => a !== '');
  const reachable = () =>
    new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  return {
    address,
    async kill() {
      const pid = pidOf();
      process.kill(pid, 'SIGKILL');
      while (await reachable()) await sleep(100);
    },
    async start() {
      const log = openSync(join(dir, 'broker.log'), 'a');
      const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
      child.unref();
      writeFileSync(join(dir, 'pid'), String(child.pid));
      const deadline = Date.now() + 120_000;
      while (!(await reachable())) {
        if (Date.now() > deadline) throw new Error(`the broker did not come back on ${address}`);
        await sleep(200);
      }
    },
    async dispose() {
      await run('bash', [join(ROOT, 'scripts/provision/kafka.stop.sh')], {
        env: { ...process.env, TRIBUTARY_TEST_KAFKA: address },
        timeout: 120_000,
      });
    },
  };
}

function start(args: string[]): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  return { child, stderr: () => err, exit: new Promise((r) => child.on('close', (code) => r(code))) };
}

const skip = postgresMissing() ?? kafkaToolsMissing();

describe('food-orders CDC: the Kafka broker goes down and comes back', {
  skip,
  timeout: 1_200_000,
}, () => {
  test('polling: nothing lost, nothing doubled', (t) => outage(t, 'polling'));
  test('logical replication: nothing lost, nothing doubled', (t) => outage(t, 'logical'));
});

async function outage(t: TestContext, mode: 'polling' | 'logical'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-cdc-kafka-'));
  const broker = await privateBroker();
  const db = await freshDatabase('cdc_kafka');
  const pool = new PostgresPool(db.url, { max: 1 });
  try {
    await setupFoodOrders(pool);
    if (mode === 'logical') {
      const s = await pool.connect();
      await s.query('ALTER TABLE "2025em1100102_orders" REPLICA IDENTITY FULL');
      s.release();
    }
    const args = [
      'run',
      'cdc',
      '--capture',
      mode,
      '--source',
      db.url,
      '--kafka',
      broker.address,
      '--data-dir',
      join(dir, 'data'),
      '--trigger-ms',
      '50',
      '--set',
      'source.capture.poll_interval=200ms',
      '--set',
      'source.capture.batch_limit=100',
      '--set',
      'source.capture.delay=300ms',
      // Slots belong to the server, not the database: a name of its own, apart from other
      // tests' captures on the shared server.
      '--set',
      `source.capture.slot=t_outage_${Date.now().toString(36)}`,
    ];
    const stopWork = new AbortController();
    const workload = new FoodOrdersWorkload({
      db: pool,
      rate: 100,
      mix:
        mode === 'logical'
          ? { insert: 0.6, update: 0.3, delete: 0.1 }
          : { insert: 0.7, update: 0.3, delete: 0 },
      seed: 23,
      signal: stopWork.signal,
    });
    const working = workload.run();
    const pipeline = start(args);
    await sleep(6_000);
    await broker.kill();
    const downAt = Date.now();
    await sleep(8_000);
    await broker.start();
    t.diagnostic(`broker down for ${Date.now() - downAt} ms`);
    await sleep(8_000);
    stopWork.abort();
    const stats = await working;
    assert.equal(pipeline.child.exitCode, null, `the run ended during the outage:\n${pipeline.stderr()}`);
    pipeline.child.kill('SIGTERM');
    assert.equal(await pipeline.exit, 0, pipeline.stderr());
    const waited = pipeline
      .stderr()
      .split('\n')
      .filter((l) => /waiting for the log|publishing to .* failed|batch failed/.test(l));
    assert.ok(
      waited.some(
        (l) => l.startsWith('capture: waiting for the log') || l.startsWith('capture: publishing to'),
      ),
      `the capture waited for the broker, its position kept:\n${pipeline.stderr()}`,
    );
    assert.ok(
      waited.some((l) => l.startsWith('pipeline: batch failed')),
      `the pipeline retried its batch:\n${pipeline.stderr()}`,
    );
    const final = start([...args, '--until-caught-up']);
    assert.equal(await final.exit, 0, final.stderr());
    const check = await assertLakeMatchesSource(db.url, join(dir, 'data'));
    t.diagnostic(
      `workload +${stats.inserted} ~${stats.updated}; source ${check.source} orders, change log ${check.changeLog}, failed ${check.failed}; ` +
        `${waited.length} lines waiting, first: ${waited[0]}`,
    );
  } finally {
    await pool.end();
    await db.drop();
    await broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}
