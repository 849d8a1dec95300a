/**
 * How the PostgreSQL sink should send a batch's rows: three ways of upserting the same
 * rows (text per column, as the sink renders them from DuckDB), compared back to back on
 * a real server and on the embedded PGlite, each in a transaction of its own:
 *
 * - `unnest` (what src/connectors/postgres/sink.ts does): one statement, one text array
 *   per column, `INSERT ... SELECT ... FROM unnest($1::text[], ...) ON CONFLICT (key) DO
 *   UPDATE`; prepared (named) on a real server, unnamed on PGlite as the sink does.
 * - `values`: multi-row `INSERT ... VALUES ($1::type, ...), (...) ON CONFLICT ...`, one
 *   parameter per value, in statements of at most 65,535 parameters (the protocol's
 *   limit), the full-size one prepared.
 * - `copy` (needs the `pg-copy-streams` package, which Tributary does not depend on: give
 *   `--copy-streams DIR` where it is installed, e.g. `npm install pg-copy-streams
 *   --prefix /tmp/copy`): `COPY stage FROM STDIN` (text format) into a temporary staging
 *   table with the target's column types (`ON COMMIT DELETE ROWS`), then `INSERT ...
 *   SELECT ... FROM stage ON CONFLICT ...`.
 *
 * Two row shapes: `narrow` is realtime.events_per_minute (window_start, event_type,
 * event_count, updated_at; key window_start + event_type); `wide` has 12 columns
 * (bigint key, timestamptz, a UUID as text, texts, numeric(12,2), integer, boolean,
 * double, date; ~230 bytes of text per row). Each round upserts N rows of which half
 * update rows of the round before and half are new. Rounds alternate the methods; the
 * figures are the median over `--rounds` (default 5) after one warm-up round, as rows/s,
 * and for a real server on this machine also the CPU-ms of its backend and of this
 * process per 10,000 rows. Every method's table is checked equal to the others' at the end.
 *
 *   node bench/postgres-upsert.ts [--postgres URL] [--no-pglite] [--rows 1000,10000,100000]
 *     [--rounds N] [--copy-streams DIR] [--pglite-copy]
 *
 * COPY is not tried on PGlite unless `--pglite-copy`: through pglite-socket 0.2.17 the
 * server ends the connection ("protocol synchronization was lost") at the first
 * `COPY ... FROM STDIN`.
 *
 * Writes bench/results/postgres-upsert.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { EmbeddedPostgres } from '../src/connectors/postgres/embedded.ts';
import { freshDatabase } from '../test/connectors/postgres/server.ts';
import { processCpuMs } from './proc.ts';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'string' },
    'no-pglite': { type: 'boolean', default: false },
    rows: { type: 'string', default: '1000,10000,100000' },
    rounds: { type: 'string', default: '5' },
    'copy-streams': { type: 'string' },
    'pglite-copy': { type: 'boolean', default: false },
  },
});
const sizes = args.rows.split(',').map(Number);
const rounds = Number(args.rounds);

type CopyFrom = (sql: string) => NodeJS.WritableStream & pg.Submittable;
const copyFrom: CopyFrom | undefined = args['copy-streams']
  ? createRequire(join(args['copy-streams'], 'package.json'))('pg-copy-streams').from
  : undefined;

interface Shape {
  name: string;
  columns: Array<{ name: string; type: string }>;
  key: string[];
  /** Row `i`'s values as text (round `r` changes the non-key values). */
  row(i: number, r: number): string[];
}

const T0 = Date.UTC(2026, 0, 27, 9, 0, 0);
const TYPES = ['login', 'click', 'purchase', 'logout'];
const ts = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 23)}000+00`;

const SHAPES: Shape[] = [
  {
    name: 'narrow',
    columns: [
      { name: 'window_start', type: 'timestamptz' },
      { name: 'event_type', type: 'text' },
      { name: 'event_count', type: 'bigint' },
    ],
    key: ['window_start', 'event_type'],
    row: (i, r) => [ts(T0 + Math.floor(i / 4) * 60_000), TYPES[i % 4], String(i * 7 + r)],
  },
  {
    name: 'wide',
    columns: [
      { name: 'id', type: 'bigint' },
      { name: 'ts', type: 'timestamptz' },
      { name: 'event_id', type: 'text' },
      { name: 'user_id', type: 'bigint' },
      { name: 'page', type: 'text' },
      { name: 'source', type: 'text' },
      { name: 'amount', type: 'numeric(12,2)' },
      { name: 'qty', type: 'integer' },
      { name: 'flag', type: 'boolean' },
      { name: 'note', type: 'text' },
      { name: 'score', type: 'double precision' },
      { name: 'day', type: 'date' },
    ],
    key: ['id'],
    row: (i, r) => {
      const h = ((i * 2654435761) >>> 0).toString(16).padStart(8, '0');
      return [
        String(i),
        ts(T0 + i * 37 + r),
        `${h}-${h.slice(0, 4)}-4${h.slice(1, 4)}-a${h.slice(2, 5)}-${h}${h.slice(0, 4)}`,
        String(1 + (i % 5000)),
        ['/home', '/products', '/cart', '/checkout'][i % 4],
        i % 5 < 3 ? 'web' : 'mobile',
        `${(i % 100000) + r}.${String(i % 100).padStart(2, '0')}`,
        String((i + r) % 10),
        i % 2 === 0 ? 't' : 'f',
        `note "${i}"\tround ${r}: tab, quote and backslash \\ inside`,
        String((i * 1.5 + r) / 7),
        new Date(T0 + i * 86_400_000).toISOString().slice(0, 10),
      ];
    },
  },
];

type Method = 'unnest' | 'values' | 'copy';
const METHODS: Method[] = copyFrom ? ['unnest', 'values', 'copy'] : ['unnest', 'values'];

const q = (s: string) => `"${s}"`;

class Upserter {
  private readonly shape: Shape;
  readonly table: string;
  private readonly named: boolean;
  private readonly cols: string;
  private readonly conflict: string;
  private readonly unnestSql: string;
  private readonly perStatement: number;

  constructor(shape: Shape, table: string, named: boolean) {
    this.shape = shape;
    this.table = table;
    this.named = named;
    const c = shape.columns;
    this.cols = [...c.map((x) => q(x.name)), 'updated_at'].join(', ');
    const keys = new Set(shape.key);
    const updates = [...c.filter((x) => !keys.has(x.name)).map((x) => q(x.name)), 'updated_at']
      .map((n) => `${n} = excluded.${n}`)
      .join(', ');
    this.conflict = `ON CONFLICT (${shape.key.map(q).join(', ')}) DO UPDATE SET ${updates}`;
    this.unnestSql =
      `INSERT INTO ${table} (${this.cols}) SELECT ${c.map((x, i) => `u.c${i}::${x.type}`).join(', ')}, now() ` +
      `FROM unnest(${c.map((_x, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${c.map((_x, i) => `c${i}`).join(', ')}) ${this.conflict}`;
    this.perStatement = Math.floor(65_535 / c.length);
  }

  create(): string {
    return `CREATE TABLE ${this.table} (${this.shape.columns.map((c) => `${q(c.name)} ${c.type} NOT NULL`).join(', ')}, updated_at timestamptz, PRIMARY KEY (${this.shape.key.map(q).join(', ')}))`;
  }

  private valuesSql(rows: number): string {
    const n = this.shape.columns.length;
    const tuples: string[] = [];
    for (let r = 0; r < rows; r++) {
      tuples.push(`(${this.shape.columns.map((c, i) => `$${r * n + i + 1}::${c.type}`).join(', ')}, now())`);
    }
    return `INSERT INTO ${this.table} (${this.cols}) VALUES ${tuples.join(', ')} ${this.conflict}`;
  }

  async upsert(client: pg.Client, method: Method, columns: string[][]): Promise<void> {
    const rows = columns[0].length;
    const name = (what: string) => (this.named ? `${what}_${this.table.replace(/\W/g, '_')}` : undefined);
    await client.query('BEGIN');
    if (method === 'unnest') {
      await client.query({ name: name('unnest'), text: this.unnestSql, values: columns });
    } else if (method === 'values') {
      const full = this.valuesSql(this.perStatement);
      for (let from = 0; from < rows; from += this.perStatement) {
        const n = Math.min(this.perStatement, rows - from);
        const values: string[] = [];
        for (let r = from; r < from + n; r++) for (const col of columns) values.push(col[r]);
        const text = n === this.perStatement ? full : this.valuesSql(n);
        await client.query({ name: n === this.perStatement ? name('values') : undefined, text, values });
      }
    } else {
      const stage = `stage_${this.table.replace(/\W/g, '_')}`;
      await client.query(
        `CREATE TEMP TABLE IF NOT EXISTS ${stage} (${this.shape.columns.map((c) => `${q(c.name)} ${c.type}`).join(', ')}) ON COMMIT DELETE ROWS`,
      );
      const lines: string[] = new Array(rows);
      for (let r = 0; r < rows; r++) lines[r] = columns.map((col) => copyText(col[r])).join('\t');
      const stream = client.query(copyFrom!(`COPY ${stage} FROM STDIN`));
      await pipeline(
        (async function* () {
          // In pieces of ~1 MB.
          for (let i = 0; i < lines.length; i += 4096) yield `${lines.slice(i, i + 4096).join('\n')}\n`;
        })(),
        stream,
      );
      await client.query(
        `INSERT INTO ${this.table} (${this.cols}) SELECT ${this.shape.columns.map((c) => q(c.name)).join(', ')}, now() FROM ${stage} ${this.conflict}`,
      );
    }
    await client.query('COMMIT');
  }
}

/** A value in COPY's text format (no NULLs here). */
function copyText(v: string): string {
  return /[\\\t\n\r]/.test(v)
    ? v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : v;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function runTarget(label: string, url: string, named: boolean, local: boolean, METHODS: Method[]) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const out: Record<string, unknown> = {};
  try {
    for (const shape of SHAPES) {
      for (const n of sizes) {
        const ups = new Map(
          METHODS.map((m) => [m, new Upserter(shape, `bench_${shape.name}_${n}_${m}`, named)] as const),
        );
        for (const u of ups.values()) await client.query(u.create());
        const wall = new Map<Method, number[]>(METHODS.map((m) => [m, []]));
        const serverCpu = new Map<Method, number[]>(METHODS.map((m) => [m, []]));
        const clientCpu = new Map<Method, number[]>(METHODS.map((m) => [m, []]));
        for (let r = 0; r <= rounds; r++) {
          // Half the keys of the round before, half new.
          const first = (r * n) / 2;
          const columns = shape.columns.map(() => new Array<string>(n));
          for (let i = 0; i < n; i++) {
            const row = shape.row(first + i, r);
            for (let c = 0; c < row.length; c++) columns[c][i] = row[c];
          }
          // Alternate which method goes first.
          const order = METHODS.map((_m, i) => METHODS[(i + r) % METHODS.length]);
          for (const m of order) {
            const s0 = local ? processCpuMs(pid) : undefined;
            const c0 = process.cpuUsage();
            const t0 = performance.now();
            await ups.get(m)!.upsert(client, m, columns);
            const ms = performance.now() - t0;
            const c = process.cpuUsage(c0);
            const s1 = local ? processCpuMs(pid) : undefined;
            if (r === 0) continue;
            wall.get(m)!.push(ms);
            clientCpu.get(m)!.push((c.user + c.system) / 1000);
            if (s0 !== undefined && s1 !== undefined) serverCpu.get(m)!.push(s1 - s0);
          }
        }
        // The same rows everywhere.
        const sums = new Set<string>();
        for (const u of ups.keys()) {
          const t = `bench_${shape.name}_${n}_${u}`;
          const cols = shape.columns.map((c) => `t.${q(c.name)}`).join(', ');
          const { rows } = await client.query<{ n: string; h: string }>(
            `SELECT count(*) AS n, sum(hashtext(ROW(${cols})::text)::bigint) AS h FROM ${t} t`,
          );
          sums.add(`${rows[0].n}/${rows[0].h}`);
        }
        if (sums.size !== 1)
          throw new Error(`${label} ${shape.name} ${n}: the methods' tables differ: ${[...sums]}`);
        for (const u of ups.values()) await client.query(`DROP TABLE ${u.table}`);
        const row: Record<string, unknown> = {};
        const line: string[] = [];
        for (const m of METHODS) {
          const ms = median(wall.get(m)!);
          const per10k = (xs: number[]) => Math.round((median(xs) / n) * 10_000 * 10) / 10;
          row[m] = {
            medianMs: Math.round(ms * 10) / 10,
            minMs: Math.round(Math.min(...wall.get(m)!) * 10) / 10,
            maxMs: Math.round(Math.max(...wall.get(m)!) * 10) / 10,
            rowsPerSec: Math.round(n / (ms / 1000)),
            clientCpuMsPer10k: per10k(clientCpu.get(m)!),
            ...(serverCpu.get(m)!.length > 0 && { serverCpuMsPer10k: per10k(serverCpu.get(m)!) }),
          };
          line.push(
            `${m} ${Math.round(n / (ms / 1000)).toLocaleString('en')} rows/s (${(Math.round(ms * 10) / 10).toLocaleString('en')} ms)`,
          );
        }
        out[`${shape.name}-${n}`] = row;
        console.log(`${label} ${shape.name.padEnd(6)} ${String(n).padStart(6)} rows: ${line.join(', ')}`);
      }
    }
  } finally {
    await client.end();
  }
  return out;
}

const load0 = loadavg().map((x) => Math.round(x * 100) / 100);
const result: Record<string, unknown> = {
  date: new Date().toISOString(),
  node: process.version,
  rounds,
  methods: METHODS,
  loadAverageAtStart: load0,
};
const url = args.postgres;
if (url) {
  const db = await freshDatabase('bench_upsert', { url });
  try {
    result.postgres = await runTarget(
      'postgres',
      db.url,
      true,
      ['127.0.0.1', 'localhost'].includes(new URL(url).hostname),
      METHODS,
    );
  } finally {
    await db.drop();
  }
}
if (!args['no-pglite']) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-upsert-'));
  const embedded = await EmbeddedPostgres.start({ dir: join(dir, 'postgres'), port: 0 });
  try {
    result.pglite = await runTarget(
      'pglite  ',
      embedded.url,
      false,
      false,
      args['pglite-copy'] ? METHODS : METHODS.filter((m) => m !== 'copy'),
    );
  } finally {
    await embedded.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
result.loadAverageAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
console.log(
  `load average (1/5/15 min): ${load0.join(' ')} at start, ${(result.loadAverageAtEnd as number[]).join(' ')} at end`,
);
const outDir = join(import.meta.dirname, 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'postgres-upsert.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${join(outDir, 'postgres-upsert.json')}`);
