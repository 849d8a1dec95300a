/**
 * The embedded PostgreSQL (PGlite) runs one session for all its clients: while one client
 * has a transaction open, every other client's statements wait. A `psql` left idle in a
 * transaction (BEGIN without COMMIT) therefore stalls the clickstream pipeline's realtime
 * sinks; once it commits, or disconnects (the socket server rolls its transaction back),
 * the pipeline goes on, and nothing is lost or doubled. And a second `tributary run` on
 * the same data directory is refused with POSTGRES_EMBEDDED_IN_USE, naming the process
 * that holds it, without disturbing that process.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PostgresPool } from '../../../src/connectors/postgres/client.ts';
import { EmbeddedPostgres } from '../../../src/connectors/postgres/embedded.ts';
import { openLog } from '../../../src/log/open.ts';
import { resolveDefinition } from '../../../src/pipeline/builtin.ts';
import { compilePipeline } from '../../../src/pipeline/compile.ts';
import { pythonSkip } from '../../interop/helpers.ts';
import { runCli, startCli } from './cli.ts';
import { assertOutputs, latestOffsets, TrackedProducer } from './clickstream-truth.ts';
import { psqlPath } from './server.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tributary-pglite-'));
  dirs.push(d);
  return d;
};

/** The real `psql`, its stdin kept open: statements are typed into it one by one. */
function psql(embedded: EmbeddedPostgres) {
  const child: ChildProcess = spawn(
    psqlPath()!,
    ['-X', '-q', '-A', '-t', '-h', embedded.host, '-p', String(embedded.port), '-U', 'postgres', 'postgres'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  return {
    child,
    closed,
    /** Types `sql` and waits until its output shows `marker`. */
    async type(sql: string, marker: string): Promise<void> {
      child.stdin!.write(`${sql}\n`);
      const deadline = Date.now() + 60_000;
      while (!out.includes(marker)) {
        if (Date.now() > deadline) assert.fail(`psql printed no ${marker}: ${out}`);
        await sleep(20);
      }
    },
  };
}

describe('the embedded PostgreSQL: one session for every client', () => {
  it('a psql idle in a transaction stalls the sinks; on COMMIT or disconnect the pipeline goes on, nothing lost', {
    skip: psqlPath() === undefined ? 'no psql (TRIBUTARY_TEST_PG_BIN)' : pythonSkip(),
  }, async (t) => {
    const dataDir = tempDir();
    const log = await openLog({ dataDir });
    const embedded = await EmbeddedPostgres.start({ dir: join(dataDir, 'postgres'), port: 0 });
    const pool = new PostgresPool(embedded.url, { max: 1 });
    const producer = new TrackedProducer(log, 21);
    try {
      await producer.produce(1500);
      const { pipeline } = await compilePipeline(await resolveDefinition('clickstream'), {
        dataDir,
        log,
        postgres: pool,
        durableTables: false,
      });
      const stop = new AbortController();
      const errors: unknown[] = [];
      const running = pipeline.run({ signal: stop.signal, onError: (e) => errors.push(e) });
      const caughtUp = async () => {
        const deadline = Date.now() + 300_000;
        for (;;) {
          const latest = await latestOffsets(log);
          if (pipeline.positions().every((p, i) => p === latest[i])) return;
          if (Date.now() > deadline) assert.fail(`not caught up: ${pipeline.positions()} of ${latest}`);
          await sleep(50);
        }
      };
      try {
        await caughtUp();
        for (const end of ['COMMIT;', 'disconnect'] as const) {
          const client = psql(embedded);
          await client.type("BEGIN; SELECT 'open:' || count(*) FROM realtime.events_per_minute;", 'open:');
          const held = pipeline.positions();
          await producer.produce(1500);
          // Bronze commits the next batch; the realtime sinks wait for the session.
          const bronzeBefore = pipeline.metrics.sink('bronze').commits;
          for (let i = 0; i < 100 && pipeline.metrics.sink('bronze').commits === bronzeBefore; i++)
            await sleep(50);
          await sleep(2_000);
          assert.deepEqual(
            pipeline.positions(),
            held,
            `nothing committed while psql holds the session (${end})`,
          );
          if (end === 'COMMIT;') {
            await client.type("COMMIT; SELECT 'done:' || 1;", 'done:');
            client.child.stdin!.end();
          } else {
            client.child.kill('SIGKILL');
          }
          await client.closed;
          await caughtUp();
        }
        t.diagnostic(`retried: ${errors.length} (${errors.map(String).join('; ')})`);
      } finally {
        stop.abort();
        await running;
        await pipeline.close();
      }
      await assertOutputs({ log, kinds: producer.kinds, url: embedded.url, dataDir });
    } finally {
      await pool.end();
      await embedded.stop();
      await log.close();
    }
  });

  it('a second `run` on the same data directory: POSTGRES_EMBEDDED_IN_USE, the first goes on', async () => {
    const dataDir = tempDir();
    const log = await openLog({ dataDir });
    const producer = new TrackedProducer(log, 22);
    await producer.produce(1000);
    await log.close();
    const first = startCli(['run', 'clickstream', '--data-dir', dataDir, '--postgres-port', '0']);
    try {
      await first.waitFor(/embedded PostgreSQL serving postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres/);
      const second = await runCli([
        'run',
        'clickstream',
        '--data-dir',
        dataDir,
        '--until-caught-up',
        '--postgres-port',
        '0',
      ]);
      assert.equal(second.code, 2, second.stderr);
      const line = second.stderr.split('\n').find((l) => l.startsWith('tributary: error'));
      assert.equal(
        line,
        `tributary: error [POSTGRES_EMBEDDED_IN_USE]: the embedded PostgreSQL at ${join(dataDir, 'postgres')} is open in process ${first.child.pid} ` +
          '(a tributary run or demo on the same data directory), and one process at a time may open it: stop that process, or give this one another --data-dir. ' +
          'To read its tables meanwhile, connect to the URL that process printed when it started (psql -h 127.0.0.1 -p PORT -U postgres postgres)',
      );
      assert.equal(first.child.exitCode, null, 'the first run goes on');
    } finally {
      first.child.kill('SIGINT');
    }
    const ended = await first.exited;
    assert.equal(ended.code, 0, ended.stderr);
    // Once the first has stopped, the data directory is free: a run finishes the topic.
    const again = await runCli([
      'run',
      'clickstream',
      '--data-dir',
      dataDir,
      '--until-caught-up',
      '--postgres-port',
      '0',
    ]);
    assert.equal(again.code, 0, again.stderr);
    const embedded = await EmbeddedPostgres.start({ dir: join(dataDir, 'postgres'), port: 0 });
    const reader = await openLog({ dataDir });
    try {
      await assertOutputs({ log: reader, kinds: producer.kinds, url: embedded.url, dataDir });
    } finally {
      await reader.close();
      await embedded.stop();
    }
  });
});
