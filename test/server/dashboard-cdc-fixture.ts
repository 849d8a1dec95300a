/**
 * The CDC page's tests' lake: `tributary demo cdc` run in this process (the orders table
 * in the data directory's embedded PostgreSQL with its workload, the polling capture into
 * the embedded log, the pipeline of pipelines/cdc.yaml into food.*), its pipeline seen by
 * the server through a RunningPipelines as the demo's own server sees it; and what the
 * page must show, worked out here in plain JavaScript from the three tables as delta-rs
 * reads them.
 */
import { join } from 'node:path';
import { cdcDemo } from '../../src/cli/commands/demo-cdc.ts';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts';
import type { LivePipelines } from '../../src/server/dashboard/live.ts';
import { RunningPipelines } from '../../src/server/pipelines/registry.ts';
import { newestCommit } from './dashboard-clickstream-fixture.ts';
import { readColumns } from './dashboard-fixture.ts';
import { tempDir } from './helpers.ts';

export interface CdcLake {
  dataDir: string;
  /** The pipelines running (while a `run` is under way), as the dashboard reads them. */
  live: LivePipelines;
  /** One run of the demo: `changes` workload changes at `rate` a second, until the lake has them. */
  run(changes: number, rate: number, seed: number): Promise<void>;
  close(): Promise<void>;
}

export async function cdcLake(): Promise<CdcLake> {
  const dataDir = tempDir('dashboard-cdc');
  const log = new EmbeddedLog({ dir: join(dataDir, 'log'), fsync: 'never' });
  const pipelines = new RunningPipelines();
  return {
    dataDir,
    live: () =>
      pipelines
        .list()
        .filter((p) => p.state === 'starting' || p.state === 'running')
        .map((p) => ({ name: p.name, metrics: p.metrics })),
    async run(changes, rate, seed) {
      // The demo's progress lines are for a terminal.
      const print = console.log;
      console.log = () => {};
      try {
        const code = await cdcDemo({
          dataDir,
          log,
          values: {
            events: String(changes),
            rate: String(rate),
            seed: String(seed),
            'poll-interval': '300ms',
            'postgres-port': '0',
          },
          signal: new AbortController().signal,
          pipelines,
        });
        if (code !== 0) throw new Error(`demo cdc exited ${code}`);
      } finally {
        console.log = print;
      }
    },
    async close() {
      pipelines.close();
      await log.close();
    },
  };
}

export interface CdcTruth {
  versions: Record<string, number>;
  totals: { orders: number; changes: number; failed_changes: number; failed_share: number };
  delay: { changes: number; mean_delay_ms: number; max_delay_ms: number };
  /** [epoch minute, outcome, changes] for the hour up to the newest commit time. */
  perMinute: Array<[number, string, number]>;
  byStatus: Array<[string, number]>;
  byReason: Array<[string, number]>;
  /** order_id of the newest failed changes (by commit time, then order_id), at most ten. */
  recentFailed: string[];
}

function counted(values: string[]): Array<[string, number]> {
  const out = new Map<string, number>();
  for (const v of values) out.set(v, (out.get(v) ?? 0) + 1);
  return [...out].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

/** What the CDC page must show, from delta-rs reads of food.orders, food.orders_failed, food.orders_current. */
export async function cdcTruth(dataDir: string): Promise<CdcTruth> {
  const valid = await readColumns(dataDir, 'food/orders', ['__commit_ts', 'ingest_time']);
  const failed = await readColumns(dataDir, 'food/orders_failed', [
    'order_id',
    '__commit_ts',
    'validation_reason',
  ]);
  const current = await readColumns(dataDir, 'food/orders_current', ['order_status']);
  const vCommit = valid.columns.__commit_ts as number[];
  const vIngest = valid.columns.ingest_time as number[];
  const fCommit = failed.columns.__commit_ts as number[];
  const changes = vCommit.length + fCommit.length;

  // Capture delay: valid changes committed in the 5 minutes up to the newest commit.
  const newestValid = Math.max(...vCommit);
  const recent = vCommit.map((_, i) => i).filter((i) => vCommit[i] > newestValid - 300e6);
  const delays = recent.map((i) => Math.floor(vIngest[i] / 1000) - Math.floor(vCommit[i] / 1000));

  const newest = Math.max(...vCommit, ...fCommit);
  const perMinute = new Map<string, number>();
  for (const [outcome, times] of [
    ['valid', vCommit],
    ['failed', fCommit],
  ] as const) {
    for (const t of times) {
      if (t <= newest - 3600e6) continue;
      const key = `${Math.floor(t / 60e6) * 60}|${outcome}`;
      perMinute.set(key, (perMinute.get(key) ?? 0) + 1);
    }
  }
  const status = (current.columns.order_status as Array<string | null>).map((s) =>
    s === null ? '(null)' : s.trim() === '' ? '(empty)' : s,
  );
  const ids = failed.columns.order_id as Array<number | string>;
  const recentFailed = fCommit
    .map((t, i) => ({ t, id: BigInt(ids[i]) }))
    .sort((a, b) => b.t - a.t || (b.id > a.id ? 1 : b.id < a.id ? -1 : 0))
    .slice(0, 10)
    .map((r) => String(r.id));
  return {
    versions: {
      'food.orders': valid.version,
      'food.orders_failed': failed.version,
      'food.orders_current': await newestCommit(join(dataDir, 'tables', 'food', 'orders_current')),
    },
    totals: {
      orders: status.length,
      changes,
      failed_changes: fCommit.length,
      failed_share: fCommit.length / changes,
    },
    delay: {
      changes: recent.length,
      mean_delay_ms: Math.round(delays.reduce((a, b) => a + b, 0) / delays.length),
      max_delay_ms: Math.max(...delays),
    },
    perMinute: [...perMinute]
      .map(([k, n]): [number, string, number] => {
        const [t, outcome] = k.split('|');
        return [Number(t), outcome, n];
      })
      .sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1)),
    byStatus: counted(status),
    byReason: counted(failed.columns.validation_reason as string[]),
    recentFailed,
  };
}
