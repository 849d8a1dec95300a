/**
 * Runs the orders generator into the `orders` topic (used by `tributary generate orders`
 * and by the demo).
 */

import { OrdersGenerator, type OrdersGeneratorOptions } from '../../connectors/generators/orders.ts';
import { type GenerateRun, generateInto } from '../../connectors/generators/produce-loop.ts';
import { ORDERS_PARTITIONS, ORDERS_TOPIC } from './pipeline.ts';

export interface GenerateOrdersOptions extends Partial<Omit<OrdersGeneratorOptions, 'clock'>>, GenerateRun {
  /** Default `orders`. */
  topic?: string;
}

/** Produces order events; order numbers continue after the records already in the topic. */
export async function generateOrders(opts: GenerateOrdersOptions): Promise<number> {
  return generateInto(
    opts,
    opts.topic ?? ORDERS_TOPIC,
    { partitions: ORDERS_PARTITIONS },
    (existing, clock) =>
      new OrdersGenerator({ ...opts, clock, startSequence: opts.startSequence ?? existing + 1 }),
  );
}
