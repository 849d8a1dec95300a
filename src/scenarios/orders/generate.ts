/**
 * Runs the orders generator into the `orders` topic (used by `tributary generate orders`
 * and by the demo).
 */

import { OrdersGenerator, type OrdersGeneratorOptions } from '../../connectors/generators/orders.ts';
import { produceLoop } from '../../connectors/generators/produce-loop.ts';
import { type Clock, systemClock } from '../../core/clock.ts';
import type { Log } from '../../log/log.ts';
import { ORDERS_PARTITIONS, ORDERS_TOPIC } from './pipeline.ts';

export interface GenerateOrdersOptions extends Partial<Omit<OrdersGeneratorOptions, 'clock'>> {
  log: Log;
  /** Default `orders`. */
  topic?: string;
  count?: number;
  rate?: number;
  clock?: Clock;
  signal?: AbortSignal;
  onProgress?: (produced: number) => void;
}

/** Produces order events; order numbers continue after the records already in the topic. */
export async function generateOrders(opts: GenerateOrdersOptions): Promise<number> {
  const { log } = opts;
  const topic = opts.topic ?? ORDERS_TOPIC;
  const info = await log.ensureTopic(topic, { partitions: ORDERS_PARTITIONS });
  let existing = 0;
  for (let p = 0; p < info.partitions; p++) existing += (await log.offsets(topic, p)).latest;
  const clock = opts.clock ?? systemClock;
  const generator = new OrdersGenerator({
    ...opts,
    clock,
    startSequence: opts.startSequence ?? existing + 1,
  });
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
