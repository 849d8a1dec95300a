/**
 * `tributary demo saas`: seed 004's sales system in one process — the schema registry
 * served over HTTP on a loopback port, the sales generator registering its schemas there
 * as a producer elsewhere would (v1, then v2 midway, and a breaking v3 the registry
 * refuses with 409), and the pipeline of pipelines/saas.yaml reading the topic with the
 * same registry — with progress every two seconds, then a summary and commands to try.
 */
import { HttpSchemaRegistryClient, REGISTRY_CONTENT_TYPE } from '../../connectors/avro/http-registry.ts';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import type { Log } from '../../log/log.ts';
import { builtinDefinitionSync } from '../../pipeline/builtin.ts';
import { compilePipeline } from '../../pipeline/compile.ts';
import {
  SALES_DLQ_TOPIC,
  SALES_PARTITIONS,
  SALES_TOPIC,
  valueSubject,
} from '../../scenarios/saas-sales/domain.ts';
import { generateSales } from '../../scenarios/saas-sales/generate.ts';
import { salesSchemaText } from '../../scenarios/saas-sales/schemas.ts';
import { type RunningPipelines, sinkTables } from '../../server/pipelines/registry.ts';
import { createRegistryServer, type RegistryServer } from '../../server/registry/server.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import type { Pipeline } from '../../stream/pipeline.ts';
import { printFolded } from '../terminal.ts';
import { type DemoPanel, generateAndDrain } from './demo-run.ts';
import {
  DeadLetterTally,
  duplicatesDropped,
  examples,
  progressLines,
  silverVersions,
  sinkLatency,
} from './demo-saas-report.ts';
import { logFlags, printExamples } from './demo-try.ts';
import { intOption } from './log-args.ts';

/** Confluent's port, used when free. */
const REGISTRY_PORT = 8081;
const WINDOW_MS = 5 * 60_000;
const WATERMARK_MS = 2 * 60_000;

export interface SaasDemoArgs {
  dataDir: string;
  log: Log;
  /** The brokers when the log is Kafka (for the commands printed at the end). */
  kafka?: string;
  values: {
    events?: string;
    rate?: string;
    seed?: string;
    'switch-at'?: string;
    'registry-port'?: string;
  };
  signal: AbortSignal;
  /** On a terminal: the live panel's title, data directory and URL. */
  panel?: DemoPanel;
  /** Where the demo's server sees its pipeline. */
  pipelines?: RunningPipelines;
}

/** The registry on `port`; without one, on 8081, or on a free port when 8081 is taken. */
async function serveRegistry(log: Log, port: number | undefined): Promise<RegistryServer> {
  const server = createRegistryServer({ log, port: port ?? REGISTRY_PORT });
  try {
    await server.start();
    return server;
  } catch (err) {
    const cause = (err as Error).cause as NodeJS.ErrnoException | undefined;
    if (port !== undefined || !isTributaryError(err) || cause?.code !== 'EADDRINUSE') throw err;
    const other = createRegistryServer({ log, port: 0 });
    await other.start();
    const free = new URL(other.url).port;
    console.log(
      `port ${REGISTRY_PORT} is taken (another registry?): serving the registry on port ${free} instead`,
    );
    return other;
  }
}

/**
 * Registers the breaking version 3 the way a producer would, and says what the registry
 * answered: the status, its error code and its message (which names the field).
 */
async function tryBreakingVersion(url: string): Promise<string> {
  const subject = valueSubject(SALES_TOPIC);
  const res = await fetch(`${url}/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    headers: { 'content-type': REGISTRY_CONTENT_TYPE, accept: REGISTRY_CONTENT_TYPE },
    body: JSON.stringify({ schema: salesSchemaText(3) }),
  });
  const text = await res.text();
  let body: { error_code?: number; message?: string; id?: number } = {};
  try {
    body = JSON.parse(text);
  } catch {}
  if (res.ok) {
    return `schema v3: the registry accepted it (id ${body.id}): is the subject's compatibility NONE? The generator stays on v2`;
  }
  return (
    `schema v3 (adds the required sales_channel, no default) refused: HTTP ${res.status}, error_code ${body.error_code ?? '-'}\n` +
    `  ${body.message ?? text}\n` +
    '  the generator stays on v2'
  );
}

const utcTime = (ms: number) => new Date(ms).toISOString().slice(11, 19);

export async function saasDemo({
  dataDir,
  log,
  kafka,
  values,
  signal,
  pipelines,
  panel,
}: SaasDemoArgs): Promise<number> {
  const events = intOption('events', values.events, 1);
  const rate = intOption('rate', values.rate, 1) ?? 1_000;
  const seed = intOption('seed', values.seed) ?? Date.now() % 2 ** 31;
  // Midway: half the events, or after 30 seconds' worth when the demo runs until Ctrl-C.
  const switchAt =
    intOption('switch-at', values['switch-at']) ??
    (events !== undefined ? Math.floor(events / 2) : 30 * rate);
  const port = intOption('registry-port', values['registry-port']);
  if (port !== undefined && port > 65535) {
    throw new TributaryError('CONFIG_INVALID', `--registry-port must be at most 65535, got ${port}`, {
      option: 'registry-port',
    });
  }
  // On a terminal (under the panel), its messages folded to the width; the commands to
  // try stay whole, for copying.
  const say = (line: string) => printFolded(line, panel !== undefined);
  const server = await serveRegistry(log, port);
  const url = server.url;
  let pipeline: Pipeline;
  let tables: Map<string, string>;
  let deltaTables: ReadonlyMap<string, { store: ObjectStore }>;
  try {
    // The pipeline reads writer schemas by id over HTTP, as a deployment apart from the producer would.
    const compiled = await compilePipeline(builtinDefinitionSync('saas'), {
      dataDir,
      log,
      registry: new HttpSchemaRegistryClient(url),
    });
    pipeline = compiled.pipeline;
    tables = sinkTables(compiled);
    deltaTables = compiled.tables;
  } catch (err) {
    await server.stop();
    throw err;
  }
  const entry = pipelines?.register({ pipeline, sinkTables: tables });
  const dlq = new DeadLetterTally(log, SALES_DLQ_TOPIC);
  const started = Date.now();
  const firstWindowEnd = Math.ceil(started / WINDOW_MS) * WINDOW_MS;
  say(
    `demo saas: log ${log.description}, tables in ${dataDir}/tables, ${rate} events/s${events ? `, ${events} events` : ' until Ctrl-C'}`,
  );
  say(`schema registry at ${url} (Confluent's REST API); while the demo runs, try:`);
  console.log(`  curl ${url}/subjects`);
  console.log(`  curl ${url}/subjects/${valueSubject(SALES_TOPIC)}/versions/latest`);
  say(
    `generator: sales_event v1 into ${SALES_TOPIC} (3 partitions, keyed by account_id), v2 after ${switchAt} records; ` +
      '~1 % duplicates, 2 % late, 1 % invalid',
  );
  say(
    `pipeline saas: tables sales_bronze, sales_silver, sales_revenue_5m, sales_late_events; topics ${SALES_DLQ_TOPIC}, dq.results.v1, sales.agg.revenue_5m.v1\n` +
      `  gold (sales_revenue_5m) gets a 5-minute window's rows once the watermark (newest event time - 2 minutes) passes its end:\n` +
      `  the window ending ${utcTime(firstWindowEnd)} UTC at about ${utcTime(firstWindowEnd + WATERMARK_MS)}; before that only windows that early late events reached`,
  );
  let version: 1 | 2 = 1;
  const versionCount = { 1: 0, 2: 0 };
  let produced = 0;
  let switchedAt: number | undefined;
  let breaking: Promise<void> | undefined;
  let prevIn = 0;
  try {
    await dlq.start(SALES_PARTITIONS);
    await generateAndDrain({
      pipeline,
      entry,
      signal,
      everyMs: 2000,
      ...(panel && {
        panel: {
          ...panel,
          tables: deltaTables,
          extra: () => [
            `schema v${version} · DLQ ${SALES_DLQ_TOPIC} +${dlq.total}${dlq.total > 0 ? `: ${dlq.reasons(3)}` : ''}`,
          ],
        },
      }),
      generate: (onProgress) =>
        generateSales({
          log,
          registry: new HttpSchemaRegistryClient(url),
          count: events,
          rate,
          seed,
          switchAt,
          signal,
          onProgress: (n) => {
            produced = n;
            onProgress(n);
          },
          onSchema: (v, id, subject) => {
            version = v;
            if (v === 1) {
              say(`registered sales_event v1 under '${subject}' over HTTP: schema id ${id}`);
              return;
            }
            switchedAt = produced;
            say(
              `after ${produced} records: registered sales_event v2 (adds the optional discount_code, default null) ` +
                `under '${subject}': schema id ${id}, BACKWARD compatible, accepted; the generator now writes v2`,
            );
            breaking = tryBreakingVersion(url).then(
              (line) => say(line),
              (err) => say(`schema v3: ${err instanceof Error ? err.message : String(err)}`),
            );
          },
        }),
      progress: async (total, secs) => {
        await dlq.poll().catch(() => {});
        const m = pipeline.metrics;
        const line = progressLines(
          m,
          {
            produced: total,
            version,
            elapsedMs: Date.now() - started,
            readRate: Math.round((m.recordsIn - prevIn) / secs),
          },
          dlq,
        );
        prevIn = m.recordsIn;
        return line;
      },
    });
    await breaking;
    await dlq.poll();
    versionCount[1] = switchedAt ?? produced;
    versionCount[2] = produced - versionCount[1];
    const m = pipeline.metrics;
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    say(
      signal.aborted
        ? `\nstopped after ${secs} s: the tables hold what was committed; 'tributary run saas --until-caught-up ${logFlags(dataDir, kafka)}' lands the rest`
        : `\ndone in ${secs} s: every event generated is read and committed`,
    );
    say(
      `generated ${produced} records: ${versionCount[1]} with schema v1, ${versionCount[2]} with v2 (duplicates, late and invalid ones included)` +
        (switchedAt === undefined
          ? `; the switch to v2 (after ${switchAt} records, --switch-at) was not reached`
          : ''),
    );
    say(
      `pipeline read ${m.recordsIn}: bronze +${m.sinks.get('bronze')?.rows ?? 0} rows, silver +${m.sinks.get('silver')?.rows ?? 0} events ` +
        `(${duplicatesDropped(m)} duplicates dropped), gold +${m.sinks.get('gold')?.rows ?? 0} rows, ` +
        `${m.late} late events (sales_late_events), dq.results.v1 +${m.sinks.get('quality')?.rows ?? 0} records`,
    );
    say(`DLQ ${SALES_DLQ_TOPIC}: +${dlq.total} records${dlq.total > 0 ? `: ${dlq.reasons()}` : ''}`);
    const versions = await silverVersions(dataDir).catch(() => []);
    say(
      `sales_silver by schema_version: ${
        versions
          .map(
            (v) =>
              `v${v.version} ${v.events} events${v.version >= 2 ? ` (${v.withDiscount} with a discount_code)` : ' (discount_code null)'}`,
          )
          .join(', ') || 'no rows yet'
      }`,
    );
    say(`latency p50/p99 to silver: ${sinkLatency(m, 'silver')}; to gold: ${sinkLatency(m, 'gold')}`);
    say(
      `gold: the windows ending after the watermark (about ${utcTime(Date.now() - WATERMARK_MS)} UTC) stay open until later events move it: ` +
        'run the demo again, or tributary run saas beside a producer',
    );
    printExamples(examples(dataDir, kafka), panel !== undefined);
    return 0;
  } finally {
    await pipeline.close();
    await server.stop();
  }
}
