/**
 * Shared by the dashboard's tests: a lake made by the real orders pipeline (generator →
 * embedded log → pipeline → Delta tables, all in this process, so the live panels have a
 * pipeline to read), and the truth each panel must show, computed independently: the
 * tables read with delta-rs (test/server/py/read_columns_exact.py) and the numbers worked
 * out here in plain JavaScript; the dead-letter topic read record by record.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts';
import { generateOrders } from '../../src/scenarios/orders/generate.ts';
import { ordersPipeline } from '../../src/scenarios/orders/pipeline.ts';
import { decodeDeadLetter } from '../../src/stream/dead-letter.ts';
import type { Pipeline } from '../../src/stream/pipeline.ts';
import { tempDir } from './helpers.ts';

const PYTHON =
  process.env.TRIBUTARY_TEST_PYTHON ?? join(import.meta.dirname, '..', '..', '.venv', 'bin', 'python');
const READ = join(import.meta.dirname, 'py', 'read_columns_exact.py');

export interface OrdersLake {
  dataDir: string;
  log: EmbeddedLog;
  pipeline: Pipeline;
  /**
   * Generates `count` more order events (at `rate` events/s, default as fast as it can)
   * and runs the pipeline until it has taken them all.
   */
  add(count: number, seed: number, rate?: number): Promise<void>;
  close(): Promise<void>;
}

export async function ordersLake(): Promise<OrdersLake> {
  const dataDir = tempDir('dashboard');
  const log = new EmbeddedLog({ dir: join(dataDir, 'log'), fsync: 'never' });
  const { pipeline } = await ordersPipeline({ dataDir, log, durableTables: false, triggerMs: 20 });
  return {
    dataDir,
    log,
    pipeline,
    async add(count, seed, rate) {
      await generateOrders({ log, count, seed, rate });
      await pipeline.run({ untilCaughtUp: true });
      await pipeline.refreshLag();
    },
    async close() {
      await pipeline.close();
      await log.close();
    },
  };
}

/** Columns of a table as delta-rs reads them (the latest version, or `version`). */
export async function readColumns(
  dataDir: string,
  table: string,
  columns: string[],
  version?: number,
): Promise<{ version: number; columns: Record<string, unknown[]> }> {
  const args = [READ, join(dataDir, 'tables', table), columns.join(',')];
  if (version !== undefined) args.push(String(version));
  const { stdout } = await promisify(execFile)(PYTHON, args, { maxBuffer: 512 * 1024 * 1024 });
  return JSON.parse(stdout);
}

/** Cents of a decimal text with two places (or fewer). */
function cents(text: string): bigint {
  const [whole, frac = ''] = text.split('.');
  const sign = whole.startsWith('-') ? -1n : 1n;
  return sign * (BigInt(whole.replace('-', '')) * 100n + BigInt(frac.padEnd(2, '0').slice(0, 2)));
}

function money(c: bigint): string {
  const sign = c < 0n ? '-' : '';
  const abs = c < 0n ? -c : c;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

export interface OrdersTruth {
  versions: { orders_events: number; orders_current: number };
  totals: { orders: number; open_orders: number; events: number };
  /** [status, orders], most first, then by status. */
  byStatus: Array<[string, number]>;
  /** [epoch second, events] for the 5 minutes up to the newest ingest_time. */
  eventsPerSecond: Array<[number, number]>;
  /** [epoch minute start, currency, revenue text] for the hour up to the newest event time. */
  revenuePerMinute: Array<[number, string, string]>;
}

/** What the orders page must show, from delta-rs reads of the tables' latest versions. */
export async function ordersTruth(dataDir: string): Promise<OrdersTruth> {
  const current = await readColumns(dataDir, 'orders_current', ['status']);
  const events = await readColumns(dataDir, 'orders_events', [
    'ingest_time',
    'event_timestamp',
    'event_type',
    'currency',
    'total_amount',
  ]);
  const status = current.columns.status as string[];
  const counts = new Map<string, number>();
  for (const s of status) counts.set(s, (counts.get(s) ?? 0) + 1);
  const byStatus = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));

  const ingest = events.columns.ingest_time as number[];
  const newestIngest = ingest.reduce((m, t) => Math.max(m, t), 0);
  const perSecond = new Map<number, number>();
  for (const t of ingest) {
    if (t <= newestIngest - 5 * 60 * 1e6) continue;
    const s = Math.floor(t / 1e6);
    perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
  }

  const eventTime = events.columns.event_timestamp as number[];
  const newestEvent = eventTime.reduce((m, t) => Math.max(m, t), 0);
  const revenue = new Map<string, bigint>();
  for (let i = 0; i < eventTime.length; i++) {
    if (events.columns.event_type[i] !== 'ORDER_PAID' || eventTime[i] <= newestEvent - 60 * 60 * 1e6)
      continue;
    const key = JSON.stringify([Math.floor(eventTime[i] / 60e6) * 60, events.columns.currency[i]]);
    revenue.set(key, (revenue.get(key) ?? 0n) + cents(events.columns.total_amount[i] as string));
  }
  return {
    versions: { orders_events: events.version, orders_current: current.version },
    totals: {
      orders: status.length,
      open_orders: status.filter((s) => s === 'CREATED' || s === 'PAID').length,
      events: ingest.length,
    },
    byStatus,
    eventsPerSecond: [...perSecond].sort((a, b) => a[0] - b[0]),
    revenuePerMinute: [...revenue]
      .map(([key, c]): [number, string, string] => {
        const [t, currency] = JSON.parse(key);
        return [t, currency, money(c)];
      })
      .sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1)),
  };
}

export interface DlqTruth {
  total: number;
  /** Records by reason, labelled as the page shows them (`rule` or `rule: field`). */
  byReason: Map<string, number>;
}

/** Every record of the dead-letter topic, read from the log and counted here. */
export async function dlqTruth(log: EmbeddedLog, topic: string): Promise<DlqTruth> {
  const { partitions } = await log.describeTopic(topic);
  const counts = new Map<string, number>();
  let total = 0;
  for (let p = 0; p < partitions; p++) {
    let offset = 0;
    for (;;) {
      const batch = await log.fetch(topic, p, offset, { maxRecords: 10_000 });
      if (batch.records.length === 0) break;
      for (const r of batch.records) {
        const d = decodeDeadLetter(r.value!);
        const label = d.field === '' ? d.rule : `${d.rule}: ${d.field}`;
        counts.set(label, (counts.get(label) ?? 0) + 1);
        total++;
      }
      offset = batch.nextOffset;
    }
  }
  return { total, byReason: counts };
}
