/**
 * Runs the clickstream generator (seed 002) into the `user-events` topic (used by
 * `tributary generate clickstream` and by the demo).
 */
import {
  ClickstreamGenerator,
  type ClickstreamGeneratorOptions,
} from '../../connectors/generators/clickstream.ts';
import { type GenerateRun, generateInto } from '../../connectors/generators/produce-loop.ts';
import { systemClock } from '../../core/clock.ts';

/** The seed's topic: `user-events`, 3 partitions, 24-hour retention. */
export const CLICKSTREAM_TOPIC = 'user-events';
export const CLICKSTREAM_PARTITIONS = 3;
export const CLICKSTREAM_RETENTION_MS = 24 * 60 * 60 * 1000;

export interface GenerateClickstreamOptions
  extends Partial<Omit<ClickstreamGeneratorOptions, 'clock'>>,
    GenerateRun {
  /** Default `user-events`. */
  topic?: string;
  /** Records per second (the seed's producer: 5); undefined or 0: as fast as the log takes them. */
  rate?: number;
}

/**
 * Produces clickstream events; creates the topic if it is missing (an existing topic keeps
 * its partitions and retention). The user base and the event ids continue after the
 * records already in the topic (`startEvent`), so a second run with the same seed does
 * not repeat the first one's event ids.
 */
export async function generateClickstream(opts: GenerateClickstreamOptions): Promise<number> {
  // Options are checked before the topic is created.
  new ClickstreamGenerator({ ...opts, clock: opts.clock ?? systemClock });
  return generateInto(
    opts,
    opts.topic ?? CLICKSTREAM_TOPIC,
    { partitions: CLICKSTREAM_PARTITIONS, retentionMs: CLICKSTREAM_RETENTION_MS },
    (existing, clock) =>
      new ClickstreamGenerator({ ...opts, clock, startEvent: opts.startEvent ?? existing }),
  );
}
