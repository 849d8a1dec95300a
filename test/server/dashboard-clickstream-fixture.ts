/**
 * The clickstream page's tests' lake: the real clickstream pipeline (pipelines/clickstream.yaml:
 * contract, bronze Delta table, realtime.* in the data directory's embedded PostgreSQL)
 * running in this process over the embedded log, with the batch layer's models
 * (projects/clickstream: silver, the four gold tables) run for today after each batch of
 * events; and what the page must show, worked out here in plain JavaScript from the
 * bronze table as delta-rs reads it (not from the gold tables the page reads).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type OpenedPostgres, openEmbeddedPostgres } from '../../src/cli/commands/postgres-args.ts';
import { runModels } from '../../src/jobs/models/run.ts';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts';
import { builtinDefinitionSync } from '../../src/pipeline/builtin.ts';
import { compilePipeline } from '../../src/pipeline/compile.ts';
import { generateClickstream } from '../../src/scenarios/clickstream/generate.ts';
import type { Pipeline } from '../../src/stream/pipeline.ts';
import { readColumns } from './dashboard-fixture.ts';
import { tempDir } from './helpers.ts';

export interface ClickstreamLake {
  dataDir: string;
  log: EmbeddedLog;
  pipeline: Pipeline;
  /** Generates `count` more events, runs the pipeline until it has them all, then the models for today. */
  add(count: number, seed: number, rate?: number): Promise<void>;
  close(): Promise<void>;
}

export async function clickstreamLake(): Promise<ClickstreamLake> {
  const dataDir = tempDir('dashboard-clickstream');
  const log = new EmbeddedLog({ dir: join(dataDir, 'log'), fsync: 'never' });
  const pg: OpenedPostgres = await openEmbeddedPostgres({ 'postgres-port': '0' }, dataDir, () => {});
  const { pipeline } = await compilePipeline(builtinDefinitionSync('clickstream'), {
    dataDir,
    log,
    postgres: pg.pool,
  });
  return {
    dataDir,
    log,
    pipeline,
    async add(count, seed, rate) {
      await generateClickstream({ log, count, seed, rate });
      await pipeline.run({ untilCaughtUp: true });
      await pipeline.refreshLag();
      const days = await eventDays(dataDir);
      const result = await runModels({
        project: 'clickstream',
        dataDir,
        partition: days.map((d) => `event_date=${d}`),
        exports: false,
      });
      if (!result.ok) throw new Error(`the clickstream models failed: ${JSON.stringify(result.models)}`);
    },
    async close() {
      await pipeline.close();
      await pg.close();
      await log.close();
    },
  };
}

/** A Delta table's latest version: its newest commit file in _delta_log (a plain listing). */
export async function newestCommit(table: string): Promise<number> {
  const names = await readdir(join(table, '_delta_log'));
  return Math.max(...names.filter((n) => /^\d{20}\.json$/.test(n)).map((n) => Number(n.slice(0, 20))));
}

/** The event days bronze holds (late events may fall on the day before, near midnight). */
async function eventDays(dataDir: string): Promise<string[]> {
  const { columns } = await readColumns(dataDir, 'bronze_user_events', ['event_date']);
  return [...new Set(columns.event_date as string[])].sort();
}

export interface ClickstreamTruth {
  versions: Record<string, number>;
  /** The newest day: [day, dau, conversion_rate, total_purchases, total_events]. */
  day: [string, number, number, number, number];
  /** [epoch minute, event_type, events] for the hour up to the newest event time. */
  eventStream: Array<[number, string, number]>;
  /** [epoch minute, source, logins] for the same hour. */
  logins: Array<[number, string, number]>;
  /** [page, purchases] of the newest day, most first, at most ten. */
  topPages: Array<[string, number]>;
}

const GOLD = [
  'daily_active_users',
  'conversion_rate_daily',
  'events_per_source_daily',
  'purchases_per_page_daily',
];

function countBy<K>(keys: Iterable<K>): Map<K, number> {
  const out = new Map<K, number>();
  for (const k of keys) out.set(k, (out.get(k) ?? 0) + 1);
  return out;
}

/** Long rows [t, series, count] from `${t}|${series}` counts, by time then series. */
function longRows(counts: Map<string, number>): Array<[number, string, number]> {
  return [...counts]
    .map(([k, n]): [number, string, number] => {
      const [t, s] = k.split('|');
      return [Number(t), s, n];
    })
    .sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
}

/** What the clickstream page must show, from bronze as delta-rs reads it. */
export async function clickstreamTruth(dataDir: string): Promise<ClickstreamTruth> {
  const bronze = await readColumns(dataDir, 'bronze_user_events', [
    'event_id',
    'user_id',
    'event_type',
    'page',
    'timestamp',
    'source',
    'event_date',
  ]);
  const c = bronze.columns;
  // Each event once: a re-sent event is a second record of the same event_id.
  const first = new Map<string, number>();
  c.event_id.forEach((id, i) => {
    if (!first.has(id as string)) first.set(id as string, i);
  });
  const events = [...first.values()];
  const day = events.reduce(
    (m, i) => ((c.event_date[i] as string) > m ? (c.event_date[i] as string) : m),
    '',
  );
  const ofDay = events.filter((i) => c.event_date[i] === day);
  const purchases = ofDay.filter((i) => c.event_type[i] === 'purchase');
  const dau = new Set(ofDay.map((i) => String(c.user_id[i]))).size;
  const buyers = new Set(purchases.map((i) => String(c.user_id[i]))).size;

  const ts = c.timestamp as number[];
  const newest = events.reduce((m, i) => Math.max(m, ts[i]), 0);
  const lastHour = events.filter((i) => ts[i] > newest - 3600e6);
  const minute = (i: number) => Math.floor(ts[i] / 60e6) * 60;
  const stream = countBy(lastHour.map((i) => `${minute(i)}|${c.event_type[i]}`));
  const logins = countBy(
    lastHour.filter((i) => c.event_type[i] === 'login').map((i) => `${minute(i)}|${c.source[i]}`),
  );
  const pages = [...countBy(purchases.map((i) => c.page[i] as string))]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, 10);

  const versions: Record<string, number> = { bronze_user_events: bronze.version };
  for (const t of GOLD) versions[t] = await newestCommit(join(dataDir, 'tables', t));
  return {
    versions,
    day: [day, dau, buyers / dau, purchases.length, ofDay.length],
    eventStream: longRows(stream),
    logins: longRows(logins),
    topPages: pages,
  };
}
