/**
 * `tributary run <definition.yaml | built-in name>`: a pipeline, resuming from the offsets
 * its tables hold. Ctrl-C (SIGINT) or SIGTERM stops it after the batch in flight.
 */
import type { Log } from '../../log/log.ts';
import { builtinNames, resolveDefinition } from '../../pipeline/builtin.ts';
import { captureOf } from '../../pipeline/capture.ts';
import { checkDefinition, compilePipeline, sourceTopic } from '../../pipeline/compile.ts';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import { fromObject, type LoadedDefinition } from '../../pipeline/load.ts';
import { applySet } from '../../pipeline/overrides.ts';
import { type PipelineSlot, runWithCapture } from '../../pipeline/with-capture.ts';
import { RunningPipelines, sinkTables } from '../../server/pipelines/registry.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { type Histogram, PipelineMetrics } from '../../stream/metrics.ts';
import { PipelinePanel } from '../pipeline-panel.ts';
import { isLive, PLAIN_OPTION, PLAIN_USAGE, printFolded } from '../terminal.ts';
import {
  CAPTURE_OPTIONS,
  CAPTURE_OPTIONS_USAGE,
  compileBesideCapture,
  type OpenedCapture,
  openCaptureFromArgs,
} from './capture-args.ts';
import { intOption, LOG_OPTIONS, LOG_OPTIONS_USAGE, openLogFromArgs } from './log-args.ts';
import { DEFAULT_DATA_DIR, parseCommand } from './options.ts';
import {
  type OpenedPostgres,
  openPostgres,
  openPostgresFromArgs,
  POSTGRES_OPTIONS,
  POSTGRES_OPTIONS_USAGE,
} from './postgres-args.ts';
import { type ProjectScheduler, startProjectScheduler } from './project-jobs.ts';
import { REGISTRY_OPTIONS, REGISTRY_OPTIONS_USAGE, registryOrEmbedded } from './registry-args.ts';
import {
  checkGroupable,
  defaultGroup,
  GROUP_OPTIONS,
  GROUP_OPTIONS_USAGE,
  joinGroupFromArgs,
  startWorkers,
  workersToStart,
} from './run-group.ts';
import {
  optionalPortArg,
  portOption,
  SERVE_BESIDE_OPTIONS,
  SERVE_BESIDE_USAGE,
  type ServingBeside,
  serveBeside,
} from './serve-beside.ts';
import { onStopSignals } from './stop-signals.ts';

const USAGE = `usage: tributary run <definition.yaml | name> [options]

Runs a pipeline definition (docs/pipelines.md), or a built-in one by name
(${builtinNames().join(', ')}). Exactly-once: it resumes from the offsets committed in its
tables. 'tributary pipeline explain' shows what it will do. A definition with
source.capture also captures a PostgreSQL table's changes into its topic, in the same
process (docs/cdc.md); both stop on Ctrl-C.

options:
  --lake LOCATION              keep the tables and the window/dedup state here instead of the data
                               directory, e.g. s3://bucket/warehouse (tables at LOCATION/<table>,
                               state at LOCATION/_state/<pipeline>; $TRIBUTARY_LAKE). S3 settings
                               from the AWS environment: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL,
                               AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_PROFILE
                               (docs/storage.md)
  --until-caught-up            exit once every partition is drained and committed (with a
                               capture: once the changes present at the start are captured,
                               and then landed)
  --set PATH=VALUE             change a key of the definition for this run, e.g.
                               --set runtime.trigger=1s --set sinks.orders_current.commit_interval=5s
                               (list entries by name; repeatable)
  --topic NAME                 read this topic instead of the definition's (the DLQ is NAME.dlq)
  --project DIR                also run the scheduled jobs of this project (docs/jobs.md) beside
                               the pipeline, e.g. --project clickstream (the batch layer)
  --trigger-ms MS              minimum time between batches when idle (runtime.trigger; default 200)
  --max-records N              records per batch, all partitions together (runtime.max_records_per_batch)
  --maintenance-interval-ms MS table upkeep this often (maintenance.every; default 1 hour)
  --current-commit-ms MS       MERGE sinks merge at most this often (their commit_interval)
  --vacuum-retention-ms MS     VACUUM deletes files unreferenced for this long (every table's maintenance.vacuum_retention)
  --progress-ms MS             print a progress line on stderr this often (default 10000; 0: none):
                               batches, records, DLQ, lag, and per sink its rows and latency
                               p50/p99 from ingest (log time) and from event time to its commit;
                               on a terminal, a status panel redrawn every second instead
${PLAIN_USAGE}
  --serve [PORT]               serve the HTTP API in the same process (default port 8080; 0: a
                               free one): tables, this pipeline's status at /api/v1/pipelines,
                               /metrics, and ingest into the log (docs/serving.md)

${GROUP_OPTIONS_USAGE}

${SERVE_BESIDE_USAGE}

${CAPTURE_OPTIONS_USAGE}

${POSTGRES_OPTIONS_USAGE}

${REGISTRY_OPTIONS_USAGE}

${LOG_OPTIONS_USAGE}`;

const OPTIONS = {
  ...LOG_OPTIONS,
  ...POSTGRES_OPTIONS,
  ...CAPTURE_OPTIONS,
  ...REGISTRY_OPTIONS,
  ...SERVE_BESIDE_OPTIONS,
  ...GROUP_OPTIONS,
  serve: { type: 'string' },
  lake: { type: 'string' },
  topic: { type: 'string' },
  project: { type: 'string' },
  set: { type: 'string', multiple: true },
  'until-caught-up': { type: 'boolean' },
  'trigger-ms': { type: 'string' },
  'max-records': { type: 'string' },
  'maintenance-interval-ms': { type: 'string' },
  'current-commit-ms': { type: 'string' },
  'vacuum-retention-ms': { type: 'string' },
  'progress-ms': { type: 'string' },
  ...PLAIN_OPTION,
} as const;

const quantiles = (h: Histogram) => `${Math.round(h.quantile(0.5))}/${Math.round(h.quantile(0.99))} ms`;

/**
 * Per sink: the rows it wrote, and the latency (p50/p99 since the run started) from the
 * records' log time (ingest at the broker) and from their event time to its commit.
 */
export function sinkSummary(m: PipelineMetrics): string {
  return [...m.sinks]
    .map(([name, c]) => {
      // Commits lost to other writers (workers of a group, upkeep) and redone on the new snapshot.
      const lost = c.conflicts > 0 ? `, ${c.conflicts} commit conflicts` : '';
      if (c.ingestLatencyMs.total === 0) return `${name} +${c.rows} rows${lost}`;
      const event = c.eventLatencyMs.total > 0 ? `, from event time ${quantiles(c.eventLatencyMs)}` : '';
      return `${name} +${c.rows} rows (latency p50/p99 from ingest ${quantiles(c.ingestLatencyMs)}${event}${lost})`;
    })
    .join(', ');
}

/**
 * Whether a group has drained its topic: every partition's committed group offset (each
 * worker records, after its batches, the next offset all its sinks still need) is at the
 * partition's end.
 */
async function groupCaughtUp(log: Log, group: string, topic: string): Promise<boolean> {
  const committed = await log.committedOffsets(group, topic);
  const partitions = (await log.describeTopic(topic)).partitions;
  for (let p = 0; p < partitions; p++) {
    if ((committed.get(p) ?? 0) < (await log.offsets(topic, p)).latest) return false;
  }
  return true;
}

/** The definition with the command line's changes (the named flags are shorthands for --set). */
export function withFlags(
  def: PipelineDefinition,
  values: {
    set?: string[];
    'trigger-ms'?: string;
    'max-records'?: string;
    'maintenance-interval-ms'?: string;
    'current-commit-ms'?: string;
    'vacuum-retention-ms'?: string;
  },
): PipelineDefinition {
  const sets: string[] = [];
  const trigger = intOption('trigger-ms', values['trigger-ms']);
  if (trigger !== undefined) sets.push(`runtime.trigger=${trigger}ms`);
  const max = intOption('max-records', values['max-records'], 1);
  if (max !== undefined) sets.push(`runtime.max_records_per_batch=${max}`);
  const every = intOption('maintenance-interval-ms', values['maintenance-interval-ms'], 1);
  if (every !== undefined) sets.push(`maintenance.every=${every}ms`);
  const commit = intOption('current-commit-ms', values['current-commit-ms']);
  if (commit !== undefined) {
    for (const s of def.sinks)
      if (s.type === 'delta_merge') sets.push(`sinks.${s.name}.commit_interval=${commit}ms`);
  }
  const vacuum = intOption('vacuum-retention-ms', values['vacuum-retention-ms']);
  if (vacuum !== undefined) {
    for (const s of def.sinks) {
      if (s.type === 'delta_merge' || s.type === 'delta_append') {
        if (!def.tables?.some((t) => t.name === s.table)) {
          def = { ...def, tables: [...(def.tables ?? []), { name: s.table }] };
        }
        sets.push(`tables.${s.table}.maintenance.vacuum_retention=${vacuum}ms`);
      }
    }
  }
  sets.push(...(values.set ?? []));
  for (const s of sets) def = applySet(def, s);
  return def;
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(USAGE, OPTIONS, optionalPortArg(args, '--serve', 8080));
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const servePort = portOption('serve', values.serve);
  if (positionals.length !== 1) {
    console.error(`tributary run: give one definition file or built-in pipeline name\n\n${USAGE}`);
    return 2;
  }
  const resolved = await resolveDefinition(positionals[0]);
  // Several workers here: each is this command as a member of the group.
  const workers = workersToStart(values);
  if (workers !== undefined) {
    return startWorkers(args, workers, values.group ?? defaultGroup(resolved.definition.name));
  }
  if (values.workers !== undefined) values.group ??= defaultGroup(resolved.definition.name);
  const changed = withFlags(resolved.definition, values);
  // Changes are checked like the file; their problems are reported against the file.
  const loaded: LoadedDefinition =
    changed === resolved.definition ? resolved : { ...fromObject(changed), file: resolved.file };
  const dataDir = values['data-dir'] ?? process.env.TRIBUTARY_DATA_DIR ?? DEFAULT_DATA_DIR;
  const lakeValue = values.lake ?? process.env.TRIBUTARY_LAKE;
  const lake = lakeValue ? { lake: lakeValue } : {};
  const every = intOption('progress-ms', values['progress-ms']) ?? 10_000;
  const kafka = values.kafka ?? (process.env.TRIBUTARY_KAFKA || resolved.kafka);
  checkGroupable(values, loaded.definition, { kafka, capture: captureOf(loaded.definition) !== undefined });
  for (const note of resolved.notes ?? []) console.error(`tributary: ${note}`);
  // A seed configuration names its Kafka brokers; the command line and $TRIBUTARY_KAFKA win.
  const log = await openLogFromArgs({
    ...values,
    kafka,
  });
  // Avro topics: writer schemas by id, and schemas of Avro topic sinks (docs/avro.md);
  // without --registry, the embedded registry over this log, opened when first asked.
  const opened = registryOrEmbedded(values, log);
  const registry = opened.client;
  let pg: Awaited<ReturnType<typeof openPostgresFromArgs>>;
  let capture: OpenedCapture | undefined;
  let slot: PipelineSlot;
  const tablesOfSinks = new Map<string, string>();
  const deltaTables = new Map<string, { store: ObjectStore }>();
  try {
    // The definition's problems first, before a database is opened or a table touched.
    if (captureOf(loaded.definition)) await checkDefinition(loaded, { dataDir, ...lake, registry });
    pg = await openPostgresFromArgs(loaded.definition, values, dataDir);
    try {
      capture = await openCaptureFromArgs(loaded.definition, values, {
        dataDir,
        log,
        topic: 'topic' in loaded.definition.source ? sourceTopic(loaded.definition, values) : '',
        ...(pg && { sinkPg: pg }),
      });
      // One set of counters across the pipelines a capture's schema change compiles.
      const metrics = new PipelineMetrics();
      const compile = async (l: LoadedDefinition) => {
        const compiled = await compilePipeline(l, {
          dataDir,
          ...lake,
          log,
          topic: values.topic,
          metrics,
          ...(pg && { postgres: pg.pool }),
          registry,
          ...(values.group !== undefined && { grouped: true }),
        });
        for (const [sink, table] of sinkTables(compiled)) tablesOfSinks.set(sink, table);
        for (const [name, table] of compiled.tables) deltaTables.set(name, table);
        return compiled.pipeline;
      };
      slot = await compileBesideCapture(loaded, capture, compile);
    } catch (err) {
      await capture?.close();
      await pg?.close();
      throw err;
    }
  } catch (err) {
    await opened.close();
    await log.close();
    throw err;
  }
  let member: Awaited<ReturnType<typeof joinGroupFromArgs>>;
  try {
    member = await joinGroupFromArgs(values, loaded.definition, {
      kafka: kafka ?? '',
      topic: slot.current.describe().source,
    });
  } catch (err) {
    await capture?.close();
    await slot.closeCurrent();
    await pg?.close();
    await opened.close();
    await log.close();
    throw err;
  }
  const stop = new AbortController();
  const removeSignals = onStopSignals(() => stop.abort());
  // Exports of the project's jobs write the pipeline's database, or one opened when needed.
  let jobsPg: Promise<OpenedPostgres> | undefined;
  let jobs: ProjectScheduler | undefined;
  // The pipeline as the server shows it (with --serve): the slot's current one.
  const pipelines = new RunningPipelines();
  const entry = pipelines.register({
    pipeline: () => slot.current,
    name: loaded.definition.name,
    sinkTables: tablesOfSinks,
  });
  let serving: ServingBeside | undefined;
  try {
    if (servePort !== undefined) {
      serving = await serveBeside({
        dataDir,
        log,
        pipelines,
        values,
        port: servePort,
        say: (line) => console.error(`tributary: ${line}`),
        // The project's jobs once its scheduler has started (below).
        jobs: { project: () => jobs?.project, log: (line) => console.error(`tributary: ${line}`) },
      });
    }
    if (values.project !== undefined) {
      jobs = await startProjectScheduler(
        values.project,
        dataDir,
        async () => {
          if (pg) return pg.pool;
          jobsPg ??= openPostgres(values, dataDir);
          return (await jobsPg).pool;
        },
        (line) => console.error(`tributary: ${line}`),
        pipelines.jobs.onEvent,
      );
    }
    const name = loaded.definition.name;
    // On a terminal, a panel redrawn every second on stderr (where the progress lines go).
    const panel =
      every > 0 && isLive(process.stderr, values.plain)
        ? new PipelinePanel({
            title: name,
            entry,
            dataDir,
            out: process.stderr,
            tables: deltaTables,
            ...(serving && { url: serving.url }),
          })
        : undefined;
    // A group's worker says which partitions it owns.
    const owns = () =>
      member
        ? `, worker ${process.pid} owns partitions [${member.status().owned.join(',')}] of group ${member.group}`
        : '';
    let shown = '';
    let busy = false;
    const progress =
      every > 0
        ? setInterval(
            async () => {
              if (panel) {
                if (busy) return;
                busy = true;
                await panel.show().finally(() => {
                  busy = false;
                });
                return;
              }
              const m = slot.current.metrics;
              // A line when batches ran, or when a group's worker was given other partitions.
              const key = `${m.batches}${owns()}`;
              if (key === shown) return;
              shown = key;
              console.error(
                `${name}: ${m.batches} batches, ${m.recordsIn} records in, ${m.invalid} to the DLQ, lag ${m.totalLag()}${owns()}; ${sinkSummary(m)}`,
              );
            },
            panel ? 1000 : every,
          )
        : undefined;
    progress?.unref();
    try {
      await entry.track(
        runWithCapture(slot, capture?.capture, {
          untilCaughtUp: values['until-caught-up'],
          signal: stop.signal,
          // Retried failures are kept for the status page when serving (and printed as always).
          ...(serving && { onError: entry.onRetry() }),
          ...(member && {
            membership: member,
            groupCaughtUp: () => groupCaughtUp(log, member.group, slot.current.describe().source),
          }),
        }),
      );
      clearInterval(progress);
      await panel?.finish();
    } finally {
      clearInterval(progress);
      panel?.stop();
    }
    const m = slot.current.metrics;
    const c = capture?.capture.metrics;
    // Under a panel, folded to the terminal's width when stdout is the terminal too.
    printFolded(
      `${name}: ${c ? `captured ${c.published} changes (${capture!.mode}), ` : ''}` +
        `${m.batches} batches, ${m.recordsIn} records in, ${m.invalid} to the DLQ${owns()}, ` +
        sinkSummary(m),
      panel !== undefined && process.stdout.isTTY === true,
    );
    return 0;
  } finally {
    // Everything is committed (a stop flushes the sinks): the partitions move at once.
    await member?.leave();
    removeSignals();
    await serving?.stop();
    pipelines.close();
    await jobs?.scheduler.stop();
    await capture?.close();
    await slot.closeCurrent();
    if (jobsPg) await (await jobsPg.catch(() => undefined))?.close();
    await pg?.close();
    await opened.close();
    await log.close();
  }
}
