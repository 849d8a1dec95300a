/**
 * Deduplication as operator state: a record whose key was seen within `horizon` of event
 * time is dropped, before windows count it (the dedup of a sink, dedup.ts, checks a
 * table's rows instead; this one serves windows and any sink after it).
 *
 * State: the keys seen, each with its event time (a key seen again has a row per
 * sighting), kept while the newest of them is within the horizon of the newest event
 * time seen (the operator's own watermark). A duplicate
 * arriving more than the horizon after its first copy is not recognized — as Spark's
 * `dropDuplicatesWithinWatermark`: the horizon bounds memory, and is chosen at least as
 * long as the window's allowed lateness, so such a record is late for the windows anyway.
 * Within a batch, the first occurrence (by partition and offset) wins.
 *
 * Saved and restored with each batch plan like a window's state (stateful.ts), but
 * incrementally: each batch's new keys are one Parquet segment, written once
 * (`<plan prefix>.keys.parquet`), and the plan's descriptor lists the segments still
 * within the horizon. Saving costs the batch's keys, not the whole state (at 2 million
 * keys, rewriting them all took ~0.8 s a batch). In memory the new keys are appended;
 * expired keys are ignored by the lookup (it only matches keys within the horizon as it
 * stood before the batch, exactly what a rewritten state would hold) and dropped by a
 * rebuild once they outnumber the live ones. Segments no retained plan lists are deleted
 * when old plans are pruned (`collect`).
 */

import { promises as fs } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteIdent, quoteString } from '../core/sql.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { scratchFile } from './scratch.ts';

export interface DedupSpec {
  /** A column of the input: the record's identity. */
  key: string;
  /** SQL over an input row giving its event time (a TIMESTAMP or TIMESTAMPTZ). */
  time: string;
  horizonMs: number;
}

export interface KeySegment {
  /** The segment's object in the state store. */
  file: string;
  rows: number;
  /** Its newest key time, µs: the segment expires when this leaves the horizon. */
  maxTs: number;
}

export interface SavedDedupState {
  format: 1 | 2;
  name: string;
  /** Newest event time seen, µs since the epoch (null: none yet). */
  newestUs: number | null;
  /** Format 1: the whole key set in one file, or null when there were none. */
  keys?: string | null;
  /** Format 2: the segments of keys still within the horizon. */
  segments?: KeySegment[];
  keyType: string | null;
}

const SEGMENT_SUFFIX = '.keys.parquet';

const POS = '(_p::BIGINT * 1099511627776 + _o)';

export class DedupOperator {
  readonly spec: DedupSpec;
  readonly name: string;
  private readonly base: string;
  /** The table `process` leaves its rows in: shared, so sinks on other connections read it. */
  readonly output: string;
  private newest: number | null = null;
  private keyType: string | null = null;
  /** Segments saved and still within the horizon. */
  private segments: KeySegment[] = [];
  /** The last `process`'s new keys (table `_new`), not yet saved. */
  private pending: { rows: number; maxTs: number } | null = null;
  /** Rows of the in-memory key table known to be out of the horizon (expired segments). */
  private deadRows = 0;
  /** Rows dropped as duplicates by the last `process`. */
  dropped = 0;

  /** `instance`: as a window operator's (one operator per source partition on a connection). */
  constructor(spec: DedupSpec, name: string, output: string, instance?: string) {
    this.spec = spec;
    this.name = name;
    this.base = `__dedupop_${name.replace(/[^A-Za-z0-9_]/g, '_')}${instance === undefined ? '' : `__${instance}`}`;
    this.output = output;
  }

  private get seen(): string {
    return `${this.base}_seen`;
  }

  async open(conn: DuckDBConnection, from?: { store: ObjectStore; state: SavedDedupState }): Promise<void> {
    await conn.run(`DROP TABLE IF EXISTS ${this.seen}`);
    await conn.run(`DROP TABLE IF EXISTS ${this.base}_new`);
    this.newest = from?.state.newestUs ?? null;
    this.keyType = from?.state.keyType ?? null;
    this.pending = null;
    this.deadRows = 0;
    this.segments = [...(from?.state.segments ?? [])];
    const files = [...(from?.state.keys ? [from.state.keys] : []), ...this.segments.map((g) => g.file)];
    if (from && files.length > 0 && this.keyType) {
      const local: string[] = [];
      try {
        for (const f of files) {
          const file = scratchFile('dedup', 'parquet');
          local.push(file);
          await fs.writeFile(file, await from.store.get(f));
        }
        const list = `[${local.map(quoteString).join(', ')}]`;
        await conn.run(
          `CREATE TEMP TABLE ${this.seen} AS SELECT k::${this.keyType} AS k, ts::BIGINT AS ts FROM read_parquet(${list})`,
        );
      } finally {
        for (const f of local) await fs.rm(f, { force: true });
      }
    }
  }

  readSaved(store: ObjectStore, prefix: string): Promise<SavedDedupState> {
    return store.get(`${prefix}/${this.name}.json`).then((b) => JSON.parse(new TextDecoder().decode(b)));
  }

  /**
   * Keeps the rows of `input` whose key was not seen within the horizon (and the first of
   * each key in the batch); returns a temp table of them, with the rows read and dropped.
   * Reads `input` twice.
   */
  async process(
    conn: DuckDBConnection,
    input: string,
  ): Promise<{ output: string; dropped: number; rows: number }> {
    const output = this.output;
    const k = quoteIdent(this.spec.key);
    const t = `(${this.spec.time})`;
    const cand = `${this.base}_cand`;
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE ${cand} AS SELECT ${k} AS k, max(epoch_us(${t})) AS ts, min(${POS}) AS pos FROM ${input} GROUP BY 1`,
    );
    if (this.keyType === null) {
      const r = await conn.runAndReadAll(`SELECT k FROM ${cand} LIMIT 0`);
      this.keyType = r.columnTypes()[0].toString();
    }
    await conn.run(`CREATE TEMP TABLE IF NOT EXISTS ${this.seen} (k ${this.keyType}, ts BIGINT)`);
    // Only keys within the horizon as it stood before the batch count (older ones may
    // linger in memory until a rebuild, and in segments still listed for newer keys).
    const before = this.newest === null ? null : this.newest - this.spec.horizonMs * 1000;
    const within = before === null ? '' : ` AND s.ts >= ${before}`;
    const win = `${this.base}_win`;
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE ${win} AS SELECT c.* FROM ${cand} c ANTI JOIN ${this.seen} s ON s.k = c.k${within}`,
    );
    await conn.run(
      `CREATE OR REPLACE TABLE ${output} AS SELECT i.* FROM ${input} i SEMI JOIN ${win} w ON w.pos = (i._p::BIGINT * 1099511627776 + i._o)`,
    );
    const [n, kept, newest] = (
      await conn.runAndReadAll(
        `SELECT (SELECT count(*) FROM ${input}), (SELECT count(*) FROM ${output}), (SELECT max(ts) FROM ${cand})`,
      )
    ).getRows()[0];
    if (newest !== null) this.newest = Math.max(this.newest ?? Number.NEGATIVE_INFINITY, Number(newest));
    // The batch's keys within the new horizon join the state. A key seen again gets a row
    // per sighting rather than a merge: it stays while any of its rows is within the
    // horizon, which is while its newest time is.
    const from = this.newest === null ? 'NULL' : String(this.newest - this.spec.horizonMs * 1000);
    const fresh = `${this.base}_new`;
    await conn.run(`CREATE OR REPLACE TEMP TABLE ${fresh} AS SELECT k, ts FROM ${cand} WHERE ts >= ${from}`);
    const [rows, maxTs] = (await conn.runAndReadAll(`SELECT count(*), max(ts) FROM ${fresh}`)).getRows()[0];
    this.pending = Number(rows) > 0 ? { rows: Number(rows), maxTs: Number(maxTs) } : null;
    if (this.pending) await conn.run(`INSERT INTO ${this.seen} SELECT k, ts FROM ${fresh}`);
    await this.expire(conn);
    await conn.run(`DROP TABLE IF EXISTS ${cand}`);
    await conn.run(`DROP TABLE IF EXISTS ${win}`);
    this.dropped = Number(n) - Number(kept);
    return { output, dropped: this.dropped, rows: Number(n) };
  }

  /**
   * Forgets the segments out of the horizon; once the rows known to be expired outnumber
   * the live ones, rebuilds the key table without them (into a fresh table: DuckDB gives
   * back a dropped table's memory, not deleted rows').
   */
  private async expire(conn: DuckDBConnection): Promise<void> {
    if (this.newest === null) return;
    const from = this.newest - this.spec.horizonMs * 1000;
    const live: KeySegment[] = [];
    for (const g of this.segments) {
      if (g.maxTs >= from) live.push(g);
      else this.deadRows += g.rows;
    }
    this.segments = live;
    const liveRows = live.reduce((sum, g) => sum + g.rows, 0) + (this.pending?.rows ?? 0);
    if (this.deadRows === 0 || this.deadRows < liveRows) return;
    const next = `${this.base}_next`;
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE ${next} AS SELECT k, ts FROM ${this.seen} WHERE ts >= ${from}`,
    );
    await conn.run(`DROP TABLE ${this.seen}`);
    await conn.run(`ALTER TABLE ${next} RENAME TO ${this.seen}`);
    this.deadRows = 0;
  }

  /**
   * Saves the state after the last `process` under `prefix` (the batch plan's): the
   * batch's new keys as a segment, then the descriptor listing every live segment.
   */
  async save(conn: DuckDBConnection, store: ObjectStore, prefix: string): Promise<SavedDedupState> {
    if (this.pending) {
      const file = scratchFile('dedup', 'parquet');
      const segment = `${prefix}${SEGMENT_SUFFIX}`;
      try {
        await conn.run(`COPY ${this.base}_new TO ${quoteString(file)} (FORMAT parquet, COMPRESSION zstd)`);
        await store.put(segment, await fs.readFile(file));
      } finally {
        await fs.rm(file, { force: true });
      }
      this.segments.push({ file: segment, ...this.pending });
      this.pending = null;
      await conn.run(`DROP TABLE IF EXISTS ${this.base}_new`);
    }
    const state: SavedDedupState = {
      format: 2,
      name: this.name,
      newestUs: this.newest,
      segments: this.segments,
      keyType: this.keyType,
    };
    await store.put(`${prefix}/${this.name}.json`, new TextEncoder().encode(`${JSON.stringify(state)}\n`));
    return state;
  }

  /**
   * Deletes the segments under `dir` (this operator's folder of the state store) that no
   * retained plan's descriptor lists and that are older than every retained plan: the
   * ones that left the horizon before the oldest state a restart may load.
   */
  async collect(store: ObjectStore, dir: string, retained: readonly string[]): Promise<void> {
    if (retained.length === 0) return;
    const listed = new Set<string>();
    for (const prefix of retained) {
      const saved = await this.readSaved(store, prefix).catch(() => undefined);
      for (const g of saved?.segments ?? []) listed.add(g.file);
    }
    const oldest = [...retained].sort()[0];
    for (const f of await store.list(`${dir}/`)) {
      if (!f.path.endsWith(SEGMENT_SUFFIX) || listed.has(f.path)) continue;
      if (f.path.slice(0, -SEGMENT_SUFFIX.length) >= oldest) continue;
      await store.delete(f.path);
    }
  }

  async close(conn: DuckDBConnection): Promise<void> {
    for (const t of ['seen', 'cand', 'win', 'next', 'new'])
      await conn.run(`DROP TABLE IF EXISTS ${this.base}_${t}`);
    await conn.run(`DROP TABLE IF EXISTS ${this.output}`);
    this.segments = [];
    this.pending = null;
  }
}
