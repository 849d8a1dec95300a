/**
 * `tributary generate <scenario>`: a scenario's generator into its topic.
 */
import { TributaryError } from '../../core/errors.ts';
import { generateOrders } from '../../scenarios/orders/generate.ts';
import { intOption, LOG_OPTIONS, LOG_OPTIONS_USAGE, openLogFromArgs } from './log-args.ts';
import { parseCommand, scenarioArg } from './options.ts';
import { onStopSignals } from './stop-signals.ts';

const USAGE = `usage: tributary generate orders [options]

Produces order lifecycle events (seed 001) into topic 'orders' (4 partitions, keyed by
order_id). Runs until --events are produced, or until Ctrl-C.

options:
  --events N             stop after N records (default: run until interrupted)
  --rate R               records per second (default: as fast as possible)
  --seed S               random seed (default 1): the same seed gives the same events
  --malformed-rate X     share of records that break the contract (default 0.002)
  --duplicate-rate X     share of records re-sent with the same event_id (default 0.005)
  --out-of-order-rate X  share of order steps emitted later-event-first (default 0.01)
  --topic NAME           topic (default orders)

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
  const scenario = scenarioArg('generate', positionals, USAGE);
  if (typeof scenario === 'number') return scenario;
  const count = intOption('events', values.events, 1);
  const rate = intOption('rate', values.rate, 1);
  const seed = intOption('seed', values.seed) ?? 1;
  const log = await openLogFromArgs(values);
  const stop = new AbortController();
  const removeSignals = onStopSignals(() => stop.abort());
  try {
    const started = Date.now();
    const produced = await generateOrders({
      log,
      topic: values.topic,
      count,
      rate,
      seed,
      malformedRate: share('malformed-rate', values['malformed-rate']),
      duplicateRate: share('duplicate-rate', values['duplicate-rate']),
      outOfOrderRate: share('out-of-order-rate', values['out-of-order-rate']),
      signal: stop.signal,
    });
    const secs = (Date.now() - started) / 1000;
    console.log(
      `produced ${produced} records to 'orders' in ${secs.toFixed(1)} s (${Math.round(produced / secs)}/s)`,
    );
    return 0;
  } finally {
    removeSignals();
    await log.close();
  }
}
