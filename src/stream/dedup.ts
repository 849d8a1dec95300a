/**
 * Deduplication by record id, consistent with what a table has committed.
 *
 * The state is the set of ids the table holds with an event time inside the horizon
 * (watermark = newest committed event time; ids older than watermark − horizon are
 * dropped from memory). It is loaded from the table on start and extended only after a
 * commit succeeds, so after a crash it is rebuilt from exactly what was committed: a
 * restart neither re-admits a duplicate nor drops a record that was never committed.
 *
 * A record older than the horizon is not dropped or let through blindly: its id is
 * looked up in the table's files for its time range (files skipped by min/max stats),
 * which is exact but slower; the horizon only bounds memory.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteIdent, quoteString } from '../core/sql.ts';
import { type Filter, scan } from '../table/index.ts';
import type { DeltaTable, Snapshot } from '../table/table.ts';

export interface DedupOptions {
  /** Id column, same name in the batch and in the table. */
  key: string;
  /** Type the id is held as in memory (e.g. 'UUID': 16 bytes instead of a 36-character string). */
  keyType?: string;
  /** Event time in whole seconds: SQL over a batch row. */
  batchTime: string;
  /** The table's event time column (a timestamp). */
  tableTime: string;
  /** How far behind the newest event time ids are kept in memory (seconds). */
  horizonSeconds: number;
}

export class DedupState {
  private readonly opts: DedupOptions;
  private readonly seen: string;
  private watermark = Number.NEGATIVE_INFINITY;
  private prunedAt = Number.NEGATIVE_INFINITY;

  constructor(opts: DedupOptions, name: string) {
    this.opts = opts;
    this.seen = `__dedup_seen_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  }

  private keyExpr(col: string): string {
    const k = quoteIdent(col);
    return this.opts.keyType ? `TRY_CAST(${k} AS ${this.opts.keyType})` : k;
  }

  /** Rebuilds the state from the table's committed rows. */
  async load(conn: DuckDBConnection, table: DeltaTable, snapshot: Snapshot): Promise<void> {
    const keyType = this.opts.keyType ?? 'VARCHAR';
    await conn.run(`CREATE OR REPLACE TEMP TABLE ${this.seen} (k ${keyType}, ts BIGINT)`);
    let newest = Number.NEGATIVE_INFINITY;
    for (const add of snapshot.files()) {
      const max = add.stats ? JSON.parse(add.stats)?.maxValues?.[this.opts.tableTime] : undefined;
      if (typeof max === 'string') newest = Math.max(newest, Math.floor(Date.parse(max) / 1000));
    }
    if (newest === Number.NEGATIVE_INFINITY) return;
    this.watermark = newest;
    const from = newest - this.opts.horizonSeconds;
    await this.insertFromTable(conn, table, snapshot, from, undefined, this.seen);
  }

  /**
   * Inserts into `into` the ids (and times) of the table's rows with an event time from
   * `fromSec` to `toSec`; with `onlyKeys` (a table with column `k`), only the ids found
   * there.
   */
  private async insertFromTable(
    conn: DuckDBConnection,
    table: DeltaTable,
    snapshot: Snapshot,
    fromSec: number,
    toSec: number | undefined,
    into: string,
    onlyKeys?: string,
  ): Promise<void> {
    const t = this.opts.tableTime;
    const filter: Filter[] = [{ column: t, op: '>=', value: new Date(fromSec * 1000) }];
    if (toSec !== undefined) filter.push({ column: t, op: '<=', value: new Date(toSec * 1000 + 999) });
    const files = await scan(table, snapshot, { filter });
    if (files.length === 0) return;
    const list = `[${files.map((f) => quoteString(f.localPath)).join(', ')}]`;
    const ts = `epoch(${quoteIdent(t)})::BIGINT`;
    const rows = `SELECT ${this.keyExpr(this.opts.key)} AS k, ${ts} AS ts FROM read_parquet(${list}) WHERE ${ts} >= ${fromSec}${toSec === undefined ? '' : ` AND ${ts} <= ${toSec}`}`;
    await conn.run(
      onlyKeys === undefined
        ? `INSERT INTO ${into} ${rows}`
        : `INSERT INTO ${into} SELECT r.k, r.ts FROM (${rows}) r SEMI JOIN ${onlyKeys} o ON o.k = r.k`,
    );
  }

  /**
   * Creates temp view `out` over the rows of `input` whose id was not seen before (the
   * first occurrence of an id within the batch wins, by partition and offset). Returns
   * how many rows were dropped as duplicates.
   */
  async filter(
    conn: DuckDBConnection,
    table: DeltaTable,
    snapshot: Snapshot,
    input: string,
    out: string,
  ): Promise<number> {
    const k = this.keyExpr(this.opts.key);
    // Decide on narrow rows (id, time, position) and pick the winners' positions with a
    // hash aggregate; only then touch the wide rows, with a semi-join on the position.
    const pos = `(_p::BIGINT * ${2 ** 40} + _o)`;
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE __dedup_cand AS SELECT ${k} AS k, max((${this.opts.batchTime})::BIGINT) AS ts, min(${pos}) AS pos FROM ${input} GROUP BY 1`,
    );
    // Records older than the horizon: look their ids up in the table itself.
    const lateFrom = this.watermark - this.opts.horizonSeconds;
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE __dedup_late (k ${this.opts.keyType ?? 'VARCHAR'}, ts BIGINT)`,
    );
    if (Number.isFinite(lateFrom)) {
      const late = (
        await conn.runAndReadAll(`SELECT min(ts), max(ts) FROM __dedup_cand WHERE ts < ${lateFrom}`)
      ).getRows()[0];
      if (late[0] !== null) {
        // Only the batch's ids matter (the table is used as an anti-join below): keeping
        // just those, instead of every id of the time range (millions at 10,000 events/s),
        // spares building a table of them per batch.
        await this.insertFromTable(
          conn,
          table,
          snapshot,
          Number(late[0]),
          Number(late[1]),
          '__dedup_late',
          '__dedup_cand',
        );
      }
    }
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE __dedup_win AS SELECT pos FROM __dedup_cand c ANTI JOIN ${this.seen} s ON s.k = c.k ANTI JOIN __dedup_late l ON l.k = c.k`,
    );
    await conn.run(
      `CREATE OR REPLACE TEMP VIEW ${out} AS SELECT * FROM ${input} i SEMI JOIN __dedup_win w ON w.pos = (i._p::BIGINT * ${2 ** 40} + i._o)`,
    );
    const n = (
      await conn.runAndReadAll(`SELECT (SELECT count(*) FROM ${input}) - (SELECT count(*) FROM __dedup_win)`)
    ).getRows()[0][0];
    return Number(n);
  }

  /** After the rows `filter` let through were committed: remember their ids. */
  async committed(conn: DuckDBConnection): Promise<void> {
    const newest = (
      await conn.runAndReadAll('SELECT max(ts) FROM __dedup_cand SEMI JOIN __dedup_win USING (pos)')
    ).getRows()[0][0];
    await conn.run(
      `INSERT INTO ${this.seen} SELECT k, ts FROM __dedup_cand SEMI JOIN __dedup_win USING (pos)`,
    );
    if (newest !== null && Number(newest) > this.watermark) this.watermark = Number(newest);
    // Pruning rewrites the table: do it once the watermark moved by a tenth of the horizon.
    if (this.watermark - this.prunedAt >= Math.max(1, this.opts.horizonSeconds / 10)) {
      await conn.run(`DELETE FROM ${this.seen} WHERE ts < ${this.watermark - this.opts.horizonSeconds}`);
      this.prunedAt = this.watermark;
    }
  }
}
