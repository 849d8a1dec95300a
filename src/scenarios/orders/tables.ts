/**
 * The orders system's two tables (seed 001 §3.2):
 *
 * - `orders_events`: every valid event once, append-only, partitioned by the UTC hour of
 *   `event_timestamp` (`event_hour` = `yyyy-MM-dd-HH`), with where it came from in the log.
 * - `orders_current`: one row per order, its latest state, kept by MERGE. Not bucketed
 *   as in the seed (bucket(16, order_id) with merge-on-read): with copy-on-write files a
 *   batch touching every bucket would rewrite the whole table. Instead the table is
 *   unpartitioned and its files hold disjoint `order_id` ranges (written sorted by
 *   order_id); order ids grow with time, so a batch's MERGE touches only the few recent
 *   files (skipped by key min/max stats) and its cost follows the batch, not the table.
 */
import { join } from 'node:path';
import type { Clock } from '../../core/clock.ts';
import { LocalStore } from '../../storage/local.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import type { StructField, StructType } from '../../table/schema.ts';
import { DeltaTable, type OutcomeCheckOptions, type TableContext } from '../../table/table.ts';

const field = (name: string, type: StructField['type'], nullable = true): StructField => ({
  name,
  type,
  nullable,
  metadata: {},
});

const ITEMS: StructField['type'] = {
  type: 'array',
  containsNull: true,
  elementType: {
    type: 'struct',
    fields: [
      field('sku', 'string'),
      field('quantity', 'long'),
      field('unit_price', 'decimal(12,2)'),
      field('category', 'string'),
    ],
  },
};

export const ORDERS_EVENTS_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('event_id', 'string', false),
    field('event_type', 'string', false),
    field('event_timestamp', 'timestamp', false),
    field('order_id', 'string', false),
    field('user_id', 'string'),
    field('total_amount', 'decimal(12,2)'),
    field('currency', 'string'),
    field('payment_method', 'string'),
    field('items', ITEMS),
    field('current_status', 'string'),
    field('source_partition', 'integer'),
    field('source_offset', 'long'),
    field('ingest_time', 'timestamp'),
    field('event_hour', 'string'),
  ],
};

export const ORDERS_CURRENT_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('order_id', 'string', false),
    field('user_id', 'string'),
    field('status', 'string'),
    field('status_rank', 'integer'),
    field('last_event_type', 'string'),
    field('last_event_id', 'string'),
    field('event_timestamp', 'timestamp'),
    field('total_amount', 'decimal(12,2)'),
    field('currency', 'string'),
    field('payment_method', 'string'),
    field('items', ITEMS),
    field('updated_at', 'timestamp'),
    field('source_partition', 'integer'),
    field('source_offset', 'long'),
  ],
};

export function tablesDir(dataDir: string): string {
  return join(dataDir, 'tables');
}

/**
 * Opens the table, or defines it when it does not exist yet: then the pipeline's first
 * commit to it creates it, and version 0 holds its protocol, metaData, first rows and
 * the stream's progress (txn), as Spark and delta-rs number a table's versions. Of
 * several pipelines creating it at once, one wins version 0 and the others go on as
 * appends after it (first-commit.ts).
 */
export async function openOrCreate(
  store: ObjectStore,
  schema: StructType,
  opts: {
    partitionColumns?: string[];
    name: string;
    description: string;
    checkpointInterval?: number;
    configuration?: Record<string, string>;
  },
  ctx: TableContext = {},
): Promise<DeltaTable> {
  return DeltaTable.open(store, {
    ...ctx,
    createIfMissing: {
      schema,
      partitionColumns: opts.partitionColumns ?? [],
      name: opts.name,
      description: opts.description,
      configuration: {
        'delta.checkpointInterval': String(opts.checkpointInterval ?? 10),
        ...opts.configuration,
      },
    },
  });
}

export interface OrdersTablesOptions {
  clock?: Clock;
  checkpointInterval?: number;
  /** Sync files and directories before commits return (default true; docs/storage.md). */
  durable?: boolean;
  /** How commits settle ambiguous storage answers (src/table/commit-put.ts). */
  outcomeCheck?: OutcomeCheckOptions;
  /** Wraps each table's store (tests: a fault-injecting store, src/storage/faulty.ts). */
  wrapStore?: (store: ObjectStore, table: string) => ObjectStore;
}

export async function openOrdersTables(dataDir: string, opts: OrdersTablesOptions = {}) {
  const { checkpointInterval } = opts;
  const ctx: TableContext = {
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.outcomeCheck ? { outcomeCheck: opts.outcomeCheck } : {}),
  };
  const store = (name: string): ObjectStore => {
    const local = new LocalStore(join(tablesDir(dataDir), name), { durable: opts.durable ?? true });
    return opts.wrapStore ? opts.wrapStore(local, name) : local;
  };
  const events = await openOrCreate(
    store('orders_events'),
    ORDERS_EVENTS_SCHEMA,
    {
      name: 'orders_events',
      description: 'Every valid order event once (append-only), partitioned by event hour',
      partitionColumns: ['event_hour'],
      checkpointInterval,
    },
    ctx,
  );
  const current = await openOrCreate(
    store('orders_current'),
    ORDERS_CURRENT_SCHEMA,
    {
      name: 'orders_current',
      description: 'Latest state per order (MERGE), files clustered by order_id range',
      checkpointInterval,
      // MERGEs rewrite the recent files about once a second (copy-on-write) and
      // compaction rewrites them again: with the default 7 days VACUUM would keep a week
      // of superseded copies. One hour of time travel, matching the hourly maintenance
      // (seed: expire snapshots).
      configuration: { 'delta.deletedFileRetentionDuration': 'interval 1 hours' },
    },
    ctx,
  );
  return { events, current };
}
