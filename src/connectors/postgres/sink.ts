/**
 * The PostgreSQL serving sink: a batch's rows upserted into a table by key, and the
 * sink's source progress stored in the same database transaction (the progress table,
 * tables.ts) — so after a crash at any point the table holds every batch up to its
 * progress exactly once, and the pipeline resumes from there.
 *
 * One batch, one short transaction (an embedded PGlite serves one transaction at a time
 * to all its clients, so a long one would stall readers):
 *
 *   rows computed in DuckDB, rendered as text per column (types.ts)
 *   BEGIN
 *   advisory lock on the sink           (two processes with the same sink queue up)
 *   progress read and compared          (moved under us: POSTGRES_PROGRESS_MOVED, reload)
 *   INSERT ... SELECT FROM unnest($1::text[], ...) ON CONFLICT (key) DO UPDATE
 *   progress rows upserted (and the DLQ's markers, `extraTxn`)
 *   COMMIT
 *
 * A COMMIT whose answer is lost leaves the outcome unknown; the runtime then reloads the
 * progress (`open`), which tells. The comparison of progress under the lock makes a
 * commit that lands late (a hung connection) harmless: the retry finds the progress
 * moved and reloads instead of writing twice.
 *
 * Rows travel as one text array per column through `unnest` (one statement, any number
 * of rows, no statement-size limits); PostgreSQL casts them to the column types.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { crashPoint } from '../../core/crash-points.ts';
import { TributaryError } from '../../core/errors.ts';
import { quoteIdent } from '../../core/sql.ts';
import {
  advancedProgress,
  type BatchView,
  type ExtraTxn,
  type Progress,
  pastProgress,
  type Sink,
  type SinkResult,
} from '../../stream/types.ts';
import { type PgConnector, type PgSession, statementName } from './client.ts';
import { postgresError } from './errors.ts';
import {
  displayName,
  ensureProgressTable,
  ensureTable,
  type PgColumn,
  type PgTableName,
  PROGRESS_TABLE,
  qualified,
} from './tables.ts';
import { textExpr } from './types.ts';

export interface PostgresSinkOptions {
  name: string;
  /** `<pipeline>/<sink>/<source>`: a marker per partition is `<prefix>/<partition>`. */
  appIdPrefix: string;
  db: PgConnector;
  table: PgTableName;
  /** The key columns (the table's primary key). */
  key: readonly string[];
  /** The columns written, with their PostgreSQL types, in the order of the rows' columns. */
  columns: readonly PgColumn[];
  /** Where the sink keeps its progress (default `tributary.progress`). */
  progressTable?: PgTableName;
  /** A `timestamptz` column set to the transaction's time on every insert and update. */
  updatedAt?: string;
  /** SQL producing the rows from a relation (`from`). */
  select: (from: string) => string;
  /** The relation read instead of the batch's valid records past the sink's progress (a window's rows). */
  input?: (batch: BatchView) => string;
}

const lockKey = (text: string) => `hashtextextended(${`'${text.replace(/'/g, "''")}'`}, 0)`;

export class PostgresSink implements Sink {
  readonly name: string;
  readonly usesBatchConnection = true;
  private readonly opts: PostgresSinkOptions;
  private readonly upsertSql: string;
  private readonly progressSql: string;
  private readonly readProgressSql: string;
  private readonly lockSql: string;
  private readonly progressTable: PgTableName;
  private opened = false;

  constructor(opts: PostgresSinkOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.progressTable = opts.progressTable ?? PROGRESS_TABLE;
    const cols = opts.columns.map((c) => quoteIdent(c.name));
    const casts = opts.columns.map((_c, i) => `$${i + 1}::text[]`);
    const values = opts.columns.map((c, i) => `u.c${i}::${c.type}`);
    const keys = new Set(opts.key);
    const updates = opts.columns
      .filter((c) => !keys.has(c.name))
      .map((c) => `${quoteIdent(c.name)} = excluded.${quoteIdent(c.name)}`);
    if (opts.updatedAt) {
      cols.push(quoteIdent(opts.updatedAt));
      values.push('now()');
      updates.push(`${quoteIdent(opts.updatedAt)} = excluded.${quoteIdent(opts.updatedAt)}`);
    }
    this.upsertSql =
      `INSERT INTO ${qualified(opts.table)} (${cols.join(', ')}) ` +
      `SELECT ${values.join(', ')} FROM unnest(${casts.join(', ')}) AS u(${opts.columns.map((_, i) => `c${i}`).join(', ')}) ` +
      `ON CONFLICT (${opts.key.map(quoteIdent).join(', ')}) ` +
      (updates.length > 0 ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING');
    this.progressSql =
      `INSERT INTO ${qualified(this.progressTable)} (app_id, version, updated_at) ` +
      'SELECT a, v, now() FROM unnest($1::text[], $2::bigint[]) AS m(a, v) ' +
      'ON CONFLICT (app_id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at';
    this.readProgressSql = `SELECT app_id, version FROM ${qualified(this.progressTable)} WHERE app_id LIKE $1`;
    this.lockSql = `SELECT pg_advisory_xact_lock(${lockKey(opts.appIdPrefix)})`;
  }

  private appId(partition: number): string {
    return `${this.opts.appIdPrefix}/${partition}`;
  }

  private async session<T>(what: string, fn: (s: PgSession) => Promise<T>): Promise<T> {
    let s: PgSession;
    try {
      s = await this.opts.db.connect();
    } catch (err) {
      throw postgresError(err, this.opts.db.target, what);
    }
    let broken = false;
    try {
      return await fn(s);
    } catch (err) {
      broken = true;
      throw postgresError(err, this.opts.db.target, what);
    } finally {
      s.release(broken);
    }
  }

  /** Committed progress, per partition, from the progress table. */
  private async readProgress(s: PgSession, partitions: number): Promise<Progress> {
    const prefix = `${this.opts.appIdPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`;
    const { rows } = await s.query<{ app_id: string; version: string }>(
      this.readProgressSql,
      [prefix],
      statementName('tributary_progress', this.readProgressSql),
    );
    const progress: Progress = new Map();
    for (const r of rows) {
      const p = Number(r.app_id.slice(this.opts.appIdPrefix.length + 1));
      if (Number.isInteger(p) && p >= 0 && p < partitions) progress.set(p, Number(r.version));
    }
    return progress;
  }

  async open(_conn: DuckDBConnection, partitions: number): Promise<Progress> {
    return this.session(`opening sink '${this.name}' on ${displayName(this.opts.table)}`, async (s) => {
      if (!this.opened) {
        await ensureProgressTable(s, this.progressTable);
        const cols = [...this.opts.columns];
        if (this.opts.updatedAt) cols.push({ name: this.opts.updatedAt, type: 'timestamptz' });
        await ensureTable(s, this.opts.table, cols, this.opts.key, this.name);
        this.opened = true;
      }
      return this.readProgress(s, partitions);
    });
  }

  /** The batch's rows as one text array per column (null stays null). */
  private async rows(batch: BatchView, progress: Progress): Promise<string[][]> {
    const from = this.opts.input
      ? `(SELECT * FROM ${this.opts.input(batch)})`
      : `(SELECT * FROM ${batch.validTable} WHERE ${pastProgress(progress, batch.lastOffsets)})`;
    const rowsSql = this.opts.select(from);
    const described = await batch.conn.runAndReadAll(`SELECT * FROM (${rowsSql}) AS __r LIMIT 0`);
    const names = described.columnNames();
    const types = described.columnTypes();
    const exprs = this.opts.columns.map((c) => {
      const i = names.indexOf(c.name);
      if (i < 0) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `sink '${this.name}': the rows have no column '${c.name}' (they have: ${names.join(', ')})`,
        );
      }
      return textExpr(c.name, types[i]);
    });
    const reader = await batch.conn.runAndReadAll(`SELECT ${exprs.join(', ')} FROM (${rowsSql}) AS __r`);
    const columns = reader.getColumns() as (string | null)[][];
    this.checkUniqueKeys(columns);
    return columns as string[][];
  }

  /** Two rows of one key in a batch would make the upsert fail (or pick one at random): refused with the key. */
  private checkUniqueKeys(columns: (string | null)[][]): void {
    const idx = this.opts.key.map((k) => this.opts.columns.findIndex((c) => c.name === k));
    const n = columns[0]?.length ?? 0;
    const seen = new Set<string>();
    for (let r = 0; r < n; r++) {
      const k = idx.map((i) => columns[i][r]).join('\u0000');
      if (seen.has(k)) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `sink '${this.name}': the batch has two rows for key (${this.opts.key.join(', ')}) = (${idx.map((i) => columns[i][r]).join(', ')}); ` +
            'a PostgreSQL sink needs one row per key and batch (aggregate them, or keep the newest in a transform)',
          { sink: this.name },
        );
      }
      seen.add(k);
    }
  }

  async write(batch: BatchView, progress: Progress, extraTxn: ExtraTxn): Promise<SinkResult> {
    const advanced = advancedProgress(progress, batch.lastOffsets);
    if (advanced.length === 0) return { rows: 0, durableThrough: batch.seq };
    const columns = await this.rows(batch, progress);
    const count = columns[0]?.length ?? 0;
    // The DLQ's markers are known once its write is done: wait outside the transaction.
    const extra = await extraTxn();
    const appIds = [...advanced.map((a) => this.appId(a.partition)), ...extra.map((m) => m.appId)];
    const versions = [...advanced.map((a) => String(a.offset)), ...extra.map((m) => String(m.version))];
    const partitions = Math.max(...batch.lastOffsets.keys()) + 1;
    await this.session(
      `writing batch ${batch.seq} of sink '${this.name}' into ${displayName(this.opts.table)}`,
      async (s) => {
        await s.query('BEGIN');
        try {
          await s.query(this.lockSql);
          const committed = await this.readProgress(s, partitions);
          for (const [p] of batch.lastOffsets) {
            if ((committed.get(p) ?? -1) !== (progress.get(p) ?? -1)) {
              throw new TributaryError(
                'POSTGRES_PROGRESS_MOVED',
                `sink '${this.name}': partition ${p} is committed through offset ${committed.get(p) ?? -1} in ${displayName(this.progressTable)}, ` +
                  `not ${progress.get(p) ?? -1} as this process knew (a commit whose answer was lost landed, or another process runs this sink); reloading`,
                { sink: this.name, partition: p },
              );
            }
          }
          if (count > 0) {
            await s.query(this.upsertSql, columns, statementName('tributary_upsert', this.upsertSql));
          }
          await s.query(
            this.progressSql,
            [appIds, versions],
            statementName('tributary_mark', this.progressSql),
          );
          crashPoint('sink.postgres.written');
          await s.query('COMMIT');
        } catch (err) {
          await s.query('ROLLBACK').catch(() => {});
          throw err;
        }
      },
    );
    crashPoint('sink.postgres.committed');
    return { rows: count, commits: 1, durableThrough: batch.seq };
  }

  /** The version of a marker (`app_id`) in the progress table (tests, status). */
  async marker(appId: string): Promise<number | undefined> {
    return this.session('reading a marker', async (s) => {
      const { rows } = await s.query<{ version: string }>(
        `SELECT version FROM ${qualified(this.progressTable)} WHERE app_id = $1`,
        [appId],
      );
      return rows.length === 0 ? undefined : Number(rows[0].version);
    });
  }
}
