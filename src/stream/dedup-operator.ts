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
 * Saved and restored with each batch plan like a window's state (stateful.ts): one
 * Parquet file of keys and a small descriptor, the descriptor written last.
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

export interface SavedDedupState {
  format: 1;
  name: string;
  /** Newest event time seen, µs since the epoch (null: none yet). */
  newestUs: number | null;
  /** The keys file, or null when there were none. */
  keys: string | null;
  keyType: string | null;
}

const POS = '(_p::BIGINT * 1099511627776 + _o)';

export class DedupOperator {
  readonly spec: DedupSpec;
  readonly name: string;
  private readonly base: string;
  /** The table `process` leaves its rows in: shared, so sinks on other connections read it. */
  readonly output: string;
  private newest: number | null = null;
  private hasState = false;
  private keyType: string | null = null;
  /** Rows dropped as duplicates by the last `process`. */
  dropped = 0;

  constructor(spec: DedupSpec, name: string, output: string) {
    this.spec = spec;
    this.name = name;
    this.base = `__dedupop_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    this.output = output;
  }

  private get seen(): string {
    return `${this.base}_seen`;
  }

  async open(conn: DuckDBConnection, from?: { store: ObjectStore; state: SavedDedupState }): Promise<void> {
    await conn.run(`DROP TABLE IF EXISTS ${this.seen}`);
    this.newest = from?.state.newestUs ?? null;
    this.keyType = from?.state.keyType ?? null;
    this.hasState = false;
    if (from?.state.keys && this.keyType) {
      this.hasState = true;
      const file = scratchFile('dedup', 'parquet');
      await fs.writeFile(file, await from.store.get(from.state.keys));
      try {
        await conn.run(
          `CREATE TEMP TABLE ${this.seen} AS SELECT k::${this.keyType} AS k, ts::BIGINT AS ts FROM read_parquet(${quoteString(file)})`,
        );
      } finally {
        await fs.rm(file, { force: true });
      }
    }
  }

  readSaved(store: ObjectStore, prefix: string): Promise<SavedDedupState> {
    return store.get(`${prefix}/${this.name}.json`).then((b) => JSON.parse(new TextDecoder().decode(b)));
  }

  /**
   * Keeps the rows of `input` whose key was not seen within the horizon (and the first of
   * each key in the batch); returns a temp table of them. Reads `input` twice.
   */
  async process(conn: DuckDBConnection, input: string): Promise<{ output: string; dropped: number }> {
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
    const win = `${this.base}_win`;
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE ${win} AS SELECT c.* FROM ${cand} c ANTI JOIN ${this.seen} s ON s.k = c.k`,
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
    // The next state: the keys seen within the horizon. A key seen again is appended with
    // its new time rather than merged (a GROUP BY over the whole state cost 4x more): it
    // stays while any of its rows is within the horizon, which is while its newest time
    // is. A fresh table (DuckDB gives back a dropped table's memory, not deleted rows').
    const next = `${this.base}_next`;
    const from = this.newest === null ? 'NULL' : String(this.newest - this.spec.horizonMs * 1000);
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE ${next} AS SELECT k, ts FROM ${this.seen} WHERE ts >= ${from} UNION ALL SELECT k, ts FROM ${cand} WHERE ts >= ${from}`,
    );
    await conn.run(`DROP TABLE ${this.seen}`);
    await conn.run(`ALTER TABLE ${next} RENAME TO ${this.seen}`);
    this.hasState = true;
    await conn.run(`DROP TABLE IF EXISTS ${cand}`);
    await conn.run(`DROP TABLE IF EXISTS ${win}`);
    this.dropped = Number(n) - Number(kept);
    return { output, dropped: this.dropped };
  }

  async save(conn: DuckDBConnection, store: ObjectStore, prefix: string): Promise<SavedDedupState> {
    let keys: string | null = null;
    const exists = this.hasState
      ? Number((await conn.runAndReadAll(`SELECT count(*) FROM ${this.seen}`)).getRows()[0][0])
      : 0;
    if (exists > 0) {
      const file = scratchFile('dedup', 'parquet');
      try {
        await conn.run(`COPY ${this.seen} TO ${quoteString(file)} (FORMAT parquet, COMPRESSION zstd)`);
        keys = `${prefix}/${this.name}.keys.parquet`;
        await store.put(keys, await fs.readFile(file));
      } finally {
        await fs.rm(file, { force: true });
      }
    }
    const state: SavedDedupState = {
      format: 1,
      name: this.name,
      newestUs: this.newest,
      keys,
      keyType: this.keyType,
    };
    await store.put(`${prefix}/${this.name}.json`, new TextEncoder().encode(`${JSON.stringify(state)}\n`));
    return state;
  }

  async close(conn: DuckDBConnection): Promise<void> {
    for (const t of ['seen', 'cand', 'win', 'next']) await conn.run(`DROP TABLE IF EXISTS ${this.base}_${t}`);
    await conn.run(`DROP TABLE IF EXISTS ${this.output}`);
    this.hasState = false;
  }
}
