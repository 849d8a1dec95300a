/**
 * The data contract of an order event (seed 001, §3.1 "Event Schema").
 */
import { CATEGORIES, CURRENCIES, EVENT_TYPES, PAYMENT_METHODS } from '../../connectors/generators/orders.ts';
import type { DataContract } from '../../quality/contract.ts';

/** The largest amount DECIMAL(12,2) holds. */
export const MAX_AMOUNT = 9_999_999_999.99;

export const ORDER_STATUSES = ['CREATED', 'PAID', 'SHIPPED', 'CANCELLED', 'RETURNED'] as const;

export const ordersContract: DataContract = {
  name: 'orders.v1',
  fields: [
    {
      name: 'event_id',
      type: 'string',
      pattern: '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
    },
    { name: 'event_type', type: 'string', enum: EVENT_TYPES },
    // Epoch seconds between 2000-01-01 and 2100-01-01: catches milliseconds sent by mistake.
    { name: 'event_timestamp', type: 'integer', min: 946_684_800, max: 4_102_444_800 },
    { name: 'order_id', type: 'string', pattern: 'ord-[0-9]{8}-[0-9]+' },
    { name: 'user_id', type: 'string' },
    // Money: cents at most, below the DECIMAL(12,2) the tables hold it in.
    { name: 'total_amount', type: 'number', min: 0, max: MAX_AMOUNT, decimals: 2 },
    { name: 'currency', type: 'string', enum: CURRENCIES },
    { name: 'payment_method', type: 'string', enum: PAYMENT_METHODS },
    {
      name: 'items',
      type: 'array',
      minItems: 1,
      items: [
        { name: 'sku', type: 'string' },
        { name: 'quantity', type: 'integer', min: 1 },
        { name: 'unit_price', type: 'number', min: 0, max: MAX_AMOUNT, decimals: 2 },
        { name: 'category', type: 'string', enum: CATEGORIES },
      ],
    },
    { name: 'current_status', type: 'string', enum: ORDER_STATUSES },
  ],
};
