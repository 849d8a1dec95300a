/**
 * What explaining a batch's rejected order events costs: the contract's precise check
 * (one ~18,700-character CASE) over `--records` rejected records, run `--batches` times
 * as a fresh query per batch (how the runtime ran it before) and through the prepared
 * statement the runtime now uses (src/stream/explain.ts). Both name the same rules; the
 * bench checks that too.
 *
 *   node bench/orders-explain.ts [--records N] [--batches N]
 *
 * Prints the figures and writes bench/results/orders-explain.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { explainViolations } from '../src/connectors/json/explain.ts';
import { quoteString } from '../src/core/sql.ts';
import { compileContract } from '../src/quality/contract.ts';
import { ordersContract } from '../src/scenarios/orders/contract.ts';
import { SAMPLE_ORDER_EVENT } from '../src/scenarios/orders/sample.ts';
import { openConnection } from '../src/table/index.ts';

const { values: args } = parseArgs({
  options: { records: { type: 'string', default: '20' }, batches: { type: 'string', default: '30' } },
});
const n = Number(args.records);
const batches = Number(args.batches);
const contract = compileContract(ordersContract);
const good = SAMPLE_ORDER_EVENT;
const breaks = [{ currency: 'XXX' }, { event_timestamp: 1.5 }, { total_amount: -3 }, { order_id: null }];
const records = Array.from({ length: n }, (_, i) => ({
  partition: i % 4,
  offset: i,
  value: Buffer.from(JSON.stringify({ ...good, ...breaks[i % breaks.length] })),
}));

const dir = mkdtempSync(join(tmpdir(), 'bench-orders-explain-'));
const conn = await openConnection();
try {
  const file = join(dir, 'rejects.ndjson');
  writeFileSync(file, records.map((r) => `{"o":${r.offset},"p":${r.partition},"v":${r.value}}\n`).join(''));
  const adhoc = async () =>
    (
      await conn.runAndReadAll(
        `SELECT p, o, ${contract.violation} AS why FROM read_json(${quoteString(file)}, format='newline_delimited', columns={'o': 'BIGINT', 'p': 'INTEGER', 'v': ${quoteString(contract.preciseType)}}, ignore_errors=true) WHERE o IS NOT NULL`,
      )
    ).getRowObjectsJson().length;
  const prepared = async () => (await explainViolations(conn, records, contract)).size;
  const measure = async (run: () => Promise<number>) => {
    if ((await run()) !== n) throw new Error(`expected ${n} explained records`);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < batches; i++) await run();
    const cpu = process.cpuUsage(cpu0);
    return {
      wallMsPerBatch: Math.round(((performance.now() - t0) / batches) * 10) / 10,
      cpuMsPerBatch: Math.round(((cpu.user + cpu.system) / 1000 / batches) * 10) / 10,
    };
  };
  const result = { records: n, batches, adhoc: await measure(adhoc), prepared: await measure(prepared) };
  console.log(JSON.stringify(result));
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(root, 'bench', 'results', 'orders-explain.json'),
    `${JSON.stringify(result, null, 2)}\n`,
  );
} finally {
  conn.closeSync();
  rmSync(dir, { recursive: true, force: true });
}
