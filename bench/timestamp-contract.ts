/**
 * What the contract type `timestamp` costs in decoding (src/quality/timestamp.ts):
 * `--records` clickstream events of seed 002's schema (event_id, user_id, event_type,
 * page, timestamp as ISO-8601 text with milliseconds, source) decoded as one batch by the
 * runtime's decode step, with the `timestamp` field declared `string` (read as text, no
 * check) and `timestamp` (shape by regular expression, calendar by cast, TIMESTAMPTZ),
 * alternately, `--rounds` times each; medians. With DuckDB at 1 thread (the pipelines'
 * default) and at 2.
 *
 * Then the parts of the rule alone, over a table of the same strings: the regular
 * expression, the cast (with the offset made explicit) and both, as the rule runs them.
 *
 *   node bench/timestamp-contract.ts [--records N] [--rounds N]
 *
 * Prints the figures and writes bench/results/timestamp-contract.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { DuckDBConnection } from '@duckdb/node-api';
import { decodeBatch } from '../src/connectors/json/decode.ts';
import type { ValueBatch } from '../src/log/log.ts';
import { compileContract, type DataContract, type FieldType } from '../src/quality/contract.ts';
import { timestampShapeSql, timestampSql } from '../src/quality/timestamp.ts';
import { openConnection } from '../src/table/index.ts';

const { values: args } = parseArgs({
  options: { records: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '7' } },
});
const n = Number(args.records);
const rounds = Number(args.rounds);

const contract = (type: FieldType): DataContract => ({
  name: 'user-events',
  fields: [
    { name: 'event_id', type: 'string' },
    { name: 'user_id', type: 'string' },
    { name: 'event_type', type: 'string', enum: ['click', 'login', 'logout', 'purchase'] },
    { name: 'page', type: 'string' },
    { name: 'timestamp', type },
    { name: 'source', type: 'string', enum: ['web', 'mobile'] },
  ],
});

const TYPES = ['click', 'click', 'click', 'login', 'logout', 'purchase'];
const PAGES = ['/home', '/products', '/cart', '/checkout', '/profile'];
const t0 = Date.UTC(2026, 10, 30, 4);
const parts: Buffer[] = [];
const ends = new Uint32Array(n);
let pos = 0;
for (let i = 0; i < n; i++) {
  const e = {
    event_id: `${(i * 2654435761).toString(16).padStart(8, '0')}-4e1c-4b7a-9c2d-${i.toString(16).padStart(12, '0')}`,
    user_id: `user_${(i * 7919) % 110}`,
    event_type: TYPES[i % TYPES.length],
    page: PAGES[(i * 31) % PAGES.length],
    timestamp: new Date(t0 + i * 25).toISOString(),
    source: i % 3 === 0 ? 'mobile' : 'web',
  };
  const b = Buffer.from(JSON.stringify(e));
  parts.push(b, Buffer.from('\n'));
  pos += b.length;
  ends[i] = pos;
  pos += 1;
}
const batch: ValueBatch = {
  topic: 'user-events',
  partition: 0,
  count: n,
  values: Buffer.concat(parts),
  offsets: Float64Array.from({ length: n }, (_, i) => i),
  timestamps: Float64Array.from({ length: n }, () => t0),
  ends,
  nextOffset: n,
  highWatermark: n,
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(fn: () => Promise<void>): Promise<{ ms: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  await fn();
  const cpu = process.cpuUsage(cpu0);
  return { ms: performance.now() - w0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function decodeRounds(conn: DuckDBConnection) {
  const compiled = {
    string: compileContract(contract('string')),
    timestamp: compileContract(contract('timestamp')),
  };
  const runs = {
    string: [] as Array<{ ms: number; cpuMs: number }>,
    timestamp: [] as Array<{ ms: number; cpuMs: number }>,
  };
  for (let r = 0; r < rounds + 1; r++) {
    for (const kind of ['string', 'timestamp'] as const) {
      const run = await timed(async () => {
        const d = await decodeBatch(conn, [batch], compiled[kind]);
        if (d.valid !== n)
          throw new Error(`${n - d.valid} events rejected as ${kind}: ${d.rejected[0]?.message}`);
      });
      if (r > 0) runs[kind].push(run); // the first round warms up
    }
  }
  const summary = (kind: 'string' | 'timestamp') => ({
    medianMs: Math.round(median(runs[kind].map((x) => x.ms))),
    medianCpuMs: Math.round(median(runs[kind].map((x) => x.cpuMs))),
  });
  const s = summary('string');
  const t = summary('timestamp');
  return {
    asString: s,
    asTimestamp: t,
    extraNsPerRecord: Math.round(((t.medianMs - s.medianMs) * 1e6) / n),
    extraCpuNsPerRecord: Math.round(((t.medianCpuMs - s.medianCpuMs) * 1e6) / n),
  };
}

async function partRounds(conn: DuckDBConnection) {
  await conn.run(`CREATE OR REPLACE TEMP TABLE __ts (s VARCHAR)`);
  const strings = Array.from({ length: n }, (_, i) => `('${new Date(t0 + i * 25).toISOString()}')`);
  for (let i = 0; i < n; i += 50_000)
    await conn.run(`INSERT INTO __ts VALUES ${strings.slice(i, i + 50_000).join(',')}`);
  const variants: Record<string, string> = {
    read: 'count(s)',
    regex: `count(*) FILTER (WHERE ${timestampShapeSql('s')})`,
    cast: `count(TRY_CAST(CASE WHEN right(s, 1) = 'Z' OR substr(s, -6, 1) IN ('+', '-') THEN s ELSE s || 'Z' END AS TIMESTAMPTZ))`,
    rule: `count(${timestampSql('s')})`,
  };
  const ms: Record<string, number[]> = {};
  for (let r = 0; r < rounds + 1; r++) {
    for (const [k, sql] of Object.entries(variants)) {
      const run = await timed(async () => {
        const got = Number((await conn.runAndReadAll(`SELECT ${sql} FROM __ts`)).getRows()[0][0]);
        if (got !== n) throw new Error(`${k}: ${got} of ${n}`);
      });
      if (r === 0) continue;
      ms[k] = [...(ms[k] ?? []), run.ms];
    }
  }
  return Object.fromEntries(
    Object.entries(ms).map(([k, xs]) => [
      k,
      { medianMs: Number(median(xs).toFixed(1)), nsPerRecord: Math.round((median(xs) * 1e6) / n) },
    ]),
  );
}

const conn = await openConnection();
const result: Record<string, unknown> = { records: n, rounds, loadavg: loadavg() };
for (const threads of [1, 2]) {
  await conn.run(`SET threads = ${threads}`);
  const decode = await decodeRounds(conn);
  const rule = await partRounds(conn);
  result[`threads${threads}`] = { decode, rule };
  console.log(
    `DuckDB ${threads} thread(s): decoding ${n.toLocaleString('en')} events, timestamp as string ${decode.asString.medianMs} ms (CPU ${decode.asString.medianCpuMs} ms), as timestamp ${decode.asTimestamp.medianMs} ms (CPU ${decode.asTimestamp.medianCpuMs} ms): +${decode.extraNsPerRecord} ns per record wall, +${decode.extraCpuNsPerRecord} ns CPU`,
  );
  console.log(
    `  the rule alone over ${n.toLocaleString('en')} strings: ${Object.entries(rule)
      .map(([k, v]) => `${k} ${v.medianMs} ms (${v.nsPerRecord} ns/record)`)
      .join(', ')}`,
  );
}
conn.closeSync();
const out = join(dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'timestamp-contract.json'), `${JSON.stringify(result, null, 2)}\n`);
