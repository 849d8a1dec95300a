/**
 * Embedded log throughput: produce and consume 1,000,000 JSON records of ~300 bytes.
 *
 *   node bench/log-embedded.ts [--records N] [--batch N] [--partitions N] [--fsync always|interval|never]
 *
 * Prints the figures and writes bench/results/log-embedded.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EmbeddedLog } from '../src/log/embedded/embedded-log.ts';
import type { FsyncPolicy } from '../src/log/embedded/partition-writer.ts';
import type { ProduceRecord } from '../src/log/log.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '5000' },
    partitions: { type: 'string', default: '1' },
    fsync: { type: 'string', default: 'interval' },
  },
});
const total = Number(args.records);
const batchSize = Number(args.batch);
const partitions = Number(args.partitions);
const fsync = args.fsync as FsyncPolicy;

function orderEvent(i: number): Uint8Array {
  const json = JSON.stringify({
    event_id: `evt-${i.toString(16).padStart(12, '0')}`,
    order_id: `ord-${(i % 50_000).toString().padStart(8, '0')}`,
    customer_id: `cust-${(i * 7919) % 100_000}`,
    status: ['CREATED', 'PAID', 'SHIPPED', 'CANCELLED'][i % 4],
    amount: Math.round((i % 10_000) * 1.37 * 100) / 100,
    currency: 'EUR',
    items: (i % 5) + 1,
    event_timestamp: new Date(1_700_000_000_000 + i * 10).toISOString(),
    region: ['eu-west', 'us-east', 'ap-south'][i % 3],
  });
  return Buffer.from(json.padEnd(300, ' '));
}

const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-log-'));
try {
  // Payloads are built before timing: the figure is the log's, not JSON.stringify's.
  const payloads = Array.from({ length: Math.min(total, 100_000) }, (_, i) => orderEvent(i));
  const recordBytes = payloads[0].length;

  const producer = new EmbeddedLog({ dir, fsync });
  await producer.createTopic('bench', { partitions });
  // CPU time next to wall time: the machine is shared, and CPU seconds are less disturbed by neighbours.
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  let c0 = cpu();
  let t0 = performance.now();
  for (let i = 0; i < total; ) {
    const n = Math.min(batchSize, total - i);
    const batch: ProduceRecord[] = new Array(n);
    for (let k = 0; k < n; k++) {
      batch[k] = {
        topic: 'bench',
        partition: (i + k) % partitions,
        value: payloads[(i + k) % payloads.length],
      };
    }
    await producer.produce(batch);
    i += n;
  }
  const produceS = (performance.now() - t0) / 1000;
  const produceCpu = cpu() - c0;
  await producer.close();

  // A separate instance consumes, as a consumer process would.
  const consumer = new EmbeddedLog({ dir });
  c0 = cpu();
  t0 = performance.now();
  let consumed = 0;
  let bytes = 0;
  for (let p = 0; p < partitions; p++) {
    let offset = 0;
    for (;;) {
      const b = await consumer.fetchValues('bench', p, offset, { maxRecords: 10_000 });
      if (b.count === 0) break;
      consumed += b.count;
      bytes += b.values.length;
      offset = b.nextOffset;
    }
  }
  const consumeS = (performance.now() - t0) / 1000;
  const consumeCpu = cpu() - c0;

  c0 = cpu();
  t0 = performance.now();
  let fetched = 0;
  for (let p = 0; p < partitions; p++) {
    let offset = 0;
    for (;;) {
      const r = await consumer.fetch('bench', p, offset, { maxRecords: 10_000 });
      if (r.records.length === 0) break;
      fetched += r.records.length;
      offset = r.nextOffset;
    }
  }
  const fetchS = (performance.now() - t0) / 1000;
  const fetchCpu = cpu() - c0;
  await consumer.close();
  if (consumed !== total || fetched !== total)
    throw new Error(`consumed ${consumed} / fetched ${fetched} of ${total}`);

  const mb = (total * recordBytes) / 1e6;
  const figures = (seconds: number, cpuSeconds: number, megabytes: number) => ({
    seconds: +seconds.toFixed(3),
    cpuSeconds: +cpuSeconds.toFixed(3),
    recordsPerS: Math.round(total / seconds),
    mbPerS: +(megabytes / seconds).toFixed(1),
    recordsPerCpuS: Math.round(total / cpuSeconds),
  });
  const result = {
    records: total,
    recordBytes,
    batch: batchSize,
    partitions,
    fsync,
    produce: figures(produceS, produceCpu, mb),
    consumeFetchValues: figures(consumeS, consumeCpu, bytes / 1e6),
    consumeFetch: figures(fetchS, fetchCpu, mb),
    node: process.version,
    date: new Date().toISOString(),
  };
  console.log(
    `embedded log, ${total} records of ${recordBytes} B, batches of ${batchSize}, ${partitions} partition(s), fsync ${fsync}`,
  );
  const line = (label: string, r: ReturnType<typeof figures>) =>
    console.log(
      `  ${label.padEnd(22)}${r.recordsPerS.toLocaleString().padStart(10)} records/s ${String(r.mbPerS).padStart(6)} MB/s` +
        `   (${r.recordsPerCpuS.toLocaleString()} records per CPU second)`,
    );
  line('produce', result.produce);
  line('consume (fetchValues)', result.consumeFetchValues);
  line('consume (fetch)', result.consumeFetch);
  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'log-embedded.json'), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
