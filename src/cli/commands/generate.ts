/**
 * `tributary generate <scenario>`: a scenario's generator into its topic.
 */
import { TributaryError } from '../../core/errors.ts';
import { CLICKSTREAM_TOPIC, generateClickstream } from '../../scenarios/clickstream/generate.ts';
import { generateOrders } from '../../scenarios/orders/generate.ts';
import { ORDERS_TOPIC } from '../../scenarios/orders/pipeline.ts';
import { SALES_TOPIC } from '../../scenarios/saas-sales/domain.ts';
import { generateSales } from '../../scenarios/saas-sales/generate.ts';
import { intOption, LOG_OPTIONS, LOG_OPTIONS_USAGE, openLogFromArgs } from './log-args.ts';
import { parseCommand, scenarioArg } from './options.ts';
import { REGISTRY_OPTIONS, REGISTRY_OPTIONS_USAGE, registryOrEmbedded } from './registry-args.ts';
import { onStopSignals } from './stop-signals.ts';

const USAGE = `usage: tributary generate orders|clickstream|sales [options]

orders       order lifecycle events (seed 001) into topic 'orders' (4 partitions,
             keyed by order_id)
clickstream  user events (seed 002: login, click, purchase, logout of a growing user
             base) into topic 'user-events' (3 partitions, 24 h retention, keyed by
             user_id); the seed's producer sends 5 events/s: --rate 5
sales        SaaS subscription events (seed 004) in Avro, Confluent's wire format, into
             topic 'sales.events.v1' (3 partitions, keyed by account_id); the schema is
             registered under 'sales.events.v1-value' in the registry of --registry
             (default: the embedded registry in the log's topic _schemas)

Runs until --events are produced, or until Ctrl-C.

options:
  --events N             stop after N records (default: run until interrupted)
  --rate R               records per second (default: as fast as possible)
  --seed S               random seed (default 1): the same seed gives the same events
  --malformed-rate X     share of records that break the contract (default 0.002;
                         sales: 0.01, of ten kinds, docs/saas-sales.md)
  --duplicate-rate X     share of records re-sent with the same event_id (default 0.005;
                         sales: 0.01)
  --out-of-order-rate X  orders: share of order steps emitted later-event-first (default
                         0.01); clickstream: share of events up to 60 s behind the clock
                         (default 0.02)
  --late-rate X          clickstream: share of events 3 to 10 minutes behind the clock
                         (default 0.005); sales: 30 s to 15 minutes behind (default 0.02)
  --new-user-every N     clickstream: a new user joins every N events (default 1000)
  --accounts N           sales: customer accounts at the start (default 500)
  --schema-version V     sales: write with sales_event version 1 or 2 (default 1)
  --switch-at N          sales: after N records of version 1, register version 2 and
                         write with it (the topic then holds both)
  --topic NAME           topic (default orders / user-events / sales.events.v1)
${REGISTRY_OPTIONS_USAGE}

${LOG_OPTIONS_USAGE}`;

const OPTIONS = {
  ...LOG_OPTIONS,
  ...REGISTRY_OPTIONS,
  topic: { type: 'string' },
  events: { type: 'string' },
  rate: { type: 'string' },
  seed: { type: 'string' },
  'malformed-rate': { type: 'string' },
  'duplicate-rate': { type: 'string' },
  'out-of-order-rate': { type: 'string' },
  'late-rate': { type: 'string' },
  'new-user-every': { type: 'string' },
  accounts: { type: 'string' },
  'schema-version': { type: 'string' },
  'switch-at': { type: 'string' },
} as const;

/** Options that only some scenarios take. */
const ONLY: Record<string, readonly string[]> = {
  'late-rate': ['clickstream', 'sales'],
  'new-user-every': ['clickstream'],
  'out-of-order-rate': ['orders', 'clickstream'],
  accounts: ['sales'],
  'schema-version': ['sales'],
  'switch-at': ['sales'],
  registry: ['sales'],
};

function share(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const x = Number(text);
  if (!(x >= 0 && x <= 1)) {
    throw new TributaryError('CONFIG_INVALID', `--${name} must be a number between 0 and 1, got '${text}'`, {
      option: name,
    });
  }
  return x;
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(USAGE, OPTIONS, args);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const scenario = scenarioArg('generate', positionals, USAGE, ['orders', 'clickstream', 'sales']);
  if (typeof scenario === 'number') return scenario;
  for (const [name, scenarios] of Object.entries(ONLY)) {
    if ((values as Record<string, unknown>)[name] !== undefined && !scenarios.includes(scenario)) {
      const which = scenarios.map((s) => `'generate ${s}'`).join(' and ');
      throw new TributaryError('CONFIG_INVALID', `--${name} applies to ${which} only`, { option: name });
    }
  }
  const count = intOption('events', values.events, 1);
  const rate = intOption('rate', values.rate, 1);
  const seed = intOption('seed', values.seed) ?? 1;
  const common = {
    count,
    rate,
    seed,
    malformedRate: share('malformed-rate', values['malformed-rate']),
    duplicateRate: share('duplicate-rate', values['duplicate-rate']),
    outOfOrderRate: share('out-of-order-rate', values['out-of-order-rate']),
  };
  const lateRate = share('late-rate', values['late-rate']);
  const newUserEvery = intOption('new-user-every', values['new-user-every'], 1);
  const sales = scenario === 'sales' ? salesOptions(values) : undefined;
  const topic =
    values.topic ?? { orders: ORDERS_TOPIC, clickstream: CLICKSTREAM_TOPIC, sales: SALES_TOPIC }[scenario]!;
  const log = await openLogFromArgs(values);
  const registry = sales ? registryOrEmbedded(values as { registry?: string }, log) : undefined;
  const stop = new AbortController();
  const removeSignals = onStopSignals(() => stop.abort());
  try {
    const started = Date.now();
    let produced: number;
    if (scenario === 'orders')
      produced = await generateOrders({ log, topic, ...common, signal: stop.signal });
    else if (scenario === 'clickstream') {
      produced = await generateClickstream({
        log,
        topic,
        ...common,
        lateRate,
        newUserEvery,
        signal: stop.signal,
      });
    } else {
      produced = await generateSales({
        log,
        topic,
        count,
        rate,
        seed,
        duplicateRate: common.duplicateRate,
        invalidRate: common.malformedRate,
        lateRate,
        ...sales!,
        registry: registry!.client,
        signal: stop.signal,
        onSchema: (version, id, subject) =>
          console.log(`writing sales_event version ${version}: schema id ${id} under '${subject}'`),
      });
    }
    const secs = (Date.now() - started) / 1000;
    console.log(
      `produced ${produced} records to '${topic}' in ${secs.toFixed(1)} s (${Math.round(produced / secs)}/s)`,
    );
    return 0;
  } finally {
    removeSignals();
    await registry?.close();
    await log.close();
  }
}

function salesOptions(values: Record<string, string | boolean | undefined>) {
  const version = values['schema-version'];
  if (version !== undefined && version !== '1' && version !== '2') {
    throw new TributaryError('CONFIG_INVALID', `--schema-version must be 1 or 2, got '${version}'`, {
      option: 'schema-version',
    });
  }
  const switchAt = intOption('switch-at', values['switch-at'] as string | undefined);
  if (switchAt !== undefined && version === '2') {
    throw new TributaryError(
      'CONFIG_INVALID',
      '--switch-at moves from version 1 to 2: not with --schema-version 2',
      {
        option: 'switch-at',
      },
    );
  }
  return {
    accounts: intOption('accounts', values.accounts as string | undefined, 1),
    schemaVersion: version === '2' ? (2 as const) : (1 as const),
    switchAt,
  };
}
