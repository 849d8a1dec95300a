/**
 * The sink contract suite's driver and data (the requirements are in sink-contract.ts):
 * a deterministic log of typed records with rejected offsets, batches over it, a
 * `Driver` that feeds a sink BatchViews as the runtime does, and what a restarted
 * process reads back (`durable`).
 */

import assert from 'node:assert/strict';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { BatchView, ExtraTxn, Progress, Sink, SinkResult } from '../../src/stream/types.ts';
import { openConnection } from '../../src/table/index.ts';
import { rng } from './window-oracle.ts';

export type Row = Record<string, unknown>;

/** A valid record of a batch, as a decoder gives it. */
export interface ContractRecord {
  _p: number;
  _o: number;
  /** Record timestamp, ms. */
  _t: number;
  /** Not unique: a few records repeat an earlier id (a producer's retry). */
  id: string;
  /** A small key (a few values): rows of one key meet in one batch and across batches. */
  k: number;
  /** DECIMAL(10,2), as text with two decimals. */
  amount: string;
  /** Event time, ms (whole seconds, increasing with the order records were produced). */
  ts: number;
  note: string | null;
}

/** Failures of the storage, however the sink's storage is reached. */
export type StorageFault =
  /** A call fails before it reaches the storage. */
  | 'error-before'
  /** A call takes effect, then fails (the answer is lost). */
  | 'error-after'
  /** A call times out; what it writes takes effect later. */
  | 'hang'
  /** All of these (and whatever else the storage does). */
  | 'mixed';

export interface FaultSwitch {
  /** From now on, calls to the storage fail as the factory was told. */
  on(): void;
  /** No more failures; held writes take effect now. */
  off(): Promise<void>;
  /** Failures injected so far. */
  fired(): number;
}

/** A sink over fresh storage, and ways to read back what that storage durably holds. */
export interface SinkHarness {
  /** The sink under test. */
  readonly sink: Sink;
  /** A new sink over the same storage, without faults: what a restarted process opens. */
  fresh(): Promise<Sink>;
  /** The rows the storage durably holds, as plain objects (compared as a multiset). */
  rows(): Promise<Row[]>;
  /** The version of a marker committed through `extraTxn` (undefined: none). */
  marker(appId: string): Promise<number | undefined>;
  /** Present when the factory was asked for faults. */
  faults?: FaultSwitch;
  /** Time passes before each batch (e.g. a manual clock moves), for sinks that commit on a schedule. */
  tick?(): void;
  /** Closes what the harness opened and removes the storage. */
  dispose(): Promise<void>;
}

export interface SinkFactory {
  /** A sink over fresh, empty storage; with `faults`, that storage fails as told once `faults.on()`. */
  open(opts?: { faults?: { kind: StorageFault; seed: number } }): Promise<SinkHarness>;
  /** The rows a sink holds after being given `records` once each, in this order (its select, dedup, upsert). */
  expected(records: readonly ContractRecord[]): Row[];
}

export interface Batch {
  /** Per partition, the last offset fetched (some trailing records may be rejected). */
  lastOffsets: Map<number, number>;
  /** The valid records, by partition and offset. */
  records: ContractRecord[];
}

export const PARTITIONS = 3;
const BASE_MS = Date.UTC(2026, 0, 27, 10, 0, 0);

/**
 * A log of `perPartition` records in each partition; every 7th offset (and a few more)
 * is a rejected record, absent from the valid ones. Records are produced round-robin
 * over the partitions, one second apart.
 */
export function makeLog(seed: number, perPartition: number): ContractRecord[][] {
  const rand = rng(seed);
  const out: ContractRecord[][] = Array.from({ length: PARTITIONS }, () => []);
  const ids: string[] = [];
  for (let o = 0; o < perPartition; o++) {
    for (let p = 0; p < PARTITIONS; p++) {
      const n = o * PARTITIONS + p;
      if (o % 7 === 6 || rand() < 0.05) continue;
      const id = ids.length > 0 && rand() < 0.15 ? ids[Math.floor(rand() * ids.length)] : `e${p}-${o}`;
      ids.push(id);
      out[p].push({
        _p: p,
        _o: o,
        _t: BASE_MS + n * 1000 + 250,
        id,
        k: Math.floor(rand() * 7),
        amount: (Math.floor(rand() * 100_000) / 100).toFixed(2),
        ts: BASE_MS + n * 1000,
        note: rand() < 0.2 ? null : `n${Math.floor(rand() * 1000)}`,
      });
    }
  }
  return out;
}

/** The batch of offsets `from[p]..to[p]` of each partition named in `to`. */
export function slice(
  log: ContractRecord[][],
  from: Record<number, number>,
  to: Record<number, number>,
): Batch {
  const lastOffsets = new Map<number, number>();
  const records: ContractRecord[] = [];
  for (const [ps, last] of Object.entries(to)) {
    const p = Number(ps);
    lastOffsets.set(p, last);
    records.push(...log[p].filter((r) => r._o >= (from[p] ?? 0) && r._o <= last));
  }
  records.sort((a, b) => a._p - b._p || a._o - b._o);
  return { lastOffsets, records };
}

/** Consecutive batches over all partitions, `size` offsets each. */
export function batches(log: ContractRecord[][], count: number, size: number): Batch[] {
  const out: Batch[] = [];
  for (let i = 0; i < count; i++) {
    const from: Record<number, number> = {};
    const to: Record<number, number> = {};
    for (let p = 0; p < PARTITIONS; p++) {
      from[p] = i * size;
      to[p] = i * size + size - 1;
    }
    out.push(slice(log, from, to));
  }
  return out;
}

/** The records a sink holds once given `given` in order, with `progress` committed: each once. */
export function committed(given: readonly Batch[], progress: Progress): ContractRecord[] {
  const seen = new Set<string>();
  const out: ContractRecord[] = [];
  for (const b of given) {
    for (const r of b.records) {
      const key = `${r._p}/${r._o}`;
      if (seen.has(key) || r._o > (progress.get(r._p) ?? -1)) continue;
      seen.add(key);
      out.push(r);
    }
  }
  return out;
}

const sortRows = (rows: readonly Row[]) =>
  rows
    .map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)))))
    .sort();

export function assertRows(actual: readonly Row[], expected: readonly Row[], message: string): void {
  assert.deepEqual(sortRows(actual), sortRows(expected), message);
}

const progressOf = (m: ReadonlyMap<number, number>) => Object.fromEntries([...m].sort(([a], [b]) => a - b));

export const markerId = (p: number) => `contract/marker/${p}`;

/** extraTxn of a batch: one marker per partition, at the batch's last offset. */
export function markers(batch: Batch): ExtraTxn {
  return async () => [...batch.lastOffsets].map(([p, o]) => ({ appId: markerId(p), version: o }));
}

let tableSeq = 0;

/** Drives one sink as the runtime does: batch views on one connection, two slots of shared tables. */
export class Driver {
  readonly conn: DuckDBConnection;
  readonly h: SinkHarness;
  readonly sink: Sink;
  /** The caller's progress (moved after each successful write, as the runtime does). */
  progress: Progress = new Map();
  seq = 0;
  private readonly shared: string[];

  private constructor(h: SinkHarness, sink: Sink, conn: DuckDBConnection) {
    this.h = h;
    this.sink = sink;
    this.conn = conn;
    const id = ++tableSeq;
    this.shared = [0, 1].map((i) => `__contract_shared_${process.pid}_${id}_${i}`);
  }

  /** Drives `sink` (default: the harness's sink under test). */
  static async start(h: SinkHarness, sink: Sink = h.sink): Promise<Driver> {
    return new Driver(h, sink, await openConnection());
  }

  async open(): Promise<Progress> {
    this.progress = await this.sink.open(this.conn, PARTITIONS);
    return this.progress;
  }

  async view(batch: Batch): Promise<BatchView> {
    const seq = ++this.seq;
    const shared = this.shared[seq % 2];
    const cols =
      '_p INTEGER, _o BIGINT, _t BIGINT, id VARCHAR, k INTEGER, amount DECIMAL(10,2), ts TIMESTAMP, note VARCHAR';
    await this.conn.run(`CREATE OR REPLACE TABLE ${shared} (${cols})`);
    if (batch.records.length > 0) {
      const lit = (s: string | null) => (s === null ? 'NULL' : `'${s.replaceAll("'", "''")}'`);
      const values = batch.records
        .map(
          (r) =>
            `(${r._p}, ${r._o}, ${r._t}, ${lit(r.id)}, ${r.k}, ${r.amount}, make_timestamp(${r.ts}::BIGINT * 1000), ${lit(r.note)})`,
        )
        .join(', ');
      await this.conn.run(`INSERT INTO ${shared} VALUES ${values}`);
    }
    await this.conn.run(`CREATE OR REPLACE TEMP TABLE __contract_valid AS SELECT * FROM ${shared}`);
    return {
      conn: this.conn,
      topic: 'contract',
      validTable: '__contract_valid',
      sharedValid: `(SELECT * FROM ${shared})`,
      rejected: [],
      lastOffsets: new Map(batch.lastOffsets),
      startedAt: BASE_MS,
      seq,
    };
  }

  /** prepare + write; on success the caller's progress moves to the batch's last offsets. */
  async write(batch: Batch, extraTxn: ExtraTxn = markers(batch)): Promise<SinkResult & { seq: number }> {
    this.h.tick?.();
    const view = await this.view(batch);
    await this.sink.prepare?.(view, this.progress);
    const res = await this.sink.write(view, this.progress, extraTxn);
    for (const [p, o] of batch.lastOffsets) if ((this.progress.get(p) ?? -1) < o) this.progress.set(p, o);
    return { ...res, seq: view.seq };
  }

  async flush(): Promise<SinkResult | undefined> {
    return this.sink.flush?.(this.conn, this.seq);
  }

  async close(): Promise<void> {
    for (const t of this.shared) await this.conn.run(`DROP TABLE IF EXISTS ${t}`);
    this.conn.closeSync();
  }
}

/** What a restarted process finds: a fresh sink's progress, the rows, the markers. */
export async function durable(
  h: SinkHarness,
): Promise<{ progress: Progress; rows: Row[]; markers: Progress }> {
  const sink = await h.fresh();
  const conn = await openConnection();
  try {
    const progress = await sink.open(conn, PARTITIONS);
    const marks: Progress = new Map();
    for (let p = 0; p < PARTITIONS; p++) {
      const v = await h.marker(markerId(p));
      if (v !== undefined) marks.set(p, v);
    }
    return { progress, rows: await h.rows(), markers: marks };
  } finally {
    await sink.close?.();
    conn.closeSync();
  }
}

export function assertProgress(
  actual: Progress,
  expected: ReadonlyMap<number, number>,
  message: string,
): void {
  assert.deepEqual(progressOf(actual), progressOf(expected), message);
}

/** Per partition, the last offsets of `given[0..n)`. */
export function through(given: readonly Batch[], n: number): Progress {
  const out: Progress = new Map();
  for (const b of given.slice(0, n))
    for (const [p, o] of b.lastOffsets) out.set(p, Math.max(out.get(p) ?? -1, o));
  return out;
}
