/**
 * The data contract of an order event (seed 001, §3.1 "Event Schema"), as the orders
 * pipeline's definition (pipelines/orders.yaml) declares it.
 */
import { builtinDefinitionSync } from '../../pipeline/builtin.ts';
import { toFieldSpec } from '../../pipeline/plan.ts';
import type { DataContract } from '../../quality/contract.ts';

/** The largest amount DECIMAL(12,2) holds. */
export const MAX_AMOUNT = 9_999_999_999.99;

export const ORDER_STATUSES = ['CREATED', 'PAID', 'SHIPPED', 'CANCELLED', 'RETURNED'] as const;

const def = builtinDefinitionSync('orders').definition;

export const ordersContract: DataContract = {
  name: def.contract!.name,
  fields: def.contract!.fields.map(toFieldSpec),
};
