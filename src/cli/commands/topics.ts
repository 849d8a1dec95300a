/**
 * `tributary topics create|list|describe|delete`: manage the topics of the event log
 * (embedded by default, Kafka with --kafka).
 */
import { parseArgs } from 'node:util';
import type { Log, TopicInfo } from '../../log/log.ts';
import { intOption, LOG_OPTIONS, LOG_OPTIONS_USAGE, openLogFromArgs } from './log-args.ts';
import { parseOrUsage } from './options.ts';

const USAGE = `usage: tributary topics <subcommand> [options]

subcommands:
  create <topic> [--partitions N] [--retention-ms MS] [--retention-bytes BYTES]
  list [--json]
  describe <topic> [--json]      configuration and per-partition earliest/latest offsets
  delete <topic>

${LOG_OPTIONS_USAGE}`;

const OPTIONS = {
  ...LOG_OPTIONS,
  partitions: { type: 'string' },
  'retention-ms': { type: 'string' },
  'retention-bytes': { type: 'string' },
  json: { type: 'boolean' },
} as const;

function retention(t: TopicInfo): string {
  const ms = t.retentionMs === undefined ? 'forever' : `${t.retentionMs} ms`;
  const bytes = t.retentionBytes === undefined ? 'unbounded' : `${t.retentionBytes} bytes/partition`;
  return `retention ${ms}, ${bytes}`;
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseOrUsage(USAGE, () => parseArgs({ args, options: OPTIONS, allowPositionals: true }));
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [sub, name, ...extra] = positionals;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const needsName = sub === 'create' || sub === 'describe' || sub === 'delete';
  if (
    sub === undefined ||
    !['create', 'list', 'describe', 'delete'].includes(sub) ||
    (needsName && !name) ||
    extra.length > 0
  ) {
    console.error(
      `tributary topics: ${sub === undefined ? 'missing subcommand' : `bad arguments for '${sub}'`}\n\n${USAGE}`,
    );
    return 2;
  }
  const partitions = intOption('partitions', values.partitions, 1) ?? 1;
  const retentionMs = intOption('retention-ms', values['retention-ms'], 1);
  const retentionBytes = intOption('retention-bytes', values['retention-bytes'], 1);
  const log = await openLogFromArgs(values);
  try {
    switch (sub) {
      case 'create':
        await log.createTopic(name, { partitions, retentionMs, retentionBytes });
        console.log(`created topic '${name}' with ${partitions} partition(s) in ${log.description}`);
        return 0;
      case 'list':
        return await list(log, values.json === true);
      case 'describe':
        return await describe(log, name, values.json === true);
      default:
        await log.deleteTopic(name);
        console.log(`deleted topic '${name}' from ${log.description}`);
        return 0;
    }
  } finally {
    await log.close();
  }
}

async function list(log: Log, json: boolean): Promise<number> {
  const topics = await log.listTopics();
  if (json) {
    console.log(JSON.stringify(topics));
  } else if (topics.length === 0) {
    console.log(`no topics in ${log.description}`);
  } else {
    for (const t of topics) console.log(`${t.name}\t${t.partitions} partition(s)\t${retention(t)}`);
  }
  return 0;
}

async function describe(log: Log, name: string, json: boolean): Promise<number> {
  const info = await log.describeTopic(name);
  const partitions = [];
  for (let p = 0; p < info.partitions; p++)
    partitions.push({ partition: p, ...(await log.offsets(name, p)) });
  if (json) {
    console.log(JSON.stringify({ ...info, partitionOffsets: partitions }));
    return 0;
  }
  console.log(`topic ${info.name}: ${info.partitions} partition(s), ${retention(info)}`);
  for (const p of partitions) {
    console.log(
      `  partition ${p.partition}: earliest ${p.earliest}, latest ${p.latest}, ${p.latest - p.earliest} record(s)`,
    );
  }
  return 0;
}
