/**
 * The database goes away while the clickstream pipeline writes it: a private PostgreSQL
 * cluster (startCluster) is stopped (`immediate`: no checkpoint, connections cut),
 * SIGKILLed, and killed at random moments, while records keep arriving. The pipeline
 * (compiled from pipelines/clickstream.yaml, run in this process as `tributary run`
 * runs it) must not end: it reports each failed try as POSTGRES_UNAVAILABLE and waits,
 * its lag grows with the records produced meanwhile, and once the database is back it
 * resumes by itself. Afterwards the realtime tables equal the windows computed in plain
 * code from the topic, bronze holds every valid record once, and the DLQ every malformed
 * one once (clickstream-truth.ts) — a COMMIT cut off by a kill is neither lost nor doubled.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { type PgConnector, type PgSession, PostgresPool } from '../../../src/connectors/postgres/client.ts';
import { isTributaryError } from '../../../src/core/errors.ts';
import type { Log } from '../../../src/log/log.ts';
import { openLog } from '../../../src/log/open.ts';
import { resolveDefinition } from '../../../src/pipeline/builtin.ts';
import { compilePipeline } from '../../../src/pipeline/compile.ts';
import type { Pipeline } from '../../../src/stream/pipeline.ts';
import { pythonSkip } from '../../interop/helpers.ts';
import { rng } from '../../stream/window-oracle.ts';
import { runCli, startCli } from './cli.ts';
import { assertOutputs, latestOffsets, TrackedProducer } from './clickstream-truth.ts';
import { type Cluster, freshDatabase, postgresMissing, startCluster } from './server.ts';

const skip = postgresMissing({ binaries: true }) ?? pythonSkip();

/** Where a kill of the server lands, relative to one of the sink's statements. */
type KillPoint = 'before' | 'after';

/** A short name of a statement, for reports. */
function statementKind(text: string): string {
  if (text.startsWith('SELECT pg_advisory')) return 'lock';
  if (text.startsWith('INSERT INTO "tributary"')) return 'progress upsert';
  if (text.startsWith('INSERT INTO')) return 'rows upsert';
  if (text.startsWith('SELECT app_id')) return 'progress read';
  return text.split(/[\s(]/)[0];
}

/**
 * In front of a real pool: once armed with a plan, the statement the plan picks kills
 * the whole server (SIGKILL) — `before` it is sent (it meets a dead connection), or
 * `after` its answer came back (the client is then told the connection broke: a COMMIT
 * that landed and whose answer was lost with the server).
 */
class Killer implements PgConnector {
  readonly target: string;
  private readonly inner: PgConnector;
  private readonly cluster: Cluster;
  private plan?: (text: string) => KillPoint | undefined;
  /** Where each kill landed: `before COMMIT`, `after rows upsert`, ... */
  readonly hits: string[] = [];

  constructor(inner: PgConnector, cluster: Cluster) {
    this.inner = inner;
    this.cluster = cluster;
    this.target = inner.target;
  }

  get pglite(): boolean | undefined {
    return this.inner.pglite;
  }

  /** Kills at the first statement `plan` picks, once. */
  arm(plan: (text: string) => KillPoint | undefined): void {
    this.plan = plan;
  }

  /** Kills after the `n`-th COMMIT from now. */
  armCommit(n: number): void {
    let left = n;
    this.arm((text) => (text === 'COMMIT' && --left === 0 ? 'after' : undefined));
  }

  async connect(): Promise<PgSession> {
    const s = await this.inner.connect();
    return {
      query: async <R>(text: string, values?: unknown[], name?: string) => {
        const point = this.plan?.(text);
        if (point !== undefined) this.plan = undefined;
        if (point === 'before') {
          await this.cluster.kill();
          this.hits.push(`before ${statementKind(text)}`);
        }
        const res = await s.query<R>(text, values, name);
        if (point === 'after') {
          await this.cluster.kill();
          this.hits.push(`after ${statementKind(text)}`);
          throw new Error('Connection terminated unexpectedly');
        }
        return res;
      },
      release: (broken?: boolean) => s.release(broken),
    };
  }

  end(): Promise<void> {
    return this.inner.end();
  }
}

/** A clickstream pipeline running in the background on `url`, as `tributary run clickstream --postgres url`. */
async function runClickstream(
  dataDir: string,
  log: Log,
  url: string,
  wrap?: (db: PgConnector) => PgConnector,
) {
  const pool = new PostgresPool(url, { max: 4, connectTimeoutMs: 3_000 });
  const { pipeline } = await compilePipeline(await resolveDefinition('clickstream'), {
    dataDir,
    log,
    postgres: wrap ? wrap(pool) : pool,
    durableTables: false,
  });
  const errors: unknown[] = [];
  const stop = new AbortController();
  let ended: { error?: unknown } | undefined;
  const running = pipeline
    .run({
      signal: stop.signal,
      retryBackoffMs: 50,
      maxBackoffMs: 400,
      onError: (err) => errors.push(err),
    })
    .then(
      () => {
        ended = {};
      },
      (error: unknown) => {
        ended = { error };
      },
    );
  return {
    pipeline,
    errors,
    ended: () => ended,
    /** Waits until every sink committed every record of the topic (the pipeline still running). */
    async caughtUp(): Promise<void> {
      const deadline = Date.now() + 300_000;
      for (;;) {
        if (ended) assert.fail(`the pipeline ended: ${ended.error}`);
        const latest = await latestOffsets(log);
        if (pipeline.positions().every((p, i) => p === latest[i])) return;
        if (Date.now() > deadline) {
          assert.fail(`not caught up: at ${pipeline.positions()} of ${latest}; last error: ${errors.at(-1)}`);
        }
        await sleep(50);
      }
    },
    /** Waits until `n` more tries failed than `from`. */
    async failures(from: number, n: number): Promise<void> {
      const deadline = Date.now() + 120_000;
      while (errors.length < from + n) {
        if (ended) assert.fail(`the pipeline ended: ${ended.error}`);
        if (Date.now() > deadline) assert.fail(`only ${errors.length - from} failed tries`);
        await sleep(20);
      }
    },
    async close(): Promise<void> {
      stop.abort();
      await running;
      await pipeline.close();
      await pool.end();
      if (ended?.error) throw ended.error;
    },
  };
}

/** Produces small bursts until stopped, so that batches are being written when the database goes. */
function keepProducing(producer: TrackedProducer, burst = 150) {
  let on = true;
  const done = (async () => {
    while (on) {
      await producer.produce(burst);
      await sleep(25);
    }
  })();
  return async () => {
    on = false;
    await done;
  };
}

async function batchesWritten(pipeline: Pipeline, more: number): Promise<void> {
  const target = pipeline.metrics.batches + more;
  const deadline = Date.now() + 120_000;
  while (pipeline.metrics.batches < target) {
    if (Date.now() > deadline) assert.fail('no batches written');
    await sleep(20);
  }
}

describe('PostgreSQL goes away while the clickstream pipeline writes it', { skip, timeout: 900_000 }, () => {
  let cluster: Cluster;
  const dirs: string[] = [];
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const setUp = async (name: string, seed: number) => {
    const db = await freshDatabase(name, cluster);
    const dataDir = mkdtempSync(join(tmpdir(), `tributary-pg-${name}-`));
    dirs.push(dataDir);
    const log = await openLog({ dataDir });
    return { db, dataDir, log, producer: new TrackedProducer(log, seed) };
  };

  it('stopped, then killed: it waits (lag growing) and resumes by itself, nothing lost or doubled', async () => {
    const { db, dataDir, log, producer } = await setUp('outage_stop', 11);
    try {
      await producer.produce(3000);
      const run = await runClickstream(dataDir, log, db.url);
      await run.caughtUp();

      for (const how of ['stop', 'kill'] as const) {
        const stopProducing = keepProducing(producer);
        await batchesWritten(run.pipeline, 2);
        const before = run.errors.length;
        if (how === 'stop') await cluster.stop('immediate');
        else await cluster.kill();
        await run.failures(before, 3);
        await stopProducing();
        assert.equal(run.ended(), undefined, `the pipeline keeps running with the database ${how}ped`);
        for (const err of run.errors.slice(before)) {
          assert.ok(isTributaryError(err, 'POSTGRES_UNAVAILABLE'), `waited on: ${err}`);
          assert.match((err as Error).message, new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${cluster.port}/`));
        }
        // Records produced while it is down: the lag grows by exactly them (nothing is committed).
        await run.pipeline.refreshLag();
        const lag = run.pipeline.metrics.totalLag();
        await producer.produce(1000);
        await run.pipeline.refreshLag();
        assert.equal(run.pipeline.metrics.totalLag(), lag + 1000, 'the lag grows while the database is down');
        await cluster.start();
        await run.caughtUp();
      }
      await run.close();
      const truth = await assertOutputs({ log, kinds: producer.kinds, url: db.url, dataDir });
      assert.ok(truth.malformed.length > 0 && truth.eventsPerMinute.size > 20, 'a test with substance');
    } finally {
      await log.close();
      await db.drop();
    }
  });

  it('killed at random moments, again and again: no row lost or doubled', async (t) => {
    const { db, dataDir, log, producer } = await setUp('outage_random', 12);
    const rand = rng(20260115);
    let killer: Killer | undefined;
    try {
      await producer.produce(2000);
      const run = await runClickstream(dataDir, log, db.url, (pool) => {
        killer = new Killer(pool, cluster);
        return killer;
      });
      await run.caughtUp();
      // Bursts faster than the pipeline drains them: it writes batch after batch.
      const stopProducing = keepProducing(producer, 400);
      // At random moments of the clock (most land between the sinks' statements) ...
      for (let round = 0; round < 3; round++) {
        await batchesWritten(run.pipeline, 1);
        await sleep(Math.floor(rand() * 400));
        await cluster.kill();
        await sleep(Math.floor(rand() * 600));
        await cluster.start();
      }
      // ... and at random statements of the sinks' transactions, before or after each.
      for (let round = 0; round < 8; round++) {
        await batchesWritten(run.pipeline, 1);
        const hits = killer!.hits.length;
        killer!.arm(() => (rand() < 0.15 ? (rand() < 0.5 ? 'before' : 'after') : undefined));
        const deadline = Date.now() + 120_000;
        while (killer!.hits.length === hits) {
          assert.ok(Date.now() < deadline, 'the armed kill happened');
          await sleep(20);
        }
        await sleep(Math.floor(rand() * 600));
        await cluster.start();
      }
      await stopProducing();
      await run.caughtUp();
      assert.equal(run.ended(), undefined);
      assert.ok(run.errors.length >= 11, `a failed try per kill at least (${run.errors.length})`);
      const codes = new Set(run.errors.map((e) => (isTributaryError(e) ? e.code : String(e))));
      for (const code of codes) {
        assert.ok(['POSTGRES_UNAVAILABLE', 'POSTGRES_PROGRESS_MOVED'].includes(code), `retried on ${code}`);
      }
      t.diagnostic(`kills at statements: ${killer!.hits.join(', ')}`);
      await run.close();
      await assertOutputs({ log, kinds: producer.kinds, url: db.url, dataDir });
    } finally {
      await log.close();
      await db.drop();
    }
  });

  it('a COMMIT whose answer is lost with the server (killed right after it): counted once', async (t) => {
    const { db, dataDir, log, producer } = await setUp('outage_commit', 13);
    let killer: Killer | undefined;
    try {
      await producer.produce(2000);
      const run = await runClickstream(dataDir, log, db.url, (pool) => {
        killer = new Killer(pool, cluster);
        return killer;
      });
      await run.caughtUp();
      const hit: string[] = [];
      // Each batch commits the three realtime sinks in turn: the 1st, 2nd, 3rd, 4th COMMIT
      // from now lands in a different one (as batches start).
      for (const n of [1, 2, 3, 4]) {
        const before = run.errors.length;
        killer!.armCommit(n);
        const stopProducing = keepProducing(producer);
        await run.failures(before, 1);
        await stopProducing();
        hit.push(/sink '([^']+)'/.exec(String(run.errors[before]))?.[1] ?? String(run.errors[before]));
        await cluster.start();
        await run.caughtUp();
      }
      assert.deepEqual(killer!.hits, ['after COMMIT', 'after COMMIT', 'after COMMIT', 'after COMMIT']);
      t.diagnostic(`COMMITs answered then lost in sinks: ${hit.join(', ')}`);
      await run.close();
      await assertOutputs({ log, kinds: producer.kinds, url: db.url, dataDir });
    } finally {
      await log.close();
      await db.drop();
    }
  });

  it('through the command: a line says it waits, another that it resumed; Ctrl-C while waiting stops it cleanly', async () => {
    const { db, dataDir, log, producer } = await setUp('outage_cli', 14);
    const realtimeSinks = ['events_per_minute', 'logins_per_source', 'purchases_per_minute'];
    /** Every realtime sink committed every record (read from the progress table, as an operator would). */
    const committedAll = async () => {
      const deadline = Date.now() + 300_000;
      for (;;) {
        const latest = await latestOffsets(log);
        const client = new pg.Client({ connectionString: db.url });
        try {
          await client.connect();
          const { rows } = await client.query<{ app_id: string; version: string }>(
            'SELECT app_id, version FROM tributary.progress',
          );
          const have = new Map(rows.map((r) => [r.app_id, Number(r.version)]));
          if (
            realtimeSinks.every((s) =>
              latest.every((l, p) => have.get(`clickstream/${s}/user-events/${p}`) === l - 1),
            )
          )
            return;
        } catch {
          // not created yet
        } finally {
          await client.end().catch(() => {});
        }
        if (Date.now() > deadline) assert.fail('the realtime sinks did not commit every record');
        await sleep(100);
      }
    };
    try {
      await producer.produce(2000);
      const cli = startCli(['run', 'clickstream', '--postgres', db.url, '--data-dir', dataDir]);
      try {
        await committedAll();
        await cluster.stop('immediate');
        await producer.produce(500);
        const waiting = new RegExp(
          `^pipeline: waiting for PostgreSQL \\(try \\d+ failed, next try in [\\d.]+ s; the batch is kept and the pipeline resumes by itself when the database is back\\): ` +
            `PostgreSQL at 127\\.0\\.0\\.1:${cluster.port}/${db.name} is unavailable \\(`,
          'm',
        );
        await cli.waitFor(waiting, 2);
        assert.equal(cli.child.exitCode, null, 'it keeps running');
        await cluster.start();
        await cli.waitFor(/^pipeline: resumed after \d+ failed tries$/m);
        await committedAll();

        await cluster.kill();
        await producer.produce(500);
        await cli.waitFor(waiting, 4);
      } finally {
        cli.child.kill('SIGINT');
      }
      const stopped = await cli.exited;
      assert.equal(stopped.code, 0, `Ctrl-C while it waits: a clean stop\n${stopped.stderr}`);
      assert.match(stopped.stdout, /^clickstream: \d+ batches, /m);
      await cluster.start();
      const rest = await runCli([
        'run',
        'clickstream',
        '--postgres',
        db.url,
        '--data-dir',
        dataDir,
        '--until-caught-up',
      ]);
      assert.equal(rest.code, 0, rest.stderr);
      await assertOutputs({ log, kinds: producer.kinds, url: db.url, dataDir });
    } finally {
      await log.close();
      await db.drop();
    }
  });
});
