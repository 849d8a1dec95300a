/**
 * Plain-JavaScript truth for the window operator's tests: seeded input rows, and the same
 * windows computed row by row from them (no SQL), batch by batch, with the watermark and
 * lateness rules of src/stream/window/index.ts.
 */
import type { DuckDBConnection } from '@duckdb/node-api';

export interface Row {
  p: number;
  o: number;
  /** Event time, ms since the epoch; null for a row without one. */
  t: number | null;
  k: number | null;
  u: string | null;
  amount: number | null;
  /** DECIMAL(10,2) as integer cents. */
  cents: number | null;
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const T0 = Date.UTC(2026, 0, 27, 10, 0, 0);

/**
 * `n` rows whose event times advance by `stepMs` on average with disorder below
 * `disorderMs` (every row's time ≥ the newest earlier time − disorderMs), plus, when
 * `lateEvery` is set, every lateEvery-th row far behind (3 × lateMs older than the row
 * before it), and every 97th row without an event time when `nullTimes`.
 */
export function generate(
  seed: number,
  n: number,
  opts: { stepMs: number; disorderMs: number; lateEvery?: number; lateMs?: number; nullTimes?: boolean },
): Row[] {
  const r = rng(seed);
  const rows: Row[] = [];
  for (let i = 0; i < n; i++) {
    let t: number | null = T0 + i * opts.stepMs + Math.floor((r() - 0.5) * opts.disorderMs);
    if (opts.lateEvery && i > 0 && i % opts.lateEvery === 0)
      t = T0 + i * opts.stepMs - 3 * (opts.lateMs ?? 0);
    if (opts.nullTimes && i % 97 === 50) t = null;
    rows.push({
      p: i % 3,
      o: Math.floor(i / 3),
      t,
      k: r() < 0.05 ? null : Math.floor(r() * 5),
      u: r() < 0.05 ? null : `user-${Math.floor(r() * 40)}`,
      amount: r() < 0.1 ? null : Math.floor(r() * 100) - 10,
      cents: r() < 0.1 ? null : Math.floor(r() * 100000),
    });
  }
  return rows;
}

/** Non-negative cents as decimal text. */
const money = (cents: number) => `${Math.trunc(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;

/** Loads rows into temp table `name` (with a `seq` column for cutting batches). */
export async function load(conn: DuckDBConnection, name: string, rows: Row[]): Promise<void> {
  const lit = (v: number | string | null) =>
    v === null ? 'NULL' : typeof v === 'string' ? `'${v}'` : String(v);
  const values = rows.map(
    (x, i) =>
      `(${i}, ${x.p}, ${x.o}, ${x.t === null ? 'NULL' : `make_timestamptz(${x.t * 1000})`}, ${lit(x.k)}, ${lit(x.u)}, ${lit(x.amount)}, ${x.cents === null ? 'NULL' : `${money(x.cents)}::DECIMAL(10,2)`})`,
  );
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE ${name} (seq BIGINT, _p INTEGER, _o BIGINT, ts TIMESTAMPTZ, k INTEGER, u VARCHAR, amount INTEGER, price DECIMAL(10,2))`,
  );
  for (let i = 0; i < values.length; i += 1000) {
    await conn.run(`INSERT INTO ${name} VALUES ${values.slice(i, i + 1000).join(', ')}`);
  }
}

/** The aggregates every oracle test uses, as SQL. */
export const AGGREGATES: Record<string, string> = {
  n: 'count(*)',
  na: 'count(amount)',
  s: 'sum(amount)',
  mn: 'min(amount)',
  mx: 'max(amount)',
  a: 'avg(amount)',
  du: 'count(DISTINCT u)',
  sp: 'sum(price)',
  big: 'sum(CASE WHEN amount > 50 THEN 1 ELSE 0 END)',
};

/** SQL reading an emitted table in the shape `expected` produces. */
export const READ_EMITTED = (table: string) =>
  `SELECT epoch_ms(window_start) AS ws, epoch_ms(window_end) AS we, k, n, na, s, mn, mx, a, du, sp, big FROM ${table}`;

interface Acc {
  ws: number;
  k: number | null;
  n: number;
  na: number;
  s: number | null;
  mn: number | null;
  mx: number | null;
  users: Set<string>;
  cents: number | null;
  big: number;
}

/** One emitted row as the test reads it (getRowObjectsJson of READ_EMITTED). */
export function outputRow(a: Acc, sizeMs: number): string {
  return JSON.stringify({
    ws: String(a.ws),
    we: String(a.ws + sizeMs),
    k: a.k,
    n: String(a.n),
    na: String(a.na),
    s: a.s === null ? null : String(a.s),
    mn: a.mn,
    mx: a.mx,
    a: a.s === null ? null : a.s / a.na,
    du: String(a.users.size),
    sp: a.cents === null ? null : money(a.cents),
    big: String(a.big),
  });
}

export interface WindowShape {
  sizeMs: number;
  slideMs: number;
  delayMs: number;
  emit: 'final' | 'update';
}

export interface BatchTruth {
  emitted: string[];
  late: string[];
  watermarkMs: number | null;
}

/** Cuts `rows` at `cuts` (batch start indices after 0) and computes each batch's outputs. */
export function expected(rows: Row[], cuts: number[], w: WindowShape): BatchTruth[] {
  const bounds = [0, ...cuts, rows.length];
  const open = new Map<string, Acc>();
  let wm: number | null = null;
  const out: BatchTruth[] = [];
  for (let b = 0; b + 1 < bounds.length; b++) {
    const batch = rows.slice(bounds[b], bounds[b + 1]);
    const wm0 = wm;
    const late: string[] = [];
    const touched = new Set<string>();
    let maxT: number | null = null;
    for (const r of batch) {
      if (r.t === null || (wm0 !== null && r.t < wm0)) {
        late.push(`${r.p}/${r.o}`);
        continue;
      }
      maxT = maxT === null ? r.t : Math.max(maxT, r.t);
      const pane = Math.floor(r.t / w.slideMs) * w.slideMs;
      for (let ws = pane; ws > r.t - w.sizeMs; ws -= w.slideMs) {
        const key = `${ws}|${r.k}`;
        let a = open.get(key);
        if (a === undefined) {
          a = { ws, k: r.k, n: 0, na: 0, s: null, mn: null, mx: null, users: new Set(), cents: null, big: 0 };
          open.set(key, a);
        }
        a.n++;
        if (r.amount !== null) {
          a.na++;
          a.s = (a.s ?? 0) + r.amount;
          a.mn = a.mn === null ? r.amount : Math.min(a.mn, r.amount);
          a.mx = a.mx === null ? r.amount : Math.max(a.mx, r.amount);
          if (r.amount > 50) a.big++;
        }
        if (r.u !== null) a.users.add(r.u);
        if (r.cents !== null) a.cents = (a.cents ?? 0) + r.cents;
        touched.add(key);
      }
    }
    if (maxT !== null) wm = wm === null ? maxT - w.delayMs : Math.max(wm, maxT - w.delayMs);
    const emitted: string[] = [];
    for (const [key, a] of open) {
      const closed = wm !== null && a.ws + w.sizeMs <= wm;
      if (w.emit === 'final' ? closed : touched.has(key)) emitted.push(outputRow(a, w.sizeMs));
      if (closed) open.delete(key);
    }
    out.push({ emitted: emitted.sort(), late: late.sort(), watermarkMs: wm });
  }
  return out;
}

/** Batch cut points: sizes drawn between 1 and `max`. */
export function randomCuts(seed: number, n: number, max: number): number[] {
  const r = rng(seed);
  const cuts: number[] = [];
  for (let i = 1 + Math.floor(r() * max); i < n; i += 1 + Math.floor(r() * max)) cuts.push(i);
  return cuts;
}
