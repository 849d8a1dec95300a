/** One valid event of the orders contract, shaped like the seed's example (seed 001, §3.1). */
export const SAMPLE_ORDER_EVENT = {
  event_id: '0b7c3f5e-1d2a-4c3b-9e8f-0123456789ab',
  event_type: 'ORDER_PAID',
  event_timestamp: 1769515200,
  order_id: 'ord-20260127-0000000001',
  user_id: 'u-12345',
  total_amount: 299.0,
  currency: 'USD',
  payment_method: 'CREDIT_CARD',
  items: [{ sku: 'SKU-999', quantity: 1, unit_price: 299.0, category: 'Electronics' }],
  current_status: 'PAID',
} as const;
