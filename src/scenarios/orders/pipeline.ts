/**
 * The orders pipeline (seed 001) is its definition, pipelines/orders.yaml; this module
 * runs it with the options that tests, benchmarks and the CLI vary, each applied to the
 * definition (a copy) before it is compiled. Nothing here is specific to orders but the
 * names of its sinks.
 */
import type { Clock } from '../../core/clock.ts';
import type { Log } from '../../log/log.ts';
import { builtinDefinitionSync } from '../../pipeline/builtin.ts';
import { compilePipeline, type RunContext } from '../../pipeline/compile.ts';
import type {
  DeltaAppendSinkDefinition,
  DeltaMergeSinkDefinition,
  PipelineDefinition,
} from '../../pipeline/definition.ts';
import { fromObject } from '../../pipeline/load.ts';
import { plan, whenMatched } from '../../pipeline/plan.ts';
import type { Pipeline } from '../../stream/pipeline.ts';
import type { DeltaAppendSink } from '../../stream/sinks/delta-append.ts';
import type { DeltaMergeSink } from '../../stream/sinks/delta-merge.ts';
import type { DeltaTable } from '../../table/table.ts';

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
  /** Merge into orders_current at most this often (default 0: one MERGE after another). */
  currentCommitMs?: number;
  /** Merge into orders_current early once this many change rows are buffered (default 1,000,000). */
  currentMaxBufferedRows?: number;
  /** Size of the files MERGEs write into orders_current (default 1 MiB). */
  currentFileSize?: number;
  /** Size orders_current's files are compacted to once they stop changing (default 16 MiB). */
  currentCompactedFileSize?: number;
  checkpointInterval?: number;
  vacuumRetentionMs?: number;
  /** Sync the tables' files and directories before each commit returns (default true). */
  durableTables?: boolean;
  /** How table commits settle ambiguous storage answers (src/table/commit-put.ts). */
  outcomeCheck?: RunContext['outcomeCheck'];
  /** Wraps each table's store (tests: a fault-injecting store). */
  wrapStore?: RunContext['wrapStore'];
}

const ordersDefinition = () => builtinDefinitionSync('orders').definition;

const ms = (n: number) => `${n}ms`;

/** The orders definition with the options applied. */
export function ordersDefinitionWith(
  opts: Omit<OrdersPipelineOptions, 'dataDir' | 'log'>,
): PipelineDefinition {
  const def = structuredClone(ordersDefinition());
  const events = def.sinks.find((s) => s.name === 'orders_events') as DeltaAppendSinkDefinition;
  const current = def.sinks.find((s) => s.name === 'orders_current') as DeltaMergeSinkDefinition;
  def.runtime = {
    ...def.runtime,
    ...(opts.triggerMs !== undefined && { trigger: ms(opts.triggerMs) }),
    ...(opts.maxRecordsPerBatch !== undefined && { max_records_per_batch: opts.maxRecordsPerBatch }),
    ...(opts.readAhead !== undefined && { read_ahead: opts.readAhead }),
    ...(opts.duckdbThreads !== undefined && { duckdb_threads: opts.duckdbThreads }),
  };
  if (opts.maintenanceIntervalMs !== undefined) def.maintenance = { every: ms(opts.maintenanceIntervalMs) };
  if (opts.dedupHorizonSeconds !== undefined) events.dedup!.horizon = `${opts.dedupHorizonSeconds}s`;
  if (opts.currentCommitMs !== undefined) current.commit_interval = ms(opts.currentCommitMs);
  if (opts.currentMaxBufferedRows !== undefined) current.max_buffered_rows = opts.currentMaxBufferedRows;
  if (opts.currentFileSize !== undefined) current.file_size = opts.currentFileSize;
  if (opts.currentCompactedFileSize !== undefined) {
    current.compaction!.file_size = opts.currentCompactedFileSize;
    const t = def.tables!.find((x) => x.name === 'orders_current')!;
    t.maintenance = { ...t.maintenance, file_size: opts.currentCompactedFileSize };
  }
  for (const t of def.tables ?? []) {
    if (opts.checkpointInterval !== undefined) t.checkpoint_interval = opts.checkpointInterval;
    if (opts.vacuumRetentionMs !== undefined) {
      t.maintenance = { ...t.maintenance, vacuum_retention: ms(opts.vacuumRetentionMs) };
    }
  }
  return def;
}

const ordersPlan = plan(ordersDefinition());

/** The rows orders_events gets from a relation of valid order records (`from`). */
export function eventsSelect(from: string): string {
  return ordersPlan.sinks.find((s) => s.def.name === 'orders_events')!.select(from);
}

/** The target row of orders_current is replaced only by a strictly newer event. */
export const CURRENT_NEWER = (() => {
  const w = whenMatched(
    ordersPlan.sinks.find((s) => s.def.name === 'orders_current')!.def as DeltaMergeSinkDefinition,
  );
  return typeof w === 'object' ? w.update! : '';
})();

export async function ordersPipeline(opts: OrdersPipelineOptions): Promise<{
  pipeline: Pipeline;
  tables: { events: DeltaTable; current: DeltaTable };
  sinks: { events: DeltaAppendSink; current: DeltaMergeSink };
}> {
  const compiled = await compilePipeline(fromObject(ordersDefinitionWith(opts)), {
    dataDir: opts.dataDir,
    log: opts.log,
    topic: opts.topic,
    clock: opts.clock,
    sleep: opts.sleep,
    durableTables: opts.durableTables,
    outcomeCheck: opts.outcomeCheck,
    wrapStore: opts.wrapStore,
  });
  return {
    pipeline: compiled.pipeline,
    tables: {
      events: compiled.tables.get('orders_events')!,
      current: compiled.tables.get('orders_current')!,
    },
    sinks: {
      events: compiled.sinks.get('orders_events') as DeltaAppendSink,
      current: compiled.sinks.get('orders_current') as DeltaMergeSink,
    },
  };
}
