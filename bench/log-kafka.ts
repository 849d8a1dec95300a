/**
 * Produce and consume throughput of KafkaLog against a running broker, with ~300-byte
 * JSON order events keyed by order id (the orders scenario's shape).
 *
 *   node bench/log-kafka.ts [--brokers host:port] [--records 200000] [--partitions 4]
 *                           [--batch 5000] [--concurrency 2] [--compression lz4]
 *
 * Brokers default to TRIBUTARY_TEST_KAFKA (start one with
 * `eval "$(bash scripts/provision/kafka.start.sh)"`). Prints the figures and writes
 * bench/results/log-kafka.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CompressionAlgorithmValue } from '@platformatic/kafka';
import { KafkaLog } from '../src/log/kafka/index.ts';
import type { ProduceRecord } from '../src/log/log.ts';

const { values: args } = parseArgs({
  options: {
    brokers: { type: 'string', default: process.env.TRIBUTARY_TEST_KAFKA },
    records: { type: 'string', default: '200000' },
    partitions: { type: 'string', default: '4' },
    batch: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '2' },
    compression: { type: 'string', default: 'lz4' },
  },
});
if (!args.brokers) {
  console.error('no broker: pass --brokers host:port or set TRIBUTARY_TEST_KAFKA');
  process.exit(2);
}
const total = Number(args.records);
const partitions = Number(args.partitions);
const batchSize = Number(args.batch);
const concurrency = Number(args.concurrency);
const compression = args.compression as CompressionAlgorithmValue;

const enc = new TextEncoder();
const STATUSES = ['CREATED', 'PAID', 'SHIPPED', 'CANCELLED', 'RETURNED'];

/** One order event of about 300 bytes of JSON. */
function event(i: number): { key: Uint8Array; value: Uint8Array } {
  const orderId = `ord-${String(i % 50_000).padStart(8, '0')}`;
  const json = JSON.stringify({
    event_id: `evt-${String(i).padStart(12, '0')}`,
    order_id: orderId,
    customer_id: `cust-${String((i * 7919) % 100_000).padStart(6, '0')}`,
    status: STATUSES[i % STATUSES.length],
    amount: Math.round(((i * 37) % 100_000) + 99) / 100,
    currency: 'EUR',
    items: (i % 7) + 1,
    channel: i % 2 === 0 ? 'web' : 'mobile',
    event_timestamp: new Date(1_700_000_000_000 + i * 13).toISOString(),
    shipping_city: ['Lisbon', 'Berlin', 'Porto', 'Madrid'][i % 4],
    note: 'x'.repeat(56),
  });
  return { key: enc.encode(orderId), value: enc.encode(json) };
}

const log = new KafkaLog({ brokers: args.brokers.split(','), clientId: 'tributary-bench', compression });
const topic = `bench-log-kafka-${Date.now()}`;
await log.createTopic(topic, { partitions });

const events = Array.from({ length: total }, (_, i) => event(i));
const valueBytes = events.reduce((n, e) => n + e.value.length, 0);

// Produce: `concurrency` callers, each sending batches of `batchSize` records.
let next = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const start = next;
      next = Math.min(total, next + batchSize);
      const batch: ProduceRecord[] = [];
      for (let i = start; i < next; i++) batch.push({ topic, key: events[i].key, value: events[i].value });
      await log.produce(batch);
    }
  }),
);
const produceSec = (performance.now() - t0) / 1000;

// Consume: every partition from offset 0 to its end, as the runtime's fast path reads.
async function consume(kind: 'fetchValues' | 'fetch'): Promise<{ sec: number; count: number }> {
  const start = performance.now();
  let count = 0;
  for (let p = 0; p < partitions; p++) {
    const { latest } = await log.offsets(topic, p);
    let offset = 0;
    while (offset < latest) {
      if (kind === 'fetchValues') {
        const b = await log.fetchValues(topic, p, offset, { maxRecords: 20_000 });
        count += b.count;
        offset = b.nextOffset;
      } else {
        const b = await log.fetch(topic, p, offset, { maxRecords: 20_000 });
        count += b.records.length;
        offset = b.nextOffset;
      }
    }
  }
  return { sec: (performance.now() - start) / 1000, count };
}
// One untimed pass of each first, so both timed passes read warm (JIT, page cache).
await consume('fetch');
await consume('fetchValues');
const values = await consume('fetchValues');
const objects = await consume('fetch');
await log.deleteTopic(topic);
await log.close();

if (values.count !== total || objects.count !== total) {
  console.error(`read back ${values.count} / ${objects.count} records, expected ${total}`);
  process.exit(1);
}
const mb = valueBytes / 1e6;
const rate = (sec: number) => ({
  recordsPerSec: Math.round(total / sec),
  mbPerSec: Math.round((mb / sec) * 10) / 10,
});
const result = {
  benchmark: 'log-kafka',
  date: new Date().toISOString(),
  brokers: args.brokers,
  records: total,
  avgValueBytes: Math.round(valueBytes / total),
  partitions,
  batch: batchSize,
  concurrency,
  compression,
  produce: { seconds: Math.round(produceSec * 100) / 100, ...rate(produceSec) },
  consumeValues: { seconds: Math.round(values.sec * 100) / 100, ...rate(values.sec) },
  consumeRecords: { seconds: Math.round(objects.sec * 100) / 100, ...rate(objects.sec) },
};
console.log(
  `log-kafka: ${total} records of ~${result.avgValueBytes} B, ${partitions} partitions, ${compression}, batch ${batchSize} x ${concurrency}`,
);
for (const [name, r] of [
  ['produce', result.produce],
  ['consume (fetchValues)', result.consumeValues],
  ['consume (fetch)', result.consumeRecords],
] as const) {
  console.log(
    `  ${name.padEnd(22)} ${String(r.recordsPerSec).padStart(9)} records/s  ${String(r.mbPerSec).padStart(6)} MB/s`,
  );
}
const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'log-kafka.json'), `${JSON.stringify(result, null, 2)}\n`);
