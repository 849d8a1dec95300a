/**
 * `tributary consume <topic>`: prints the records of a topic as JSON lines, following
 * new records as they arrive. With `--group`, it resumes from the group's committed
 * offsets and commits what it printed, so a second run continues where the first stopped.
 */
import type { Log, LogRecord } from '../../log/log.ts';
import { intOption, LOG_OPTIONS, LOG_OPTIONS_USAGE, openLogFromArgs } from './log-args.ts';
import { parseCommand } from './options.ts';
import { onStopSignals } from './stop-signals.ts';

const USAGE = `usage: tributary consume <topic> [options]

Prints one JSON line per record: {"partition","offset","timestamp","key","value"}; the
value is the record's JSON when it is JSON, else its text. Follows new records until
--max records were printed, --timeout-ms passed without a record, or Ctrl-C.

options:
  --from-beginning   start at the earliest offset (default: only records produced from now on,
                     or the group's committed offsets with --group)
  --group G          resume from and commit the offsets of consumer group G
  --max N            stop after N records
  --timeout-ms MS    stop when no record arrived for MS milliseconds

${LOG_OPTIONS_USAGE}`;

const OPTIONS = {
  ...LOG_OPTIONS,
  'from-beginning': { type: 'boolean' },
  group: { type: 'string' },
  max: { type: 'string' },
  'timeout-ms': { type: 'string' },
} as const;

const dec = new TextDecoder();
/** How long one fetch waits for new records before the next partition gets its turn. */
const WAIT_SLICE_MS = 200;

function render(partition: number, r: LogRecord): string {
  let value: unknown = null;
  if (r.value !== null) {
    const text = dec.decode(r.value);
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
  }
  const key = r.key === null ? null : dec.decode(r.key);
  return JSON.stringify({ partition, offset: r.offset, timestamp: r.timestamp, key, value });
}

async function startOffsets(
  log: Log,
  topic: string,
  partitions: number,
  fromBeginning: boolean,
  group?: string,
) {
  const committed =
    group === undefined ? new Map<number, number>() : await log.committedOffsets(group, topic);
  const next: number[] = [];
  for (let p = 0; p < partitions; p++) {
    const { earliest, latest } = await log.offsets(topic, p);
    const c = committed.get(p);
    if (c !== undefined) next.push(Math.min(Math.max(c, earliest), latest));
    else next.push(fromBeginning ? earliest : latest);
  }
  return next;
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(USAGE, OPTIONS, args);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    console.error(`tributary consume: expected exactly one topic\n\n${USAGE}`);
    return 2;
  }
  const topic = positionals[0];
  const max = intOption('max', values.max, 1) ?? Infinity;
  const timeoutMs = intOption('timeout-ms', values['timeout-ms'], 0);
  const group = values.group;

  const log = await openLogFromArgs(values);
  let stop = false;
  const removeSignals = onStopSignals(() => {
    stop = true;
  });
  try {
    const { partitions } = await log.describeTopic(topic);
    const next = await startOffsets(log, topic, partitions, values['from-beginning'] === true, group);
    let printed = 0;
    let lastRecordAt = performance.now();
    let idleRounds = 0;
    for (let p = 0; !stop && printed < max; p = (p + 1) % partitions) {
      // Wait only once a whole round over the partitions found nothing.
      const maxWaitMs = idleRounds >= partitions ? WAIT_SLICE_MS : 0;
      const res = await log.fetch(topic, p, next[p], {
        maxRecords: Math.min(max - printed, 10_000),
        maxWaitMs,
      });
      if (res.records.length === 0) {
        // Offsets without records (Kafka's transaction markers, aborted records) stepped over.
        next[p] = Math.max(next[p], res.nextOffset);
        idleRounds++;
        if (timeoutMs !== undefined && performance.now() - lastRecordAt >= timeoutMs) break;
        continue;
      }
      idleRounds = 0;
      lastRecordAt = performance.now();
      const lines = res.records.map((r) => render(p, r));
      await write(`${lines.join('\n')}\n`);
      printed += res.records.length;
      next[p] = res.nextOffset;
      if (group !== undefined) await log.commitOffsets(group, [{ topic, partition: p, offset: next[p] }]);
    }
  } finally {
    removeSignals();
    await log.close();
  }
  return 0;
}

function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (err) => (err ? reject(err) : resolve()));
  });
}
