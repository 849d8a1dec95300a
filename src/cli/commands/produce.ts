/**
 * `tributary produce <topic>`: appends NDJSON lines from stdin to a topic, in batches;
 * `--key-field` keys each record by one of its JSON fields (so it lands in that key's
 * murmur2 partition, as Kafka would place it).
 */
import { createInterface } from 'node:readline';
import { TributaryError } from '../../core/errors.ts';
import type { ProduceRecord } from '../../log/log.ts';
import { intOption, LOG_OPTIONS, LOG_OPTIONS_USAGE, openLogFromArgs } from './log-args.ts';
import { parseCommand } from './options.ts';

const USAGE = `usage: tributary produce <topic> [options] < records.ndjson

Reads one JSON document per line from stdin (blank lines are skipped) and appends each
as a record; prints how many were produced.

options:
  --key-field FIELD  use this top-level JSON field (as text) as the record key
  --partition N      put every record in partition N
  --batch N          records per produce call (default 1000)

${LOG_OPTIONS_USAGE}`;

const OPTIONS = {
  ...LOG_OPTIONS,
  'key-field': { type: 'string' },
  partition: { type: 'string' },
  batch: { type: 'string' },
} as const;

const enc = new TextEncoder();

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(USAGE, OPTIONS, args);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    console.error(`tributary produce: expected exactly one topic\n\n${USAGE}`);
    return 2;
  }
  const topic = positionals[0];
  const keyField = values['key-field'];
  const partition = intOption('partition', values.partition, 0);
  const batchSize = intOption('batch', values.batch, 1) ?? 1000;

  const log = await openLogFromArgs(values);
  let produced = 0;
  try {
    await log.describeTopic(topic);
    let batch: ProduceRecord[] = [];
    let lineNo = 0;
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      lineNo++;
      if (line.trim() === '') continue;
      let doc: unknown;
      try {
        doc = JSON.parse(line);
      } catch (err) {
        throw new TributaryError(
          'INPUT_INVALID',
          `stdin line ${lineNo} is not JSON (${(err as Error).message}); ${produced} record(s) were produced before it`,
          { line: lineNo, produced },
        );
      }
      let key: Uint8Array | null = null;
      if (keyField !== undefined) {
        const k =
          doc !== null && typeof doc === 'object' ? (doc as Record<string, unknown>)[keyField] : undefined;
        if (k === undefined || k === null) {
          throw new TributaryError(
            'INPUT_INVALID',
            `stdin line ${lineNo} has no field '${keyField}' to use as key; ${produced} record(s) were produced before it`,
            { line: lineNo, field: keyField, produced },
          );
        }
        key = enc.encode(typeof k === 'string' ? k : JSON.stringify(k));
      }
      batch.push({ topic, partition, key, value: enc.encode(line) });
      if (batch.length >= batchSize) {
        produced += (await log.produce(batch)).length;
        batch = [];
      }
    }
    if (batch.length > 0) produced += (await log.produce(batch)).length;
  } finally {
    await log.close();
  }
  console.log(`produced ${produced} record(s) to topic '${topic}'`);
  return 0;
}
