/**
 * A table sink's dedup (src/stream/dedup.ts) when late records are older than its
 * horizon: the cost per batch of looking their ids up in the table, by how many files
 * the table has in their time range. The shape of the sales system's silver at 10,000
 * events/s (pipelines/saas.yaml: horizon 10 minutes, the generator's late records up to
 * 15 minutes behind): `--files` files (default 100,900,2700: 10 s, 5 min and 15 min of
 * batches at 3 a second) of `--rows` rows (default 3,000) each, each file's event times
 * those of one batch: 98 % within 2 s of its time, 2 % from 30 s to 15 minutes behind
 * (so every file's event-time range spans the late records' range and none is skipped
 * by its statistics). A batch of 3,000 records, 20 of them older than the horizon (10
 * of those copies of rows in the table), goes through `DedupState.filter` `--rounds`
 * times (default 5); median time and CPU (this process: DuckDB's threads included).
 *
 * `--horizon S` (default 600, the definition's) sets the dedup's horizon: with 960 (the
 * late records' 15 minutes and a minute), no lookup happens and the state holds every id
 * of the last 16 minutes instead.
 *
 *   node bench/sink-dedup-lookup.ts [--files N,N,...] [--rows N] [--rounds N] [--horizon S]
 *
 * Writes bench/results/sink-dedup-lookup.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalStore } from '../src/storage/local.ts';
import { DedupState } from '../src/stream/dedup.ts';
import { append, openConnection } from '../src/table/index.ts';
import { DeltaTable } from '../src/table/table.ts';

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '100,900,2700' },
    rows: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '5' },
    horizon: { type: 'string', default: '600' },
  },
});
const counts = args.files.split(',').map(Number);
const rows = Number(args.rows);
const rounds = Number(args.rounds);
const T0 = Date.UTC(2026, 4, 4, 9) / 1000;
const BATCH_S = 1 / 3;

/** A batch's rows at second `t` (fractional): ids `prefix-i`, 2 % late. */
const batchSql = (prefix: string, t: number, n: number) => `
  SELECT '${prefix}-' || i AS event_id,
    to_timestamp(CASE WHEN hash(i, '${prefix}') % 50 = 0
      THEN ${t} - 30 - (hash(i, 'late', '${prefix}') % 870)
      ELSE ${t} - (hash(i, 'd', '${prefix}') % 2000) / 1000.0 END) AS event_time
  FROM range(${n}) r(i)`;

const dir = mkdtempSync(join(tmpdir(), 'bench-dedup-lookup-'));
const results: Array<Record<string, number>> = [];
const conn = await openConnection();
try {
  let written = 0;
  let t = T0;
  let store: DeltaTable | undefined;
  for (const target of counts) {
    const location = join(dir, 'silver');
    for (; written < target; written++) {
      t = T0 + written * BATCH_S;
      if (!store) {
        store = await DeltaTable.open(new LocalStore(location), {
          createIfMissing: {
            schema: {
              type: 'struct',
              fields: [
                { name: 'event_id', type: 'string', nullable: true, metadata: {} },
                { name: 'event_time', type: 'timestamp', nullable: true, metadata: {} },
              ],
            },
          },
        });
      }
      await append(store, { sql: batchSql(`f${written}`, t, rows), conn });
    }
    const snapshot = await store!.snapshot();
    const now = t + BATCH_S;
    // The batch: on time, plus 20 older than the horizon (10 of them copies of table rows).
    await conn.run(`CREATE OR REPLACE TEMP TABLE batch AS
      SELECT 0 AS _p, i AS _o, 'new-' || i AS event_id, to_timestamp(${now} - (i % 2000) / 1000.0) AS event_time FROM range(${rows - 20}) r(i)`);
    const late = await conn.runAndReadAll(
      `SELECT event_id, epoch(event_time) FROM (${batchSql(`f${Math.max(0, written - 2000)}`, T0 + Math.max(0, written - 2000) * BATCH_S, rows)}) WHERE epoch(event_time) < ${now - 660} LIMIT 10`,
    );
    let o = rows;
    for (const [id, ts] of late.getRows()) {
      await conn.run(`INSERT INTO batch VALUES (0, ${o++}, '${id}', to_timestamp(${Number(ts)}))`);
    }
    while (o < rows + 20) {
      await conn.run(
        `INSERT INTO batch VALUES (0, ${o}, 'old-new-${o}', to_timestamp(${now - 700 - (o % 100)}))`,
      );
      o++;
    }
    const times: Array<[number, number, number]> = [];
    for (let r = 0; r < rounds; r++) {
      const state = new DedupState(
        {
          key: 'event_id',
          batchTime: 'epoch(event_time)::BIGINT',
          tableTime: 'event_time',
          horizonSeconds: Number(args.horizon),
        },
        'bench',
      );
      await state.load(conn, store!, snapshot);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const dropped = await state.filter(conn, store!, snapshot, 'batch', 'kept');
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(c0);
      times.push([ms, (cpu.user + cpu.system) / 1000, dropped]);
    }
    times.sort((a, b) => a[0] - b[0]);
    const [ms, cpuMs, dropped] = times[Math.floor(times.length / 2)];
    const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20);
    const res = {
      files: target,
      tableRows: target * rows,
      filterMs: Math.round(ms),
      filterCpuMs: Math.round(cpuMs),
      dropped,
      rssMb,
    };
    results.push(res);
    console.log(
      `${target} files (${(target * rows).toLocaleString('en')} rows): a batch's dedup ${res.filterMs} ms, ${res.filterCpuMs} CPU-ms (median of ${rounds}); ${dropped} copies found; RSS ${rssMb} MiB`,
    );
  }
} finally {
  conn.closeSync();
  rmSync(dir, { recursive: true, force: true });
}
const out = join(import.meta.dirname, 'results');
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, `sink-dedup-lookup${args.horizon === '600' ? '' : `-h${args.horizon}`}.json`),
  `${JSON.stringify({ date: new Date().toISOString(), rows, rounds, horizonS: Number(args.horizon), loadavg: loadavg(), results }, null, 2)}\n`,
);
