/**
 * `tributary run <scenario>`: a scenario's pipeline, resuming from the offsets its tables
 * hold. Ctrl-C (SIGINT) or SIGTERM stops it after the batch in flight.
 */
import { ordersPipeline } from '../../scenarios/orders/pipeline.ts';
import { intOption, LOG_OPTIONS, LOG_OPTIONS_USAGE, openLogFromArgs } from './log-args.ts';
import { DEFAULT_DATA_DIR, parseCommand, scenarioArg } from './options.ts';
import { onStopSignals } from './stop-signals.ts';

const USAGE = `usage: tributary run orders [options]

Runs the orders pipeline: topic 'orders' → orders_events (append) and orders_current
(MERGE) under DATA_DIR/tables, rejects to topic 'orders.dlq'. Exactly-once: it resumes
from the offsets committed in the tables.

options:
  --until-caught-up            exit once every partition is drained and committed
  --trigger-ms MS              minimum time between batches when idle (default 200)
  --max-records N              records per batch, all partitions together (default 100000)
  --maintenance-interval-ms MS OPTIMIZE / checkpoint / VACUUM this often (default 3600000)
  --current-commit-ms MS       MERGE into orders_current at most this often (default 0: as soon as the previous MERGE finished)
  --vacuum-retention-ms MS     VACUUM deletes files unreferenced for this long (default: the table's, 7 days / 1 hour)
  --topic NAME                 source topic (default orders; the DLQ is NAME.dlq)

${LOG_OPTIONS_USAGE}`;

const OPTIONS = {
  ...LOG_OPTIONS,
  topic: { type: 'string' },
  'until-caught-up': { type: 'boolean' },
  'trigger-ms': { type: 'string' },
  'max-records': { type: 'string' },
  'maintenance-interval-ms': { type: 'string' },
  'current-commit-ms': { type: 'string' },
  'vacuum-retention-ms': { type: 'string' },
} as const;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(USAGE, OPTIONS, args);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const scenario = scenarioArg('run', positionals, USAGE);
  if (typeof scenario === 'number') return scenario;
  const dataDir = values['data-dir'] ?? process.env.TRIBUTARY_DATA_DIR ?? DEFAULT_DATA_DIR;
  const log = await openLogFromArgs(values);
  const stop = new AbortController();
  const removeSignals = onStopSignals(() => stop.abort());
  const { pipeline } = await ordersPipeline({
    dataDir,
    log,
    topic: values.topic,
    triggerMs: intOption('trigger-ms', values['trigger-ms']),
    maxRecordsPerBatch: intOption('max-records', values['max-records'], 1),
    maintenanceIntervalMs: intOption('maintenance-interval-ms', values['maintenance-interval-ms'], 1),
    currentCommitMs: intOption('current-commit-ms', values['current-commit-ms']),
    vacuumRetentionMs: intOption('vacuum-retention-ms', values['vacuum-retention-ms']),
  });
  try {
    await pipeline.run({ untilCaughtUp: values['until-caught-up'], signal: stop.signal });
    const m = pipeline.metrics;
    console.log(
      `orders: ${m.batches} batches, ${m.recordsIn} records in, ${m.invalid} to the DLQ, ` +
        [...m.sinks].map(([name, c]) => `${name} +${c.rows} rows`).join(', '),
    );
    return 0;
  } finally {
    removeSignals();
    await pipeline.close();
    await log.close();
  }
}
