/**
 * Runs the sales generator (seed 004) into `sales.events.v1` (used by `tributary generate
 * sales` and, later, the demo): registers the schema it writes with under the topic's
 * value subject (`sales.events.v1-value`, Confluent's TopicNameStrategy) through a
 * schema registry client, then produces; with `switchAt`, registers version 2 midway and
 * goes on with it, so the topic holds records of both versions.
 */

import type { SchemaRegistryClient } from '../../connectors/avro/registry-client.ts';
import { type GenerateRun, produceLoop } from '../../connectors/generators/produce-loop.ts';
import { systemClock } from '../../core/clock.ts';
import { SALES_PARTITIONS, SALES_TOPIC, valueSubject } from './domain.ts';
import { SalesGenerator, type SalesGeneratorOptions, type WrittenVersion } from './generator.ts';
import { salesSchemaText } from './schemas.ts';

export interface GenerateSalesOptions
  extends Partial<Omit<SalesGeneratorOptions, 'clock' | 'schema'>>,
    GenerateRun {
  registry: SchemaRegistryClient;
  /** The version written with from the start (default 1). */
  schemaVersion?: WrittenVersion;
  /**
   * Starting with version 1: after this many records of the run, register version 2 and
   * write with it (undefined: one version throughout).
   */
  switchAt?: number;
  /** Told each schema the run writes with, once registered. */
  onSchema?: (version: WrittenVersion, id: number, subject: string) => void;
}

/**
 * Produces sales events; creates the topic if it is missing (3 partitions; an existing
 * topic keeps its configuration). Event ids continue after the records already in the
 * topic (`startEvent`), so a second run with the same seed does not repeat the first's.
 * Returns how many records were produced.
 */
export async function generateSales(opts: GenerateSalesOptions): Promise<number> {
  const clock = opts.clock ?? systemClock;
  // Options are checked before the topic is created or a schema registered.
  new SalesGenerator({ ...opts, clock, schema: { version: 1, id: 0 } });
  const topic = opts.topic ?? SALES_TOPIC;
  const subject = valueSubject(topic);
  const info = await opts.log.ensureTopic(topic, { partitions: SALES_PARTITIONS });
  let existing = 0;
  for (let p = 0; p < info.partitions; p++) existing += (await opts.log.offsets(topic, p)).latest;

  let version = opts.schemaVersion ?? 1;
  let switchAt = version === 1 ? opts.switchAt : undefined;
  if (switchAt !== undefined && switchAt <= 0) {
    version = 2;
    switchAt = undefined;
  }
  const id = await opts.registry.register(subject, salesSchemaText(version));
  opts.onSchema?.(version, id, subject);
  const generator = new SalesGenerator({
    ...opts,
    clock,
    startEvent: opts.startEvent ?? existing,
    schema: { version, id },
  });
  const loop = (count: number | undefined, before: number) =>
    produceLoop({
      log: opts.log,
      topic,
      source: generator,
      count,
      rate: opts.rate,
      clock,
      signal: opts.signal,
      onProgress: opts.onProgress && ((n) => opts.onProgress!(before + n)),
    });
  const first = switchAt === undefined ? opts.count : Math.min(opts.count ?? switchAt, switchAt);
  let produced = await loop(first, 0);
  if (
    switchAt === undefined ||
    opts.signal?.aborted ||
    (opts.count !== undefined && produced >= opts.count)
  ) {
    return produced;
  }
  const v2 = await opts.registry.register(subject, salesSchemaText(2));
  generator.useSchema(2, v2);
  opts.onSchema?.(2, v2, subject);
  produced += await loop(opts.count === undefined ? undefined : opts.count - produced, produced);
  return produced;
}
