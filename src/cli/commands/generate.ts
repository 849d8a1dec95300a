/**
 * `tributary generate <scenario>`: a scenario's generator into its topic.
 */
import { TributaryError } from '../../core/errors.ts';
import { CLICKSTREAM_TOPIC, generateClickstream } from '../../scenarios/clickstream/generate.ts';
import { generateOrders } from '../../scenarios/orders/generate.ts';
import { ORDERS_TOPIC } from '../../scenarios/orders/pipeline.ts';
import { intOption, LOG_OPTIONS, LOG_OPTIONS_USAGE, openLogFromArgs } from './log-args.ts';
import { parseCommand, scenarioArg } from './options.ts';
import { onStopSignals } from './stop-signals.ts';

const USAGE = `usage: tributary generate orders|clickstream [options]

orders       order lifecycle events (seed 001) into topic 'orders' (4 partitions,
             keyed by order_id)
clickstream  user events (seed 002: login, click, purchase, logout of a growing user
             base) into topic 'user-events' (3 partitions, 24 h retention, keyed by
             user_id); the seed's producer sends 5 events/s: --rate 5

Runs until --events are produced, or until Ctrl-C.

options:
  --events N             stop after N records (default: run until interrupted)
  --rate R               records per second (default: as fast as possible)
  --seed S               random seed (default 1): the same seed gives the same events
  --malformed-rate X     share of records that break the contract (default 0.002)
  --duplicate-rate X     share of records re-sent with the same event_id (default 0.005)
  --out-of-order-rate X  orders: share of order steps emitted later-event-first (default
                         0.01); clickstream: share of events up to 60 s behind the clock
                         (default 0.02)
  --late-rate X          clickstream: share of events 3 to 10 minutes behind the clock
                         (default 0.005)
  --new-user-every N     clickstream: a new user joins every N events (default 1000)
  --topic NAME           topic (default orders / user-events)

${LOG_OPTIONS_USAGE}`;

const OPTIONS = {
  ...LOG_OPTIONS,
  topic: { type: 'string' },
  events: { type: 'string' },
  rate: { type: 'string' },
  seed: { type: 'string' },
  'malformed-rate': { type: 'string' },
  'duplicate-rate': { type: 'string' },
  'out-of-order-rate': { type: 'string' },
  'late-rate': { type: 'string' },
  'new-user-every': { type: 'string' },
} as const;

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
  const scenario = scenarioArg('generate', positionals, USAGE, ['orders', 'clickstream']);
  if (typeof scenario === 'number') return scenario;
  if (scenario === 'orders') {
    for (const name of ['late-rate', 'new-user-every'] as const) {
      if (values[name] !== undefined) {
        throw new TributaryError('CONFIG_INVALID', `--${name} applies to 'generate clickstream' only`, {
          option: name,
        });
      }
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
  const topic = values.topic ?? (scenario === 'orders' ? ORDERS_TOPIC : CLICKSTREAM_TOPIC);
  const log = await openLogFromArgs(values);
  const stop = new AbortController();
  const removeSignals = onStopSignals(() => stop.abort());
  try {
    const started = Date.now();
    const produced =
      scenario === 'orders'
        ? await generateOrders({ log, topic, ...common, signal: stop.signal })
        : await generateClickstream({ log, topic, ...common, lateRate, newUserEvery, signal: stop.signal });
    const secs = (Date.now() - started) / 1000;
    console.log(
      `produced ${produced} records to '${topic}' in ${secs.toFixed(1)} s (${Math.round(produced / secs)}/s)`,
    );
    return 0;
  } finally {
    removeSignals();
    await log.close();
  }
}
