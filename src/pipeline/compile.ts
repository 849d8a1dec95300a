/**
 * From a definition to a running pipeline: checks (shape, references, SQL binding) first,
 * so nothing is created or written for a definition that cannot run; then the source
 * topic, the tables (created by their first commit, with the declared or inferred
 * schema), the sinks and the runtime.
 */

import { promises as fs } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { AvroDecoder } from '../connectors/avro/decoder.ts';
import { AvroRowEncoder } from '../connectors/avro/encoder.ts';
import type { SchemaRegistryClient } from '../connectors/avro/registry-client.ts';
import { JsonDecoder } from '../connectors/json/decoder.ts';
import type { PgConnector } from '../connectors/postgres/client.ts';
import { PostgresSink } from '../connectors/postgres/sink.ts';
import { parseTableName } from '../connectors/postgres/tables.ts';
import { postgresType } from '../connectors/postgres/types.ts';
import type { Clock } from '../core/clock.ts';
import { isTributaryError, TributaryError } from '../core/errors.ts';
import type { Log } from '../log/log.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { DedupOperator } from '../stream/dedup-operator.ts';
import type { PipelineMetrics } from '../stream/metrics.ts';
import { PartitionedStateKeeper } from '../stream/partitioned.ts';
import { type DlqProgressSink, Pipeline, type PipelineOptions } from '../stream/pipeline.ts';
import { DeltaAppendSink } from '../stream/sinks/delta-append.ts';
import { DeltaMergeSink } from '../stream/sinks/delta-merge.ts';
import { QualitySink } from '../stream/sinks/quality.ts';
import { TopicSink } from '../stream/sinks/topic.ts';
import { TableSource } from '../stream/sources/table.ts';
import { TopicSource } from '../stream/sources/topic.ts';
import { StateKeeper, stageTable, type WindowStage } from '../stream/stateful.ts';
import type { BatchView, Decoder, Sink, Source } from '../stream/types.ts';
import { WindowOperator } from '../stream/window/index.ts';
import { type DeltaTable, filesRelation, openConnection, type StructType } from '../table/index.ts';
import { type OutcomeCheckOptions, DeltaTable as Table, type TableContext } from '../table/table.ts';
import { duckType } from '../table/types.ts';
import { loadAvroReader } from './avro.ts';
import { type CheckResult, checkPlan, emptyInputSql, tableSchema } from './check.ts';
import type { PipelineDefinition, TopicSinkDefinition } from './definition.ts';
import { parseDuration, parseSize } from './durations.ts';
import { invalid, type LoadedDefinition } from './load.ts';
import { type Locations, openLocation, openSourceTable, stateLocation, tableLocation } from './locations.ts';
import { lateRelation, lateRowsSql, type Plan, plan, QUALITY_SINK, tagColumns, whenMatched } from './plan.ts';

/** What a run adds to a definition: where data lives, which log, and test hooks. */
export interface RunContext extends Locations {
  log: Log;
  /** Read this topic instead of the definition's (its DLQ becomes `<topic>.dlq`). */
  topic?: string;
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
  /** Sync table files before commits return (default true; docs/storage.md). */
  durableTables?: boolean;
  outcomeCheck?: OutcomeCheckOptions;
  /** Wraps each table's store (tests: a fault-injecting store). */
  wrapStore?: (store: ObjectStore, table: string) => ObjectStore;
  /** The PostgreSQL database `postgres` sinks write (a server's pool, or the embedded one's). */
  postgres?: PgConnector;
  /** Counters of the pipeline this one replaces (a capture's schema change), to keep counting in. */
  metrics?: PipelineMetrics;
  /**
   * The schema registry Avro topics are read with (writer schemas by id) and Avro topic
   * sinks register their schemas in: `--registry URL` / `$TRIBUTARY_REGISTRY`, or the
   * embedded one the command line opens.
   */
  registry?: SchemaRegistryClient;
  /** A consumer group's worker: it loads no partition's state before the group assigns it some. */
  grouped?: boolean;
}

export interface CompiledPipeline {
  pipeline: Pipeline;
  plan: Plan;
  tables: Map<string, DeltaTable>;
  sinks: Map<string, Sink>;
}

export { openSourceTable, tablesDir } from './locations.ts';

/**
 * Plans and checks a definition, throwing PIPELINE_INVALID with every problem found. A
 * table source is read from the lake or `dataDir` (its columns are the input's).
 */
export async function checkDefinition(
  loaded: LoadedDefinition,
  opts: { dataDir?: string; lake?: string; registry?: SchemaRegistryClient } = {},
): Promise<{ plan: Plan; checked: CheckResult; source?: { table: DeltaTable; name: string } }> {
  const reader = await loadAvroReader(loaded.definition, loaded.file, opts.registry);
  if (reader && 'message' in reader) invalid(loaded, [reader]);
  const p = plan(loaded.definition, { ...(reader && { avro: reader }) });
  if (p.problems.length > 0) invalid(loaded, p.problems);
  let source: { table: DeltaTable; name: string } | undefined;
  let inputSql: string;
  if ('table' in p.def.source) {
    const opened = await openSourceTable(p.def, {
      dataDir: opts.dataDir ?? './tributary-data',
      ...(opts.lake !== undefined && { lake: opts.lake }),
    });
    if ('message' in opened) invalid(loaded, [opened]);
    source = opened;
    inputSql = emptyInputSql(p, (await opened.table.snapshot()).schema.fields, duckType);
  } else {
    inputSql = emptyInputSql(p);
  }
  const conn = await openConnection();
  try {
    const checked = await checkPlan(conn, p, inputSql);
    if (checked.problems.length > 0) invalid(loaded, checked.problems);
    return { plan: p, checked, source };
  } finally {
    conn.closeSync();
  }
}

/** Opens (or defines, to be created by the first commit) every table the plan's sinks write. */
export async function openTables(
  p: Plan,
  checked: CheckResult | undefined,
  ctx: Pick<RunContext, 'dataDir' | 'lake' | 'clock' | 'durableTables' | 'outcomeCheck' | 'wrapStore'>,
): Promise<Map<string, DeltaTable>> {
  const tables = new Map<string, DeltaTable>();
  const tctx: TableContext = {
    ...(ctx.clock ? { clock: ctx.clock } : {}),
    ...(ctx.outcomeCheck ? { outcomeCheck: ctx.outcomeCheck } : {}),
  };
  for (const s of p.sinks) {
    const t = s.table;
    if (!t) continue;
    const opened = openLocation(tableLocation(ctx, t.def.path ?? t.def.name), {
      durable: ctx.durableTables ?? true,
    });
    const store = ctx.wrapStore ? ctx.wrapStore(opened, t.def.name) : opened;
    const schema: StructType = {
      type: 'struct',
      fields: tableSchema(t.columns, checked?.sinkColumns.get(s.def.name), t.def.not_null),
    };
    const table = await Table.open(store, {
      ...tctx,
      createIfMissing: {
        schema,
        partitionColumns: t.partitions.map((x) => x.name),
        name: t.def.name,
        description: t.def.description ?? `written by pipeline '${p.def.name}' (sink '${s.def.name}')`,
        configuration: {
          'delta.checkpointInterval': String(t.def.checkpoint_interval ?? 10),
          ...t.def.properties,
        },
      },
    });
    tables.set(t.def.name, table);
  }
  return tables;
}

/** The source topic a run reads. */
export function sourceTopic(def: PipelineDefinition, ctx: Pick<RunContext, 'topic'>): string {
  if (!('topic' in def.source)) throw new Error('not a topic source');
  return ctx.topic ?? def.source.topic;
}

/** The Avro encoder of a topic sink with `format: avro`: its schema given, or made from its rows' columns. */
async function avroEncoder(
  loaded: LoadedDefinition,
  index: number,
  columns: { names: string[]; types: { toString(): string }[] },
  registry: SchemaRegistryClient,
): Promise<AvroRowEncoder> {
  const d = loaded.definition.sinks[index] as TopicSinkDefinition;
  let schema: string | undefined;
  const given = d.avro?.schema;
  if (given !== undefined) {
    if (/^\s*[{["]/.test(given)) schema = given;
    else {
      const path = isAbsolute(given) ? given : resolve(loaded.file ? dirname(loaded.file) : '.', given);
      try {
        schema = await fs.readFile(path, 'utf8');
      } catch (err) {
        invalid(loaded, [
          {
            path: ['sinks', index, 'avro', 'schema'],
            message: `cannot read the Avro schema file ${path}: ${(err as Error).message}`,
          },
        ]);
      }
    }
  }
  try {
    return new AvroRowEncoder({
      registry,
      subject: `${d.topic}-value`,
      columns: columns.names.map((name, i) => ({ name, type: columns.types[i].toString() })),
      name: d.name,
      ...(schema !== undefined && { schema }),
      where: `sink '${d.name}'`,
    });
  } catch (err) {
    if (!isTributaryError(err)) throw err;
    invalid(loaded, [
      {
        path: ['sinks', index, ...(given !== undefined ? ['avro', 'schema'] : ['format'])],
        message: err.message,
      },
    ]);
  }
}

/** The decoder of a topic's records: Avro with its reader schema, else JSON. */
function decoderFor(p: Plan, registry: SchemaRegistryClient | undefined): Decoder {
  if (p.avro)
    return new AvroDecoder({ readerSchema: p.avro.schema, registry: registry!, contract: p.contract! });
  return new JsonDecoder(p.contract!);
}

export async function compilePipeline(loaded: LoadedDefinition, ctx: RunContext): Promise<CompiledPipeline> {
  const {
    plan: p,
    checked,
    source: fromTable,
  } = await checkDefinition(loaded, {
    dataDir: ctx.dataDir,
    ...(ctx.lake !== undefined && { lake: ctx.lake }),
    ...(ctx.registry && { registry: ctx.registry }),
  });
  const def = p.def;
  const needsRegistry = [
    ...(p.avro ? ['its source topic is Avro'] : []),
    ...p.sinks
      .filter((s) => s.def.type === 'topic' && s.def.format === 'avro')
      .map((s) => `sink '${s.def.name}' writes Avro`),
  ];
  if (needsRegistry.length > 0 && !ctx.registry) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `pipeline '${def.name}' needs a schema registry (${needsRegistry.join(', ')}): give one with --registry URL or $TRIBUTARY_REGISTRY`,
    );
  }
  let source: Source;
  let rowsRelation: PipelineOptions['rowsRelation'];
  if ('topic' in def.source) {
    const name = sourceTopic(def, ctx);
    await ctx.log.ensureTopic(name, {
      partitions: def.source.partitions ?? 4,
      ...(def.source.retention !== undefined && { retentionMs: parseDuration(def.source.retention) }),
    });
    source = new TopicSource(ctx.log, name);
  } else {
    const t = fromTable!;
    source = new TableSource(t.table, t.name);
    const snap = await t.table.snapshot();
    rowsRelation = (conn, files) =>
      filesRelation(conn, [...files], snap.schema, snap.metadata.partitionColumns);
  }
  const topic = source.name;
  const tables = await openTables(p, checked, ctx);
  const sinks = new Map<string, Sink>();
  let dlqProgressIn: DlqProgressSink | undefined;
  const pgSinks = p.sinks.filter((s) => s.def.type === 'postgres').map((s) => s.def.name);
  if (pgSinks.length > 0 && !ctx.postgres) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `pipeline '${def.name}' writes PostgreSQL (sink ${pgSinks.join(', ')}): give the database (--postgres URL, or $TRIBUTARY_POSTGRES), or run it with the command-line tool, which starts the embedded one`,
    );
  }
  const eventSeconds = p.eventTime ? `epoch(${p.eventTime})::BIGINT` : undefined;
  // Windows and dedups: stateful steps, run once per batch; their sinks read their rows.
  const windowNames = new Set([
    ...p.windows.map((w) => w.def.name),
    ...p.windows.filter((w) => w.lateTable).map((w) => lateRelation(w.def.name)),
    ...p.dedups.map((d) => d.def.name),
  ]);
  // Sinks whose batches are planned (stateful.ts): those of stateful steps, and topic sinks.
  const plannedSinks: Sink[] = [];
  const stateStore = openLocation(stateLocation(ctx, def.name), { durable: ctx.durableTables ?? true });
  for (const s of p.sinks) {
    const d = s.def;
    const appIdPrefix = `${def.name}/${d.name}/${topic}`;
    // A sink of a window reads the window's rows of the batch, produced once, whole.
    const input = windowNames.has(d.from)
      ? { input: (batch: BatchView) => batch.relations!.get(d.from)! }
      : {};
    if (d.type === 'delta_append') {
      const sink = new DeltaAppendSink({
        name: d.name,
        appIdPrefix,
        table: tables.get(d.table)!,
        select:
          d.dedup && !windowNames.has(d.from) ? sinkDedupSelect(s.select, def.name, p.dedups) : s.select,
        ...input,
        ...(d.dedup && {
          dedup: {
            key: d.dedup.key,
            ...(d.dedup.key_type !== undefined && { keyType: d.dedup.key_type }),
            batchTime: eventSeconds!,
            tableTime: d.dedup.time,
            horizonSeconds: parseDuration(d.dedup.horizon) / 1000,
          },
        }),
        ...(d.compression !== undefined && { compression: d.compression }),
        ...(d.file_size !== undefined && { targetFileSize: parseSize(d.file_size) }),
        maintenance: s.table!.maintenance,
        ...(s.table!.evolve && { schemaMode: 'merge' as const }),
      });
      sinks.set(d.name, sink);
      if (s.planned) plannedSinks.push(sink);
      dlqProgressIn ??= sink;
    } else if (d.type === 'delta_merge') {
      const sink = new DeltaMergeSink({
        name: d.name,
        appIdPrefix,
        table: tables.get(d.table)!,
        select: s.select,
        ...input,
        on: d.key,
        whenMatched: whenMatched(d),
        ...(d.insert_when !== undefined && { whenNotMatched: { insert: d.insert_when } }),
        ...(d.newest_by !== undefined && { newestBy: d.newest_by }),
        commitIntervalMs: d.commit_interval === undefined ? 0 : parseDuration(d.commit_interval),
        ...(d.max_buffered_rows !== undefined && { maxBufferedRows: d.max_buffered_rows }),
        ...(d.file_size !== undefined && { targetFileSize: parseSize(d.file_size) }),
        ...(d.order_by !== undefined && { orderBy: d.order_by }),
        ...(d.compression !== undefined && { compression: d.compression }),
        ...(d.compaction && {
          compaction: {
            everyMs: parseDuration(d.compaction.every),
            olderThanMs: parseDuration(d.compaction.older_than),
            targetFileSize: parseSize(d.compaction.file_size),
          },
        }),
        ...(ctx.clock && { clock: ctx.clock }),
        maintenance: s.table!.maintenance,
        ...(s.table!.evolve && { schemaMode: 'merge' as const }),
      });
      sinks.set(d.name, sink);
      if (s.planned) plannedSinks.push(sink);
    } else if (d.type === 'postgres') {
      const rows = checked.sinkColumns.get(d.name)!;
      const sink = new PostgresSink({
        name: d.name,
        appIdPrefix,
        db: ctx.postgres!,
        table: parseTableName(d.table),
        key: d.key,
        columns: rows.names.map((name, i) => ({
          name,
          type: d.column_types?.[name] ?? postgresType(rows.types[i]),
        })),
        ...(d.updated_at !== undefined && { updatedAt: d.updated_at }),
        select: s.select,
        ...input,
      });
      sinks.set(d.name, sink);
      if (s.planned) plannedSinks.push(sink);
    } else {
      const sink = new TopicSink({
        name: d.name,
        log: ctx.log,
        topic: d.topic,
        ...(d.format === 'avro' && {
          encoder: await avroEncoder(
            loaded,
            p.sinks.indexOf(s),
            checked.sinkColumns.get(d.name)!,
            ctx.registry!,
          ),
        }),
        partitions: d.partitions ?? (await source.partitions()),
        ...(d.key !== undefined && { key: d.key }),
        select: s.select,
        ...input,
        store: stateStore,
      });
      sinks.set(d.name, sink);
      plannedSinks.push(sink);
    }
  }
  const decoder = p.contract && decoderFor(p, ctx.registry);
  const quality = def.quality;
  if (quality) {
    // Its results are a function of the batch's plan: planned, like a topic sink.
    const sink = new QualitySink({
      name: QUALITY_SINK,
      pipeline: def.name,
      log: ctx.log,
      topic: quality.topic,
      partitions: quality.partitions ?? 1,
      source: topic,
      ...(decoder && { contract: decoder.contractName }),
      rules: decoder?.rules ?? [],
      samples: quality.samples ?? 5,
      ...(quality.sample_id !== undefined && { sampleId: quality.sample_id }),
      store: stateStore,
    });
    sinks.set(QUALITY_SINK, sink);
    plannedSinks.push(sink);
  }
  // The DLQ's progress is committed with a Delta sink's batches: the first append sink's,
  // else the first MERGE sink's.
  dlqProgressIn ??= [...sinks.values()].find((s): s is DlqProgressSink => 'table' in s || 'marker' in s);
  // In definition order: a window may count a dedup's rows. With state per partition,
  // each partition has operators of its own (`instance`), its rows in tables of its own.
  const stages = (partition?: number): WindowStage[] =>
    (def.transforms ?? []).flatMap((t): WindowStage[] => {
      const instance = partition === undefined ? undefined : `p${partition}`;
      const w = p.windows.find((x) => x.def.name === t.name);
      if (w) {
        const name = w.def.name;
        return [
          {
            operator: new WindowOperator(w.spec!, name, instance),
            field: w.def.window.time ?? def.event_time?.expr,
            input: w.input,
            late: w.late,
            lateRows: (input, late, watermark) => lateRowsSql(name, input, late, watermark),
          },
        ];
      }
      const d = p.dedups.find((x) => x.def.name === t.name);
      if (!d) return [];
      const out = stageTable('dedup', def.name, instance ? `${d.def.name}__${instance}` : d.def.name);
      return [
        { kind: 'dedup', operator: new DedupOperator(d.spec, d.def.name, out, instance), input: d.input },
      ];
    });
  const checks = quality && { checks: { samples: quality.samples ?? 5 } };
  const stateful =
    plannedSinks.length === 0
      ? undefined
      : {
          keeper:
            def.state === 'per_partition'
              ? new PartitionedStateKeeper({ store: stateStore, pipeline: def.name, stages, ...checks })
              : new StateKeeper({
                  store: stateStore,
                  pipeline: def.name,
                  batchRelation: p.readsBatch,
                  ...checks,
                  windows: stages(),
                }),
          sinks: plannedSinks,
        };
  const rt = def.runtime ?? {};
  const pipeline = new Pipeline({
    name: def.name,
    source,
    ...(decoder && { decoder }),
    ...(rowsRelation && { rowsRelation }),
    ...(def.contract?.on_failure === 'tag' && { tagFailures: tagColumns(def) }),
    sinks: [...sinks.values()],
    ...(dlqProgressIn &&
      source instanceof TopicSource && {
        dlq: { log: ctx.log, topic: def.dlq?.topic ?? `${topic}.dlq`, progressIn: dlqProgressIn },
      }),
    ...(p.eventTime && { eventTimeMs: `epoch_ms(${p.eventTime})` }),
    ...(rt.trigger !== undefined && { triggerMs: parseDuration(rt.trigger) }),
    ...(rt.max_records_per_batch !== undefined && { maxRecordsPerBatch: rt.max_records_per_batch }),
    ...(rt.max_bytes_per_batch !== undefined && { maxBytesPerBatch: parseSize(rt.max_bytes_per_batch) }),
    ...(rt.read_ahead !== undefined && { readAhead: rt.read_ahead }),
    ...(rt.duckdb_threads !== undefined && { duckdbThreads: rt.duckdb_threads }),
    maintenanceIntervalMs: p.maintenanceEveryMs,
    ...(stateful && { stateful }),
    ...(ctx.clock && { clock: ctx.clock }),
    ...(ctx.sleep && { sleep: ctx.sleep }),
    ...(ctx.metrics && { metrics: ctx.metrics }),
    ...(ctx.grouped && { grouped: true }),
  });
  await pipeline.open();
  return { pipeline, plan: p, tables, sinks };
}

/**
 * The SQL of an append sink with its own dedup. The dedup filters the batch's records
 * (`from`); a dedup transform the sink's SQL reads holds the batch's rows whatever the
 * sink's dedup said, so it is read restricted to the records the sink's dedup let through
 * (by position: a dedup's rows are its input's, with their `_p` and `_o`). Without this, a
 * copy the transform no longer recognises (past its horizon) reached the table.
 */
function sinkDedupSelect(
  select: (from: string, stages?: ReadonlyMap<string, string>) => string,
  pipeline: string,
  dedups: readonly { def: { name: string } }[],
): (from: string) => string {
  return (from) =>
    select(
      from,
      new Map(
        dedups.map((x) => [
          x.def.name,
          `(SELECT __s.* FROM ${stageTable('dedup', pipeline, x.def.name)} AS __s SEMI JOIN ${from} AS __f ON __s._p = __f._p AND __s._o = __f._o)`,
        ]),
      ),
    );
}
