/**
 * The orders pipeline (seed 001): topic `orders` → validate against the order contract
 * (rejects to `orders.dlq`) → two sinks from one stream:
 * - `orders_events`: append, deduplicated by event_id;
 * - `orders_current`: MERGE of each order's latest event, where "latest" is the newest
 *   event time, ties broken by lifecycle rank (CREATED < PAID < SHIPPED < CANCELLED <
 *   RETURNED) and then by event_id, so out-of-order arrival changes nothing.
 */
import type { Clock } from '../../core/clock.ts';
import type { Log } from '../../log/log.ts';
import { Pipeline } from '../../stream/pipeline.ts';
import { DeltaAppendSink } from '../../stream/sinks/delta-append.ts';
import { DeltaMergeSink } from '../../stream/sinks/delta-merge.ts';
import { ordersContract } from './contract.ts';
import { type OrdersTablesOptions, openOrdersTables } from './tables.ts';

export const ORDERS_TOPIC = 'orders';
export const ORDERS_PARTITIONS = 4;
export const PIPELINE_NAME = 'orders';

export interface OrdersPipelineOptions {
  dataDir: string;
  log: Log;
  /** Source topic (default `orders`); the DLQ is `<topic>.dlq`. */
  topic?: string;
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
  triggerMs?: number;
  maxRecordsPerBatch?: number;
  /** Read the next batch while the sinks write the current one, when backlogged (default true). */
  readAhead?: boolean;
  /** Threads of the process's DuckDB instance (default 1; see PipelineOptions). */
  duckdbThreads?: number;
  /** Hourly by default (seed §3.4). */
  maintenanceIntervalMs?: number;
  /** Dedup memory horizon in seconds of event time (default 60). */
  dedupHorizonSeconds?: number;
  /**
   * Merge into orders_current at most this often (default 0: as soon as the previous
   * MERGE has finished, one at a time in the background). The seed asks for
   * orders_current within 60 s; a longer interval trades freshness for less CPU (each
   * MERGE rewrites the recent files holding changed orders).
   */
  currentCommitMs?: number;
  /** Merge into orders_current early once this many change rows are buffered (default 1,000,000). */
  currentMaxBufferedRows?: number;
  /**
   * Size of the files MERGEs write into orders_current (default 1 MiB): a MERGE rewrites
   * every file holding a changed order, so recent orders live in small files.
   */
  currentFileSize?: number;
  /** Size orders_current's files are compacted to once they stop changing (default 16 MiB). */
  currentCompactedFileSize?: number;
  checkpointInterval?: number;
  vacuumRetentionMs?: number;
  /**
   * Sync the tables' files and directories before each commit returns (default true;
   * docs/storage.md). Off only for data that can be rebuilt (benchmarks, tests).
   */
  durableTables?: boolean;
  /** How table commits settle ambiguous storage answers (src/table/commit-put.ts). */
  outcomeCheck?: OrdersTablesOptions['outcomeCheck'];
  /** Wraps each table's store (tests: a fault-injecting store). */
  wrapStore?: OrdersTablesOptions['wrapStore'];
}

const RANK = `CASE event_type WHEN 'ORDER_CREATED' THEN 0 WHEN 'ORDER_PAID' THEN 1 WHEN 'ORDER_SHIPPED' THEN 2 WHEN 'ORDER_CANCELLED' THEN 3 WHEN 'ORDER_RETURNED' THEN 4 END`;

/**
 * `event_hour` formats a plain TIMESTAMP (UTC wall clock, from epoch microseconds): the
 * same text as formatting the TIMESTAMPTZ in the UTC session, ~3x cheaper (no time
 * zone lookups per row).
 */
export function eventsSelect(from: string): string {
  return `SELECT event_id, event_type, to_timestamp(event_timestamp) AS event_timestamp, order_id, user_id, ${AMOUNT}, currency, payment_method, ${ITEMS}, current_status, _p AS source_partition, _o AS source_offset, to_timestamp(_t / 1000) AS ingest_time, strftime(make_timestamp(event_timestamp * 1000000), '%Y-%m-%d-%H') AS event_hour FROM ${from}`;
}

/** Money as the tables hold it: the contract admits only amounts with cents at most that fit. */
const AMOUNT = 'total_amount::DECIMAL(12,2) AS total_amount';
const ITEMS = `items::STRUCT("sku" VARCHAR, "quantity" BIGINT, "unit_price" DECIMAL(12,2), "category" VARCHAR)[] AS items`;

const POSITION = `(_p::BIGINT * ${2 ** 40} + _o)`;

/**
 * Each order's latest event in the batch. The winner is chosen on narrow values (the max
 * of a struct compares field by field: time, rank, event_id) and its position; only the
 * winners' wide rows are then read — a window over the wide rows was 3x slower.
 */
function currentSelect(from: string): string {
  const latest = `SELECT max({'ts': event_timestamp, 'rank': ${RANK}, 'id': event_id, 'pos': ${POSITION}}).pos AS pos FROM ${from} GROUP BY order_id`;
  return `SELECT order_id, user_id, current_status AS status, ${RANK} AS status_rank, event_type AS last_event_type, event_id AS last_event_id, to_timestamp(event_timestamp) AS event_timestamp, ${AMOUNT}, currency, payment_method, ${ITEMS}, to_timestamp(_t / 1000) AS updated_at, _p AS source_partition, _o AS source_offset FROM ${from} SEMI JOIN (${latest}) AS w ON w.pos = ${POSITION}`;
}

/** The target row is replaced only by a strictly newer event (see the header). */
export const CURRENT_NEWER =
  '(source.event_timestamp, source.status_rank, source.last_event_id) > (target.event_timestamp, target.status_rank, target.last_event_id)';

/** The same order as CURRENT_NEWER, for combining buffered changes of one order. */
const CURRENT_NEWEST = ['event_timestamp', 'status_rank', 'last_event_id'];

export async function ordersPipeline(opts: OrdersPipelineOptions) {
  const { log } = opts;
  const topic = opts.topic ?? ORDERS_TOPIC;
  await log.ensureTopic(topic, { partitions: ORDERS_PARTITIONS });
  const tables = await openOrdersTables(opts.dataDir, {
    clock: opts.clock,
    checkpointInterval: opts.checkpointInterval,
    durable: opts.durableTables,
    outcomeCheck: opts.outcomeCheck,
    wrapStore: opts.wrapStore,
  });
  const events = new DeltaAppendSink({
    name: 'orders_events',
    appIdPrefix: `${PIPELINE_NAME}/orders_events/${topic}`,
    table: tables.events,
    select: eventsSelect,
    dedup: {
      key: 'event_id',
      keyType: 'UUID',
      batchTime: 'event_timestamp',
      tableTime: 'event_timestamp',
      horizonSeconds: opts.dedupHorizonSeconds ?? 60,
    },
    // Hourly compaction rewrites these files (zstd): snappy is cheaper to write per batch.
    compression: 'snappy',
    maintenance: { vacuumRetentionMs: opts.vacuumRetentionMs },
  });
  const currentFileSize = opts.currentFileSize ?? 1024 * 1024;
  const compactedFileSize = opts.currentCompactedFileSize ?? 16 * 1024 * 1024;
  const current = new DeltaMergeSink({
    name: 'orders_current',
    appIdPrefix: `${PIPELINE_NAME}/orders_current/${topic}`,
    table: tables.current,
    select: currentSelect,
    on: ['order_id'],
    whenMatched: { update: CURRENT_NEWER },
    newestBy: CURRENT_NEWEST,
    commitIntervalMs: opts.currentCommitMs ?? 0,
    maxBufferedRows: opts.currentMaxBufferedRows,
    clock: opts.clock,
    targetFileSize: currentFileSize,
    orderBy: ['order_id'],
    compression: 'snappy',
    // Orders change within seconds of their creation, rarely later: files a minute old
    // are compacted every 30 s into large ones.
    compaction: { everyMs: 30_000, olderThanMs: 60_000, targetFileSize: compactedFileSize },
    maintenance: {
      targetFileSize: compactedFileSize,
      olderThanMs: 60_000,
      orderBy: ['order_id'],
      vacuumRetentionMs: opts.vacuumRetentionMs,
    },
  });
  const pipeline = new Pipeline({
    name: PIPELINE_NAME,
    log,
    topic,
    contract: ordersContract,
    sinks: [events, current],
    dlq: { topic: `${topic}.dlq`, progressIn: events },
    eventTimeMs: 'event_timestamp * 1000',
    triggerMs: opts.triggerMs,
    maxRecordsPerBatch: opts.maxRecordsPerBatch,
    readAhead: opts.readAhead,
    duckdbThreads: opts.duckdbThreads,
    maintenanceIntervalMs: opts.maintenanceIntervalMs ?? 3_600_000,
    clock: opts.clock,
    sleep: opts.sleep,
  });
  await pipeline.open();
  return { pipeline, tables, sinks: { events, current } };
}
