/**
 * A column added to the captured table while `tributary run cdc` runs, for any capture
 * mode (`--capture polling|logical`) and source (a real server, the embedded PGlite):
 * the food-orders table with the seed's rows and a few more, the capture and the
 * pipeline of pipelines/cdc.yaml started the way `tributary run` starts them
 * (openCaptureFromArgs, compileBesideCapture, runWithCapture), and, with both running:
 * `ALTER TABLE ... ADD COLUMN tip numeric(10,2)`, updates setting it, inserts with and
 * without it, an invalid order with it. Nothing is restarted and the definition is not
 * edited. Then, against the table read with plain SQL:
 * - food.orders_current equals the table row for row, `tip` included (cdc-oracle.ts for
 *   the other columns, which also checks no change landed twice and delta-rs's reading);
 * - food.orders and food.orders_failed gained a nullable `tip`: changes landed before
 *   hold null, changes after hold the values;
 * - delta-rs reads the new column in the schema (nullable) and the values;
 * - the pipeline was compiled again exactly once, for the added column.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { compileBesideCapture, openCaptureFromArgs } from '../../src/cli/commands/capture-args.ts';
import { PostgresPool } from '../../src/connectors/postgres/client.ts';
import { openLog } from '../../src/log/open.ts';
import { builtinDefinitionSync } from '../../src/pipeline/builtin.ts';
import { compilePipeline } from '../../src/pipeline/compile.ts';
import type { PipelineDefinition } from '../../src/pipeline/definition.ts';
import { fromObject, type LoadedDefinition } from '../../src/pipeline/load.ts';
import { applySet } from '../../src/pipeline/overrides.ts';
import { type PipelineSlot, runWithCapture } from '../../src/pipeline/with-capture.ts';
import { runQuery } from '../../src/query/run.ts';
import { setupFoodOrders } from '../../src/scenarios/food-orders/schema.ts';
import { PipelineMetrics } from '../../src/stream/metrics.ts';
import { deltaRsRead, pythonSkip } from '../interop/helpers.ts';
import { assertLakeMatchesSource } from './cdc-oracle.ts';

export const T = '"2025em1100102_orders"';

export interface CdcRun {
  dataDir: string;
  /** Lines the capture and the schema follower printed. */
  lines: string[];
  slot: PipelineSlot;
  /** The capture's and the pipeline's counters, for a failure's message. */
  state(): string;
  /** Stops the run (the capture saves its position, the pipeline commits) and waits for it; rethrows its failure. */
  stop(): Promise<void>;
  /** The run's outcome (rejects with its failure). */
  done: Promise<void>;
  close(): Promise<void>;
}

/** `tributary run cdc --source URL --capture MODE`, in this process, until stopped. */
export async function startCdc(
  url: string,
  mode: 'polling' | 'logical',
  dataDir: string,
  sets: string[] = [],
): Promise<CdcRun> {
  let def: PipelineDefinition = builtinDefinitionSync('cdc').definition;
  for (const s of [
    'source.capture.poll_interval=100ms',
    'source.capture.delay=0s',
    'runtime.trigger=50ms',
    ...(mode === 'logical' ? [`source.capture.slot=t_${Date.now().toString(36)}`] : []),
    ...sets,
  ])
    def = applySet(def, s);
  const loaded = fromObject(def);
  const log = await openLog({ dataDir });
  const lines: string[] = [];
  const say = (l: string) => lines.push(l);
  const opened = await openCaptureFromArgs(
    loaded.definition,
    { source: url, capture: mode },
    { dataDir, log, topic: 'topic' in def.source ? def.source.topic : '', say },
  );
  if (!opened) throw new Error('the cdc definition has a capture');
  const capture = opened;
  const metrics = new PipelineMetrics();
  const compile = async (l: LoadedDefinition) =>
    (await compilePipeline(l, { dataDir, log, metrics })).pipeline;
  const slot = await compileBesideCapture(loaded, capture, compile, say);
  const stopping = new AbortController();
  const done = runWithCapture(slot, capture.capture, { signal: stopping.signal });
  done.catch(() => {});
  return {
    dataDir,
    lines,
    slot,
    done,
    state: () => {
      const m = slot.current.metrics;
      return `capture ${JSON.stringify(capture.capture.metrics)}; pipeline ${JSON.stringify(m.snapshot())}`;
    },
    async stop() {
      stopping.abort();
      await done;
    },
    async close() {
      stopping.abort();
      await done.catch(() => {});
      await capture.close();
      await slot.closeCurrent();
      await log.close();
    },
  };
}

export async function sql<R = Record<string, unknown>>(url: string, text: string): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows as R[];
  } finally {
    await c.end();
  }
}

/** Waits until `check` returns true (checked every 100 ms), failing with `what` after `ms`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  ms = 60_000,
  run?: CdcRun,
): Promise<void> {
  const until = Date.now() + ms;
  let failed: unknown;
  run?.done.catch((err) => {
    failed = err;
  });
  for (;;) {
    let last: unknown;
    const ok = await check().catch((err) => {
      last = err;
      return false;
    });
    if (ok) return;
    if (failed !== undefined)
      assert.fail(`the run failed while waiting for ${what}: ${(failed as Error).stack}`);
    if (Date.now() > until) {
      const stopped = run
        ? await run.stop().then(
            () => 'stopped cleanly',
            (err) => `stopping failed: ${(err as Error).stack}`,
          )
        : '';
      assert.fail(
        `timed out waiting for ${what}${last ? ` (last: ${(last as Error).message})` : ''}\n${run?.lines.join('\n') ?? ''}\n${run?.state() ?? ''}\n${stopped}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function lakeCount(dataDir: string, table: string, where = 'true'): Promise<number> {
  const { rows } = await runQuery(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, { dataDir });
  return Number(rows[0].n);
}

/** order_id → tip (as a number, or null) of the source table and of the mirror. */
async function tips(url: string, dataDir: string): Promise<{ source: string; mirror: string }> {
  const src = await sql<{ order_id: number; tip: string | null }>(
    url,
    `SELECT order_id, tip::text AS tip FROM ${T} ORDER BY order_id`,
  );
  const { rows } = await runQuery('SELECT order_id, tip FROM food.orders_current ORDER BY order_id', {
    dataDir,
  });
  const norm = (id: unknown, tip: unknown) => `${Number(id)}:${tip === null ? 'null' : Number(tip)}`;
  return {
    source: src.map((r) => norm(r.order_id, r.tip)).join(' '),
    mirror: rows.map((r) => norm(r.order_id, r.tip)).join(' '),
  };
}

const INSERT = `INSERT INTO ${T} (customer_name, restaurant_name, item, amount, order_status)`;

/** The scenario of the header against the (empty) database at `url`. */
export async function addColumnScenario(url: string, mode: 'polling' | 'logical'): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), `tributary-cdc-schema-${mode}-`));
  const pool = new PostgresPool(url, { max: 1 });
  let run: CdcRun | undefined;
  try {
    await setupFoodOrders(pool);
    // Logical replication needs the whole old row in UPDATEs (docs/cdc.md).
    if (mode === 'logical') await sql(url, `ALTER TABLE ${T} REPLICA IDENTITY FULL`);
    await sql(
      url,
      `${INSERT} SELECT 'Customer ' || i, 'Dragon Wok', 'Noodles', 100 + i, 'PLACED' FROM generate_series(1, 20) AS i`,
    );
    const before = Number((await sql<{ n: string }>(url, `SELECT count(*)::text AS n FROM ${T}`))[0].n);
    run = await startCdc(url, mode, dataDir);
    const r = run;
    await waitFor(
      'the rows before the change in the mirror',
      // Each row once in the mirror, and once in the change log or the failures.
      async () =>
        (await lakeCount(dataDir, 'food.orders_current')) === before &&
        (await lakeCount(dataDir, 'food.orders')) + (await lakeCount(dataDir, 'food.orders_failed')) ===
          before,
      60_000,
      r,
    );
    const landedBefore = await lakeCount(dataDir, 'food.orders');

    await sql(url, `ALTER TABLE ${T} ADD COLUMN tip numeric(10,2)`);
    await sql(url, `UPDATE ${T} SET tip = 12.50, order_status = 'DELIVERED' WHERE order_id IN (2, 3, 12)`);
    await sql(url, `UPDATE ${T} SET tip = 0.10 WHERE order_id = 15`);
    await sql(
      url,
      `${INSERT.replace(')', ', tip)')} VALUES ('Jon Snow', 'Sushi Point', 'Salmon Roll', 420.00, 'PLACED', 7.25),
        ('Ann Lee', 'Burger Barn', 'Fries', 80.00, 'PLACED', NULL),
        ('Zoe Kim', 'Pizza Palace', 'Calzone', 0.00, 'PLACED', 3.00)`,
    );
    await sql(url, `UPDATE ${T} SET tip = 99999999.99 WHERE customer_name = 'Ann Lee'`);
    let seen = '';
    await waitFor(
      'the mirror to hold every tip',
      async () => {
        const t = await tips(url, dataDir);
        seen = `source ${t.source}\nmirror ${t.mirror}`;
        return t.source === t.mirror;
      },
      60_000,
      r,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${seen}`);
    });
    await r.stop();

    const t = await tips(url, dataDir);
    assert.equal(t.mirror, t.source, 'the mirror holds every tip of the source table');
    const check = await assertLakeMatchesSource(url, dataDir);
    assert.equal(check.source, before + 3);

    // Changes landed before the column hold null in it; those after, the values.
    const { rows: log } = await runQuery(
      `SELECT order_id, tip, __pos FROM food.orders ORDER BY __pos, order_id`,
      { dataDir },
    );
    assert.equal(
      log.slice(0, landedBefore).every((x) => x.tip === null),
      true,
      'changes landed before the column hold null',
    );
    const after = log
      .slice(landedBefore)
      .map((x) => `${Number(x.order_id)}:${x.tip === null ? null : Number(x.tip)}`);
    for (const want of ['2:12.5', '3:12.5', '12:12.5', '15:0.1'])
      assert.ok(after.includes(want), `food.orders holds the change ${want} (got ${after.join(' ')})`);
    const { rows: failed } = await runQuery(
      "SELECT tip, validation_reason FROM food.orders_failed WHERE customer_name = 'Zoe Kim'",
      { dataDir },
    );
    assert.deepEqual(
      failed.map((x) => [Number(x.tip), x.validation_reason]),
      [[3, 'amount: 0.0 is below the minimum 0.01']],
      'the rules still apply to the known fields: a FAILED change keeps its tip',
    );
    // Recompiled once, for the column.
    assert.equal(
      r.lines.filter((l) => /column tip \(number\) added to/.test(l)).length,
      1,
      r.lines.join('\n'),
    );

    if (pythonSkip() === undefined) {
      for (const table of ['orders_current', 'orders', 'orders_failed']) {
        const rs = await deltaRsRead(join(dataDir, 'tables', 'food', table));
        const tip = rs.schema.fields.find((f) => f.name === 'tip');
        assert.deepEqual(tip, { name: 'tip', type: 'double', nullable: true, metadata: {} }, table);
        if (table === 'orders_current') {
          const got = rs.rows
            .map((x) => `${Number(x.order_id)}:${x.tip === null ? 'null' : Number(x.tip)}`)
            .sort((a, b) => Number(a.split(':')[0]) - Number(b.split(':')[0]))
            .join(' ');
          assert.equal(got, t.source, 'delta-rs reads the tips of the mirror');
        }
      }
    }
  } finally {
    await run?.close();
    await pool.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
