/**
 * The orders system's two tables (seed 001 §3.2), as its definition declares them
 * (pipelines/orders.yaml, which explains their layout): `orders_events` (every valid
 * event once, partitioned by event hour) and `orders_current` (one row per order, kept by
 * MERGE).
 */
import { builtinDefinitionSync } from '../../pipeline/builtin.ts';
import { openTables, type RunContext } from '../../pipeline/compile.ts';
import { plan } from '../../pipeline/plan.ts';
import type { StructType } from '../../table/schema.ts';

export { tablesDir } from '../../pipeline/compile.ts';

const ordersPlan = plan(builtinDefinitionSync('orders').definition);

function declared(name: string): StructType {
  return { type: 'struct', fields: ordersPlan.tables.get(name)!.columns! };
}

export const ORDERS_EVENTS_SCHEMA: StructType = declared('orders_events');
export const ORDERS_CURRENT_SCHEMA: StructType = declared('orders_current');

export interface OrdersTablesOptions
  extends Pick<RunContext, 'clock' | 'outcomeCheck' | 'wrapStore' | 'lake'> {
  checkpointInterval?: number;
  /** Sync files and directories before commits return (default true; docs/storage.md). */
  durable?: boolean;
}

/** Opens the orders tables (defined, to be created by the first commit, when absent). */
export async function openOrdersTables(dataDir: string, opts: OrdersTablesOptions = {}) {
  const p = plan(builtinDefinitionSync('orders').definition);
  if (opts.checkpointInterval !== undefined) {
    for (const t of p.tables.values()) t.def.checkpoint_interval = opts.checkpointInterval;
  }
  const tables = await openTables(p, undefined, {
    dataDir,
    ...(opts.lake !== undefined && { lake: opts.lake }),
    clock: opts.clock,
    durableTables: opts.durable,
    outcomeCheck: opts.outcomeCheck,
    wrapStore: opts.wrapStore,
  });
  return { events: tables.get('orders_events')!, current: tables.get('orders_current')! };
}
