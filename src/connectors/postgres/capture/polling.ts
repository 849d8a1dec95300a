/**
 * Change capture by polling (the seed's producer): every poll interval,
 *
 *   SELECT ... FROM t WHERE (cursor, key) > ($last_cursor, $last_key)
 *     AND cursor <= now() - delay ORDER BY cursor, key LIMIT batch_limit
 *
 * publishes the rows as change events (op `c`), and once the publish is durable saves the
 * last row's `cursor|key` (polling-state.ts). The row-value comparison makes the key the
 * tie-breaker: rows sharing a cursor value are neither skipped nor repeated when a poll's
 * limit cuts among them. A full poll is followed by the next at once; a short one waits
 * the interval.
 *
 * - Cursor: `created_at` (inserts) by default; naming `updated_at` (set on every write)
 *   captures updates too. Either way a row is published as `c` with its whole current
 *   image: whether the row was seen before is unknowable from one read. Deletes leave
 *   nothing to read: polling cannot see them (logical replication can).
 * - `delay`: only rows whose cursor is at least that old are read. A transaction that
 *   began earlier (an older `now()` in its rows) may commit after a later one; without
 *   the delay its rows land behind a position already saved and are never read. The
 *   delay must exceed the longest such transaction; it adds as much latency.
 * - Values are read as PostgreSQL's text (`col::text`) in a transaction with TimeZone
 *   UTC and ISO DateStyle set locally (on the embedded PGlite every client shares one
 *   session, so nothing is set for longer than the poll), with each column's type OID
 *   from the catalog, so change.ts encodes them as both capture modes do.
 * - Position of a change: the cursor in epoch microseconds, seq 0; its commit time is
 *   the cursor's (a replayed row carries the same one). A timestamp without time zone is
 *   read as UTC, as the contract reads it.
 *
 * A database that goes away while capturing is waited for (POSTGRES_UNAVAILABLE, retried
 * with a back-off), as is a broker; the state only moves after a durable publish.
 */
import { crashPoint } from '../../../core/crash-points.ts';
import { isTributaryError, TributaryError } from '../../../core/errors.ts';
import { quoteIdent, quoteString } from '../../../core/sql.ts';
import { runLoop } from '../../../stream/run-loop.ts';
import { type PgSession, PostgresPool, statementName } from '../client.ts';
import { postgresError } from '../errors.ts';
import { displayName, qualified } from '../tables.ts';
import type { ChangeColumn, ChangeEvent } from './change.ts';
import { type PollingPosition, PollingState } from './polling-state.ts';
import { ChangePublisher } from './publish.ts';
import {
  type CapturedColumn,
  canRead,
  describeColumns,
  hasIndexOn,
  primaryKey,
  tableInvalid,
} from './table-info.ts';
import type { CaptureMetrics, CaptureOptions, ChangeCapture } from './types.ts';

export interface PollingOptions extends CaptureOptions {
  /** The cursor column, a timestamp (default `created_at`). */
  cursor?: string;
  /** Time between polls that came back short (default 5 s, the seed's). */
  pollIntervalMs?: number;
  /** Rows per poll at most (default 1000, the seed's). */
  batchLimit?: number;
  /** Read only rows whose cursor is at least this old (default DEFAULT_DELAY_MS). */
  delayMs?: number;
  /** Longest wait between tries while PostgreSQL or the broker is down (default 30 s). */
  maxBackoffMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const DEFAULT_POLL_INTERVAL_MS = 5_000;
export const DEFAULT_BATCH_LIMIT = 1_000;
/** Covers ordinary short transactions (milliseconds) with room to spare; see the header. */
export const DEFAULT_DELAY_MS = 1_000;

const TIMESTAMPTZ = 1184;
const TIMESTAMP = 1114;

const q = quoteIdent;

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

interface Shape {
  columns: CapturedColumn[];
  /** The SELECT of one poll, with and without a saved position (and with a timestamp-only one). */
  sql: { first: string; next: string; afterCursor: string };
}

interface PollResult {
  events: ChangeEvent[];
  last?: PollingPosition;
  /** The server's now() of the poll, epoch microseconds. */
  nowUs: bigint;
}

export class PollingCapture implements ChangeCapture {
  readonly mode = 'polling' as const;
  readonly metrics: CaptureMetrics = { published: 0, batches: 0 };
  private readonly opts: PollingOptions;
  private readonly cursor: string;
  private readonly batchLimit: number;
  private readonly delayMs: number;
  private readonly pool: PostgresPool;
  private readonly publisher: ChangePublisher;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private key: string[] = [];
  private state?: PollingState;
  private position?: PollingPosition;
  private shape?: Shape;
  private shapeText = '';
  /** The server's default TimeZone (a timestamp-without-zone cursor holds wall-clock time in it). */
  private serverZone = 'UTC';

  constructor(opts: PollingOptions) {
    this.opts = opts;
    this.cursor = opts.cursor ?? 'created_at';
    this.batchLimit = opts.batchLimit ?? DEFAULT_BATCH_LIMIT;
    this.delayMs = opts.delayMs ?? DEFAULT_DELAY_MS;
    if (!Number.isSafeInteger(this.batchLimit) || this.batchLimit < 1) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `batch_limit must be a whole number ≥ 1, got ${this.batchLimit}`,
      );
    }
    this.pool = new PostgresPool(opts.url, { max: 1, applicationName: 'tributary-capture' });
    this.publisher = new ChangePublisher({
      log: opts.log,
      topic: opts.topic,
      partitions: opts.partitions,
      format: opts.format,
      ...(opts.onColumns && { onColumns: opts.onColumns }),
    });
    this.sleep = opts.sleep ?? abortableSleep;
  }

  private report(line: string): void {
    (this.opts.report ?? ((l: string) => console.error(l)))(`capture: ${line}`);
  }

  private async withSession<T>(what: string, fn: (s: PgSession) => Promise<T>): Promise<T> {
    const session = await this.pool.connect();
    let broken = false;
    try {
      return await fn(session);
    } catch (err) {
      broken = true;
      if (err instanceof TributaryError) throw err;
      throw postgresError(err, this.pool.target, what);
    } finally {
      session.release(broken);
    }
  }

  /**
   * Checks the table (exists, readable, cursor column a timestamp, a key) and loads the
   * saved position. Throws what a person must fix; POSTGRES_UNAVAILABLE when the
   * database cannot be reached.
   */
  async prepare(): Promise<void> {
    const table = this.opts.table;
    const shown = displayName(table);
    const sqlName = qualified(table);
    await this.withSession(`describing ${shown}`, async (s) => {
      const zone = await s.query<{ z: string }>(
        "SELECT reset_val AS z FROM pg_settings WHERE name = 'TimeZone'",
      );
      this.serverZone = zone.rows[0]?.z ?? 'UTC';
      const columns = await describeColumns(s, table, this.pool.target);
      const names = columns.map((c) => c.name);
      const cursor = columns.find((c) => c.name === this.cursor);
      const timestamps = columns.filter((c) => c.typeOid === TIMESTAMP || c.typeOid === TIMESTAMPTZ);
      const candidates = timestamps.length > 0 ? timestamps.map((c) => c.name).join(', ') : 'none';
      if (!cursor) {
        throw tableInvalid(
          table,
          `table ${shown} has no column '${this.cursor}' to poll by (its columns: ${names.join(', ')}; timestamp columns: ${candidates}). ` +
            `Name its insert or update time as source.capture.cursor, or add one: ALTER TABLE ${sqlName} ADD COLUMN ${q(this.cursor)} timestamptz NOT NULL DEFAULT now()`,
        );
      }
      if (cursor.typeOid !== TIMESTAMP && cursor.typeOid !== TIMESTAMPTZ) {
        throw tableInvalid(
          table,
          `the cursor column ${shown}.${this.cursor} is ${cursor.type}; polling needs a timestamp (timestamp with or without time zone). Its timestamp columns: ${candidates}`,
        );
      }
      if (!cursor.notNull) {
        this.report(
          `warning: ${shown}.${this.cursor} may be null, and rows where it is null are never captured (ALTER TABLE ${sqlName} ALTER COLUMN ${q(this.cursor)} SET NOT NULL)`,
        );
      }
      const pk = await primaryKey(s, table);
      const key = this.opts.key ? [...this.opts.key] : pk;
      if (key.length === 0) {
        throw tableInvalid(
          table,
          `table ${shown} has no primary key and no key was given: name the columns that identify a row (source.capture.key: [order_id]), ` +
            `or add a primary key (ALTER TABLE ${sqlName} ADD PRIMARY KEY (...)). The key orders rows sharing a ${this.cursor} and keys the topic's records`,
        );
      }
      for (const k of key) {
        const c = columns.find((x) => x.name === k);
        if (!c) {
          throw tableInvalid(
            table,
            `the key column '${k}' is not a column of ${shown} (its columns: ${names.join(', ')})`,
          );
        }
        if (!c.notNull) {
          throw tableInvalid(
            table,
            `the key column ${shown}.${k} may be null, and a row whose key is null would never be captured: make it NOT NULL, or name other key columns`,
          );
        }
      }
      this.key = key;
      if (!(await canRead(s, table))) {
        const user = (await s.query<{ u: string }>('SELECT current_user AS u')).rows[0].u;
        throw tableInvalid(
          table,
          `the user ${user} may not read ${shown}: GRANT SELECT ON ${sqlName} TO ${q(user)} (as the table's owner), or connect as a user who may`,
        );
      }
      if (!(await hasIndexOn(s, table, [this.cursor, ...key]))) {
        this.report(
          `hint: no index on ${shown} (${[this.cursor, ...key].join(', ')}): each poll scans the table. ` +
            `CREATE INDEX ON ${sqlName} (${[this.cursor, ...key].map(q).join(', ')})`,
        );
      }
      this.setShape(columns);
    });
    this.state = new PollingState(this.opts.stateDir, {
      table: shown,
      cursor: this.cursor,
      key: this.key,
      topic: this.opts.topic,
    });
    this.position = this.state.load();
    if (this.position)
      this.metrics.position = `${this.position.cursor}|${(this.position.key ?? []).join('|')}`;
  }

  /** The polls' SQL for the table's current columns. */
  private setShape(columns: CapturedColumn[]): void {
    const text = columns.map((c) => `${c.name}:${c.typeOid}`).join(',');
    if (this.shape && text === this.shapeText) return;
    this.shapeText = text;
    const t = this.opts.table;
    const table = `${q(t.schema)}.${q(t.name)}`;
    const cur = q(this.cursor);
    const cursorType = columns.find((c) => c.name === this.cursor)!;
    const typeOf = (name: string) => columns.find((c) => c.name === name)!.type;
    const select =
      `SELECT ${columns.map((c, i) => `${q(c.name)}::text AS c${i}`).join(', ')}, ` +
      `to_char(${cur}, 'YYYY-MM-DD HH24:MI:SS.US') AS cur, floor(extract(epoch FROM ${cur}) * 1000000)::bigint::text AS us ` +
      `FROM ${table}`;
    const order = ` ORDER BY ${[cur, ...this.key.map(q)].join(', ')} LIMIT ${this.batchLimit}`;
    // The delay is a literal (a number of milliseconds); $1.. are the position's values.
    const older = `now() - interval '${this.delayMs} milliseconds'`;
    const bound =
      this.delayMs === 0
        ? `${cur} IS NOT NULL`
        : cursorType.typeOid === TIMESTAMPTZ
          ? `${cur} <= ${older}`
          : `${cur} <= (now() AT TIME ZONE ${quoteString(this.serverZone)}) - interval '${this.delayMs} milliseconds'`;
    const rowAfter = `(${[cur, ...this.key.map(q)].join(', ')}) > (${[
      `$1::${cursorType.type}`,
      ...this.key.map((k, i) => `$${i + 2}::${typeOf(k)}`),
    ].join(', ')})`;
    this.shape = {
      columns,
      sql: {
        first: `${select} WHERE ${bound}${order}`,
        next: `${select} WHERE ${bound} AND ${rowAfter}${order}`,
        afterCursor: `${select} WHERE ${bound} AND ${cur} > $1::${cursorType.type}${order}`,
      },
    };
  }

  /** One poll: the rows after the position, as change events. */
  private async poll(): Promise<PollResult> {
    const table = this.opts.table;
    return this.withSession(`polling ${displayName(table)}`, async (s) => {
      await s.query('BEGIN READ ONLY');
      try {
        const now = await s.query<{ now_us: string }>(
          "SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, MDY', true), " +
            "set_config('IntervalStyle', 'postgres', true), set_config('extra_float_digits', '1', true), " +
            "set_config('bytea_output', 'hex', true), floor(extract(epoch FROM now()) * 1000000)::bigint::text AS now_us",
        );
        // The table's columns cannot change between reading them and the poll's SELECT: an
        // ALTER TABLE waits for this transaction (it needs the lock this one conflicts
        // with). Without it a column dropped in between failed the poll with "column does
        // not exist" instead of CAPTURE_SCHEMA_CHANGED.
        await s.query(`LOCK TABLE ${qualified(table)} IN ACCESS SHARE MODE`);
        const columns = await describeColumns(s, table, this.pool.target);
        for (const needed of [this.cursor, ...this.key]) {
          if (!columns.some((c) => c.name === needed)) {
            throw tableInvalid(
              table,
              `column '${needed}' of ${displayName(table)} is gone (dropped or renamed while capturing): restart the capture with its new name`,
            );
          }
        }
        this.setShape(columns);
        const shape = this.shape!;
        const p = this.position;
        const [sql, values] =
          p === undefined
            ? [shape.sql.first, []]
            : p.key === undefined
              ? [shape.sql.afterCursor, [p.cursor]]
              : [shape.sql.next, [p.cursor, ...p.key]];
        const { rows } = await s.query<Record<string, string | null>>(
          sql,
          values,
          statementName('tributary_poll', sql),
        );
        await s.query('COMMIT');
        return { ...this.toEvents(shape.columns, rows), nowUs: BigInt(now.rows[0].now_us) };
      } catch (err) {
        await s.query('ROLLBACK').catch(() => {});
        throw err;
      }
    });
  }

  private toEvents(
    columns: CapturedColumn[],
    rows: Record<string, string | null>[],
  ): Omit<PollResult, 'nowUs'> {
    const changeColumns: ChangeColumn[] = columns.map((c) => ({ name: c.name, typeOid: c.typeOid }));
    const keyAt = this.key.map((k) => columns.findIndex((c) => c.name === k));
    const events: ChangeEvent[] = [];
    let last: PollingPosition | undefined;
    for (const r of rows) {
      const after = columns.map((_, i) => r[`c${i}`] ?? null);
      const us = BigInt(r.us!);
      events.push({
        op: 'c',
        schema: this.opts.table.schema,
        table: this.opts.table.name,
        columns: changeColumns,
        key: this.key,
        before: null,
        after,
        pos: us,
        seq: 0,
        commitTime: Number(us / 1000n),
        snapshot: false,
      });
      last = { cursor: r.cur!, key: keyAt.map((i) => after[i]!) };
    }
    return { events, ...(last && { last }) };
  }

  async run(options: { signal?: AbortSignal; untilCaughtUp?: boolean } = {}): Promise<void> {
    const { signal, untilCaughtUp } = options;
    if (!this.state) await this.prepare();
    const interval = this.opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    const delayUs = BigInt(this.delayMs) * 1000n;
    let startUs: bigint | undefined;
    // A poll every `interval`; at once again while polls come back full. The database or
    // the log being unreachable is waited out (the position is kept); anything else stops
    // the capture.
    await runLoop({
      label: 'capture',
      unit: 'poll',
      signal,
      idleMs: interval,
      sleep: (ms) => this.sleep(ms, signal),
      waits: waitable,
      maxRetries: 0,
      ...(this.opts.maxBackoffMs !== undefined && { maxBackoffMs: this.opts.maxBackoffMs }),
      onRetry: (err, failures, _others, wait) => {
        const what = isTributaryError(err, 'POSTGRES_UNAVAILABLE') ? 'PostgreSQL' : 'the log';
        this.report(
          `waiting for ${what} (try ${failures} failed, next try in ${Math.round(wait / 100) / 10} s; the position is kept): ${(err as Error).message}`,
        );
      },
      onResumed: (failures) =>
        this.report(`resumed after ${failures} failed ${failures === 1 ? 'try' : 'tries'}`),
      step: async () => {
        const result = await this.poll();
        crashPoint('capture.polling.queried');
        if (result.events.length > 0) {
          await this.publisher.publish(result.events);
          crashPoint('capture.polling.published');
          this.state!.save(result.last!);
          this.position = result.last;
          this.metrics.position = `${result.last!.cursor}|${result.last!.key!.join('|')}`;
          this.metrics.published += result.events.length;
        }
        this.metrics.batches++;
        startUs ??= result.nowUs;
        if (result.events.length >= this.batchLimit) return 'busy';
        if (untilCaughtUp) {
          // Caught up once a short poll's bound (now − delay) has passed the start.
          const left = startUs + delayUs - result.nowUs;
          if (this.delayMs === 0 || left <= 0n) return 'done';
          await this.sleep(Math.min(interval, Number(left / 1000n) + 1), signal);
          return 'busy';
        }
        return 'idle';
      },
    });
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }
}

/** What a capture waits out: the database or the log unreachable for now. */
function waitable(err: unknown): boolean {
  if (!isTributaryError(err)) return false;
  return err.code === 'POSTGRES_UNAVAILABLE' || (err.code.startsWith('LOG_') && err.retryable);
}
