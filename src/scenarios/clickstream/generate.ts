/**
 * Runs the clickstream generator (seed 002) into the `user-events` topic (used by
 * `tributary generate clickstream` and by the demo).
 */
import {
  ClickstreamGenerator,
  type ClickstreamGeneratorOptions,
} from '../../connectors/generators/clickstream.ts';
import { produceLoop } from '../../connectors/generators/produce-loop.ts';
import { type Clock, systemClock } from '../../core/clock.ts';
import type { Log } from '../../log/log.ts';

/** The seed's topic: `user-events`, 3 partitions, 24-hour retention. */
export const CLICKSTREAM_TOPIC = 'user-events';
export const CLICKSTREAM_PARTITIONS = 3;
export const CLICKSTREAM_RETENTION_MS = 24 * 60 * 60 * 1000;

export interface GenerateClickstreamOptions extends Partial<Omit<ClickstreamGeneratorOptions, 'clock'>> {
  log: Log;
  /** Default `user-events`. */
  topic?: string;
  /** Stop after this many records; undefined: until `signal` aborts. */
  count?: number;
  /** Records per second (the seed's producer: 5); undefined or 0: as fast as the log takes them. */
  rate?: number;
  clock?: Clock;
  signal?: AbortSignal;
  onProgress?: (produced: number) => void;
}

/**
 * Produces clickstream events; creates the topic if it is missing (an existing topic keeps
 * its partitions and retention). The user base and the event ids continue after the
 * records already in the topic (`startEvent`), so a second run with the same seed does
 * not repeat the first one's event ids.
 */
export async function generateClickstream(opts: GenerateClickstreamOptions): Promise<number> {
  const { log } = opts;
  const topic = opts.topic ?? CLICKSTREAM_TOPIC;
  const clock = opts.clock ?? systemClock;
  // Options are checked before the topic is created.
  new ClickstreamGenerator({ ...opts, clock });
  const info = await log.ensureTopic(topic, {
    partitions: CLICKSTREAM_PARTITIONS,
    retentionMs: CLICKSTREAM_RETENTION_MS,
  });
  let existing = 0;
  for (let p = 0; p < info.partitions; p++) existing += (await log.offsets(topic, p)).latest;
  const generator = new ClickstreamGenerator({ ...opts, clock, startEvent: opts.startEvent ?? existing });
  return produceLoop({
    log,
    topic,
    source: generator,
    count: opts.count,
    rate: opts.rate,
    clock,
    signal: opts.signal,
    onProgress: opts.onProgress,
  });
}
