/**
 * orders_current's layout: MERGE cost per micro-batch against tables of 1M and 10M
 * orders, laid out as the pipeline keeps it: unpartitioned, clustered by order_id, the
 * orders older than a minute compacted into 16 MiB files and the recent ones (the newest
 * 200,000) in the ~1 MiB files MERGEs write. Order ids grow with time, so a batch's
 * MERGE (new orders + updates of recent ones) rewrites only the few small files holding
 * changed orders, skipped otherwise by key min/max stats; MERGE options as the pipeline's
 * (1 MiB files sorted by order_id, snappy, one DuckDB thread per statement).
 * For contrast, `--bucketed` also measures the seed's layout (16 hash buckets of
 * order_id as partitions, 16 MiB files) at the smallest size: every batch touches every
 * bucket.
 *
 *   node bench/orders-current-layout.ts [--sizes 1000000,10000000] [--batches 3] [--bucketed]
 *
 * A batch is what ~100,000 events make: 35,000 new orders and 10,000 updates of orders
 * among the newest 30,000. Prints the figures and writes bench/results/orders-current-layout.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CURRENT_NEWER } from '../src/scenarios/orders/pipeline.ts';
import { ORDERS_CURRENT_SCHEMA } from '../src/scenarios/orders/tables.ts';
import { LocalStore } from '../src/storage/local.ts';
import { merge, openConnection, writeFiles } from '../src/table/index.ts';
import type { StructType } from '../src/table/schema.ts';
import { DeltaTable } from '../src/table/table.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000000,10000000' },
    batches: { type: 'string', default: '3' },
    bucketed: { type: 'boolean', default: false },
  },
});
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const FILE_SIZE = 16 * 1024 * 1024;
const HOT_FILE_SIZE = 1024 * 1024;
const HOT = 200_000;
const NEW_PER_BATCH = 35_000;
const UPDATES_PER_BATCH = 10_000;
const RECENT = 30_000;

/** SQL rows of orders_current for order numbers [from, to), in the table's column order. */
function ordersSql(
  from: number,
  to: number,
  status: string,
  rank: number,
  tsSec: number,
  bucketed: boolean,
): string {
  return `SELECT 'ord-20260127-' || lpad(i::VARCHAR, 10, '0') AS order_id, 'u-' || (10000 + i % 90000) AS user_id, '${status}' AS status, ${rank} AS status_rank, 'ORDER_${status}' AS last_event_type, uuid()::VARCHAR AS last_event_id, to_timestamp(${tsSec} + i // 20000) AS event_timestamp, (i % 100000) / 100.0 AS total_amount, 'USD' AS currency, 'CREDIT_CARD' AS payment_method, [{'sku': 'SKU-' || (i % 9900), 'quantity': 1 + i % 3, 'unit_price': (i % 100000) / 100.0, 'category': 'Books'}] AS items, to_timestamp(${tsSec} + i // 20000) AS updated_at, (i % 4)::INTEGER AS source_partition, i AS source_offset${bucketed ? ', (hash(order_id) % 16)::INTEGER AS bucket' : ''} FROM range(${from}, ${to}) t(i)`;
}

async function measure(size: number, batches: number, bucketed: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-orders-layout-'));
  try {
    const schema: StructType = bucketed
      ? {
          type: 'struct',
          fields: [
            ...ORDERS_CURRENT_SCHEMA.fields,
            { name: 'bucket', type: 'integer', nullable: true, metadata: {} },
          ],
        }
      : ORDERS_CURRENT_SCHEMA;
    const table = await DeltaTable.create(new LocalStore(dir), {
      schema,
      partitionColumns: bucketed ? ['bucket'] : [],
      configuration: { 'delta.checkpointInterval': '100' },
    });
    const t0 = performance.now();
    const snap = await table.snapshot();
    // Compacted (cold) orders in 16 MiB files; in the pipeline's layout, the newest in 1 MiB files.
    const cold = bucketed ? size : size - HOT;
    const adds = await writeFiles(
      table,
      snap,
      { sql: ordersSql(1, cold + 1, 'SHIPPED', 2, 1769500000, bucketed) },
      { targetFileSize: FILE_SIZE, orderBy: ['order_id'] },
    );
    if (!bucketed) {
      adds.push(
        ...(await writeFiles(
          table,
          snap,
          { sql: ordersSql(cold + 1, size + 1, 'SHIPPED', 2, 1769500000, bucketed) },
          { targetFileSize: HOT_FILE_SIZE, orderBy: ['order_id'] },
        )),
      );
    }
    await table.commit(
      adds.map((add) => ({ add })),
      { readSnapshot: snap, operation: 'WRITE', readScope: 'none' },
    );
    const loadMs = performance.now() - t0;
    const times: number[] = [];
    const touched: number[] = [];
    const conn = await openConnection();
    let next = size + 1;
    for (let b = 0; b < batches; b++) {
      const file = join(dir, `batch-${b}.parquet`);
      const ts = 1769600000 + b * 10;
      // New orders, plus updates (PAID → SHIPPED-like) of random orders among the newest RECENT.
      await conn.run(
        `COPY (${ordersSql(next, next + NEW_PER_BATCH, 'CREATED', 0, ts, bucketed)} UNION ALL SELECT * FROM (${ordersSql(next - RECENT, next, 'PAID', 1, ts, bucketed)}) USING SAMPLE ${UPDATES_PER_BATCH} ROWS) TO '${file}' (FORMAT parquet)`,
      );
      next += NEW_PER_BATCH;
      const t = performance.now();
      const res = await merge(
        table,
        { file, format: 'parquet' },
        {
          on: ['order_id'],
          whenMatched: { update: CURRENT_NEWER },
          ...(bucketed
            ? { targetFileSize: FILE_SIZE }
            : { targetFileSize: HOT_FILE_SIZE, orderBy: ['order_id'], compression: 'snappy' as const }),
        },
      );
      times.push(performance.now() - t);
      touched.push(res.metrics.numTargetFilesRemoved);
    }
    conn.closeSync();
    const files = (await table.snapshot()).files().length;
    times.sort((a, b) => a - b);
    return {
      layout: bucketed
        ? 'bucket(16, order_id) partitions'
        : 'unpartitioned, by order_id: 16 MiB compacted files, 1 MiB recent files',
      orders: size,
      files,
      loadMs: Math.round(loadMs),
      mergeMsMedian: Math.round(times[Math.floor(times.length / 2)]),
      mergeMs: times.map(Math.round),
      filesRewrittenPerBatch: touched,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// As in the pipeline (PipelineOptions.duckdbThreads).
const setup = await openConnection();
await setup.run('SET threads = 1');
setup.closeSync();
const results = [];
const sizes = args.sizes.split(',').map(Number);
for (const size of sizes) {
  const r = await measure(size, Number(args.batches), false);
  console.log(JSON.stringify(r));
  results.push(r);
}
if (args.bucketed) {
  const r = await measure(sizes[0], Number(args.batches), true);
  console.log(JSON.stringify(r));
  results.push(r);
}
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(
  join(root, 'bench', 'results', 'orders-current-layout.json'),
  `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`,
);
