/**
 * `tributary demo cdc`: seed 003's food-orders system in one process — the orders table
 * in the embedded PostgreSQL (created with the seed's rows), a workload inserting,
 * updating and deleting orders, the capture (polling) into the embedded log's topic, and
 * the pipeline of pipelines/cdc.yaml into the lake — with progress every second, then a
 * summary comparing the lake with the source table.
 */

import { qualified } from '../../connectors/postgres/tables.ts';
import { builtinDefinitionSync } from '../../pipeline/builtin.ts';
import { compilePipeline } from '../../pipeline/compile.ts';
import { fromObject, type LoadedDefinition } from '../../pipeline/load.ts';
import { applySet } from '../../pipeline/overrides.ts';
import { type PipelineSlot, runWithCapture } from '../../pipeline/with-capture.ts';
import { compareLake, type LakeComparison } from '../../scenarios/food-orders/compare.ts';
import { FOOD_ORDERS_TABLE, setupFoodOrders } from '../../scenarios/food-orders/schema.ts';
import { FoodOrdersWorkload } from '../../scenarios/food-orders/workload.ts';
import { type RunningPipelines, sinkTables } from '../../server/pipelines/registry.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { PipelineMetrics } from '../../stream/metrics.ts';
import { PipelinePanel } from '../pipeline-panel.ts';
import { printFolded } from '../terminal.ts';
import { compileBesideCapture, type OpenedCapture, openCaptureFromArgs } from './capture-args.ts';
import type { DemoPanel } from './demo-run.ts';
import { intOption, type openLogFromArgs } from './log-args.ts';
import { type OpenedPostgres, openEmbeddedPostgres, openPostgres } from './postgres-args.ts';

export interface CdcDemoArgs {
  dataDir: string;
  log: Awaited<ReturnType<typeof openLogFromArgs>>;
  values: {
    events?: string;
    rate?: string;
    seed?: string;
    source?: string;
    capture?: string;
    'poll-interval'?: string;
    'postgres-port'?: string;
  };
  signal: AbortSignal;
  /** Where the demo's server sees its pipeline. */
  pipelines?: RunningPipelines;
  /** On a terminal: the live panel's title, data directory and URL. */
  panel?: DemoPanel;
}

const list = (ids: number[]) => (ids.length > 8 ? `${ids.slice(0, 8).join(', ')}, …` : ids.join(', '));

function summary(c: LakeComparison, polling: boolean): string[] {
  const lines = [
    `source table: ${c.sourceRows} orders; mirror food.orders_current: ${c.mirrorRows} rows, ${c.equal} equal to the source row for row`,
  ];
  if (c.differing.length > 0)
    lines.push(`  ${c.differing.length} differ (changes not captured yet): ${list(c.differing)}`);
  if (c.missing.length > 0) lines.push(`  ${c.missing.length} not in the mirror yet: ${list(c.missing)}`);
  if (c.extra.length > 0) {
    lines.push(
      `  ${c.extra.length} deleted in the source and still in the mirror${polling ? ' (polling cannot see deletes; --capture logical does)' : ''}: ${list(c.extra)}`,
    );
  }
  lines.push(
    `change log food.orders: ${c.changeLogRows} valid changes, ${c.changeLogDuplicates} landed twice; food.orders_failed: ${c.failedRows} changes that broke a rule`,
  );
  return lines;
}

export async function cdcDemo({
  dataDir,
  log,
  values,
  signal,
  pipelines,
  panel: livePanel,
}: CdcDemoArgs): Promise<number> {
  const count = intOption('events', values.events, 1);
  const rate = intOption('rate', values.rate, 1) ?? 20;
  const seed = intOption('seed', values.seed) ?? Date.now() % 2 ** 31;
  const say = (l: string) => console.log(l.replace(/^tributary: /, ''));
  let def = builtinDefinitionSync('cdc').definition;
  if (values['poll-interval'] !== undefined)
    def = applySet(def, `source.capture.poll_interval=${values['poll-interval']}`);
  const loaded = { ...fromObject(def), file: builtinDefinitionSync('cdc').file };
  // The source: the embedded PostgreSQL, or a server given with --source.
  let db: OpenedPostgres;
  if (values.source !== undefined) db = await openPostgres({ postgres: values.source }, dataDir, say);
  else db = await openEmbeddedPostgres(values, dataDir, say);
  let slot: PipelineSlot | undefined;
  let capture: OpenedCapture | undefined;
  const tables = new Map<string, string>();
  const deltaTables = new Map<string, { store: ObjectStore }>();
  try {
    const seeded = await setupFoodOrders(db.pool);
    if (values.capture === 'logical' && seeded > 0) {
      // The demo made the table: it gives it what logical capture needs (docs/cdc.md).
      const s = await db.pool.connect();
      try {
        await s.query(`ALTER TABLE ${qualified(FOOD_ORDERS_TABLE)} REPLICA IDENTITY FULL`);
      } finally {
        s.release();
      }
    }
    say(
      `table ${FOOD_ORDERS_TABLE.name} in ${db.describe}${seeded > 0 ? `: created, with the seed's ${seeded} orders` : ''}`,
    );
    capture = await openCaptureFromArgs(loaded.definition, values, {
      dataDir,
      log,
      topic: 'topic' in def.source ? def.source.topic : '',
      ...(values.source === undefined && { sinkPg: db }),
      say,
    });
    // One set of counters across the pipelines a column added to the table compiles.
    const metrics = new PipelineMetrics();
    const compile = async (l: LoadedDefinition) => {
      const compiled = await compilePipeline(l, { dataDir, log, metrics });
      for (const [sink, table] of sinkTables(compiled)) tables.set(sink, table);
      for (const [name, table] of compiled.tables) deltaTables.set(name, table);
      return compiled.pipeline;
    };
    slot = await compileBesideCapture(loaded, capture, compile, say);
  } catch (err) {
    await capture?.close();
    await slot?.closeCurrent();
    await db.close();
    throw err;
  }
  const s = slot;
  const cap = capture!;
  // The pipeline as the demo's server shows it: the slot's current one.
  const entry = pipelines?.register({ pipeline: () => s.current, name: def.name, sinkTables: tables });
  const onError = entry && { onError: entry.onRetry() };
  entry?.running();
  console.log(
    `demo cdc: ${rate} changes/s into ${FOOD_ORDERS_TABLE.name}, log ${log.description}, lake in ${dataDir}/tables/food (orders, orders_failed, orders_current)`,
  );
  if (db.embedded) {
    console.log(
      `while it runs, try:\n  ${db.embedded.psql} -c 'SELECT * FROM "${FOOD_ORDERS_TABLE.name}" ORDER BY order_id DESC LIMIT 5'`,
    );
  }
  console.log(
    `afterwards: tributary query "SELECT date, count(*) FROM food.orders GROUP BY 1" --data-dir ${dataDir}`,
  );
  const workStop = new AbortController();
  const workload = new FoodOrdersWorkload({
    db: db.pool,
    rate,
    seed,
    signal: AbortSignal.any([signal, workStop.signal]),
    ...(count !== undefined && { count }),
  });
  const w = workload.stats;
  let prevIn = 0;
  let prevAt = Date.now();
  const line = (secs: number) => {
    const m = s.current.metrics;
    const h = m.sinks.get('orders_current')?.ingestLatencyMs;
    const latency = h ? `${Math.round(h.quantile(0.5))}/${Math.round(h.quantile(0.99))} ms` : '-';
    const c = cap.capture.metrics;
    return (
      `source +${w.inserted} -${w.deleted} ~${w.updated} (${w.invalid} invalid)  captured ${c.published} in ${c.batches} ${cap.mode === 'polling' ? 'polls' : 'transactions'}  ` +
      `read ${m.recordsIn} ${Math.round((m.recordsIn - prevIn) / secs)}/s  lag ${m.totalLag()}  ` +
      `orders ${m.sinks.get('orders')?.rows ?? 0}  failed ${m.sinks.get('orders_failed')?.rows ?? 0}  ` +
      `mirror ${m.sinks.get('orders_current')?.rows ?? 0}  publish→lake p50/p99 ${latency}`
    );
  };
  const panel =
    livePanel && entry
      ? new PipelinePanel({
          ...livePanel,
          entry,
          out: process.stdout,
          tables: deltaTables,
          extra: () => {
            const c = cap.capture.metrics;
            return [
              `source +${w.inserted} -${w.deleted} ~${w.updated} (${w.invalid} invalid) · captured ${c.published} (${cap.mode})`,
            ];
          },
        })
      : undefined;
  let busy = false;
  const ticker = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      await s.current.refreshLag().catch(() => {});
      const now = Date.now();
      const text = line((now - prevAt) / 1000);
      if (panel) await panel.show();
      else console.log(text);
      prevIn = s.current.metrics.recordsIn;
      prevAt = now;
    } finally {
      busy = false;
    }
  }, 1000);
  try {
    // The workload stops at --events, on Ctrl-C, or when the capture or pipeline fails.
    const stopRun = new AbortController();
    const onStop = () => stopRun.abort();
    signal.addEventListener('abort', onStop, { once: true });
    const running = runWithCapture(s, cap.capture, { signal: stopRun.signal, ...onError });
    running.catch(() => workStop.abort());
    let workFailure: unknown;
    try {
      await workload.run();
    } catch (err) {
      workFailure = err;
    }
    stopRun.abort();
    signal.removeEventListener('abort', onStop);
    await running;
    if (workFailure !== undefined) throw workFailure;
    if (!signal.aborted) {
      // Every change made: capture what is left, land it, then compare.
      await runWithCapture(s, cap.capture, { untilCaughtUp: true, signal, ...onError });
    }
    await s.current.refreshLag().catch(() => {});
    entry?.stopped();
    clearInterval(ticker);
    const last = line(Math.max(0.001, (Date.now() - prevAt) / 1000));
    await panel?.finish();
    printFolded(last, panel !== undefined);
    if (!signal.aborted) {
      for (const l of summary(await compareLake(db.pool, dataDir), cap.mode === 'polling')) console.log(l);
    }
    if (cap.mode === 'logical') {
      console.log(
        'the replication slot stays on the server for the next run, and keeps WAL while no capture reads it: ' +
          'when done, drop it (docs/cdc.md, "WAL kept by the slot")',
      );
    }
    return 0;
  } catch (err) {
    entry?.failed(err);
    throw err;
  } finally {
    clearInterval(ticker);
    panel?.stop();
    await cap.close();
    await s.closeCurrent();
    await db.close();
  }
}
