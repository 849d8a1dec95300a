/**
 * The event-time window operator: tumbling and hopping windows with a watermark, over
 * micro-batches, in DuckDB SQL over whole batches. Semantics: index.ts.
 *
 * State, per operator, in temp tables on the runtime's connection:
 * - main: one row per open (window, group) with the partial aggregates;
 * - one table per count(DISTINCT x): the distinct non-NULL values per (window, group).
 * Each batch builds the next state from the current one and the batch (a GROUP BY over
 * their union) into fresh tables and drops the old ones: DuckDB does not give back the
 * memory of rows DELETEd from an in-memory table, while a dropped table's memory is
 * freed, so state memory follows the open windows. A batch that fails part-way leaves
 * the previous state in place (the operator switches tables only once all succeeded).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { checkSpec, stateShape, type WindowSpec } from './spec.ts';
import { type InputTypes, quoteIdent, sumType, TIMESTAMP_TYPES, WindowSql } from './sql.ts';
import { descriptorPath, readDescriptor, readTable, type SavedWindowState, writeTable } from './state-io.ts';

export interface WindowBatchResult {
  /** Temp table: window_start, window_end, the group columns, the aggregates. */
  emitted: string;
  emittedRows: number;
  /** Temp table: `_p`, `_o` and the time column of the batch's late rows (and of rows whose time is NULL). */
  late: string;
  lateRows: number;
  /** Watermark after the batch, ms since the epoch (fractional if event times have µs); null until the first on-time row. */
  watermarkMs: number | null;
}

export interface OutputColumn {
  name: string;
  type: string;
}

const invalid = (message: string, details: Record<string, unknown> = {}) =>
  new TributaryError('CONFIG_INVALID', message, details);

export class WindowOperator {
  readonly spec: WindowSpec;
  readonly name: string;
  private readonly base: string;
  /** The operator's name as used in the names of its saved objects. */
  private readonly fileName: string;
  private sql?: WindowSql;
  private types?: InputTypes;
  private watermark: number | null = null;
  /** Which of the two table sets holds the state; undefined before the first batch. */
  private slot?: 0 | 1;

  /**
   * `instance` tells apart several operators of one window on a connection (one per source
   * partition, with state kept per partition: partitioned.ts) in their tables' names.
   */
  constructor(spec: WindowSpec, name: string, instance?: string) {
    checkSpec(spec, name);
    this.spec = spec;
    this.name = name;
    this.fileName = name.replace(/[^A-Za-z0-9_]/g, '_');
    this.base = `__win_${this.fileName}${instance === undefined ? '' : `__${instance}`}`;
  }

  /** Watermark in µs since the epoch; null before the first on-time row. */
  get watermarkUs(): number | null {
    return this.watermark;
  }

  private main(slot: 0 | 1): string {
    return `${this.base}_s${slot}`;
  }

  private distinct(k: number, slot: 0 | 1): string {
    return `${this.base}_d${k}_${slot}`;
  }

  private get distinctCount(): number {
    return this.spec.aggregates.filter((a) => a.fn === 'count_distinct').length;
  }

  /** Every table name this operator may create on a connection. */
  private allTables(): string[] {
    const names = ['b', 'all', 'emitted', 'late'].map((t) => `${this.base}_${t}`);
    for (const slot of [0, 1] as const) {
      names.push(this.main(slot));
      for (let k = 0; k < this.distinctCount; k++) names.push(this.distinct(k, slot));
    }
    for (let k = 0; k < this.distinctCount; k++) names.push(`${this.base}_dall${k}`);
    return names;
  }

  /**
   * Starts on `conn` with empty state, or with the state `save` returned (read from
   * `store`). The state tables themselves are created by the first batch, which gives
   * their column types. Refuses (CONFIG_INVALID) state saved under another window shape.
   */
  async open(conn: DuckDBConnection, from?: { store: ObjectStore; state: SavedWindowState }): Promise<void> {
    for (const t of this.allTables()) await conn.run(`DROP TABLE IF EXISTS ${t}`);
    this.watermark = null;
    this.slot = undefined;
    this.sql = undefined;
    if (from === undefined) return;
    const { store, state } = from;
    if (state.shape !== stateShape(this.spec)) {
      throw invalid(
        `window '${this.name}': the saved state was kept for another window definition (${state.shape}); the state holds partial aggregates of that definition and cannot serve this one (${stateShape(this.spec)}): restore the old definition, or start the window from empty state under a new name`,
        { window: this.name },
      );
    }
    if (state.tables !== null) {
      if (state.tables.distinct.length !== this.distinctCount) {
        throw new TributaryError(
          'INPUT_INVALID',
          `window '${this.name}': saved state has the wrong number of tables`,
        );
      }
      await readTable(conn, state.tables.main, store, this.main(0));
      for (const [k, t] of state.tables.distinct.entries())
        await readTable(conn, t, store, this.distinct(k, 0));
      this.slot = 0;
    }
    this.watermark = state.watermarkUs;
  }

  /** Reads the descriptor `save` wrote under `prefix` (to pass to `open`). */
  readSaved(store: ObjectStore, prefix: string): Promise<SavedWindowState> {
    return readDescriptor(store, prefix, this.fileName);
  }

  /**
   * Checks the input relation against the spec: `_p`, `_o`, a timestamp time column,
   * the group columns, aggregate arguments DuckDB can bind and types each function
   * accepts. Returns the output columns. CONFIG_INVALID, naming what to change, otherwise.
   * Runs on an empty relation too (validation before anything runs).
   */
  async check(conn: DuckDBConnection, input: string): Promise<OutputColumn[]> {
    const at = `window '${this.name}'`;
    const describe = async (expr: string) =>
      String((await conn.runAndReadAll(`DESCRIBE SELECT ${expr} FROM ${input}`)).getRows()[0][1]);
    const columns = new Map<string, string>();
    for (const r of (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${input}`)).getRows()) {
      columns.set(String(r[0]).toLowerCase(), String(r[1]));
    }
    const column = (name: string, role: string): string => {
      const type = columns.get(name.toLowerCase());
      if (type === undefined) {
        throw invalid(
          `${at}: ${role} '${name}' is not a column of the input (columns: ${[...columns.keys()].join(', ')})`,
          { window: this.name, column: name },
        );
      }
      return type;
    };
    column('_p', 'the source partition column');
    column('_o', 'the source offset column');
    const time = column(this.spec.timeColumn, 'time column');
    if (!TIMESTAMP_TYPES.has(time)) {
      throw invalid(
        `${at}: time column '${this.spec.timeColumn}' is ${time}; a window needs a TIMESTAMP or TIMESTAMPTZ column (cast it in a transform before the window)`,
        { window: this.name, column: this.spec.timeColumn },
      );
    }
    const out: OutputColumn[] = [];
    const wtype = time === 'TIMESTAMP WITH TIME ZONE' ? 'TIMESTAMP WITH TIME ZONE' : 'TIMESTAMP';
    out.push({ name: 'window_start', type: wtype }, { name: 'window_end', type: wtype });
    for (const g of this.spec.groupBy) out.push({ name: g, type: column(g, 'group-by column') });
    const sumTypes: Array<string | undefined> = [];
    for (const a of this.spec.aggregates) {
      let argType: string | undefined;
      if (a.arg !== undefined) {
        try {
          argType = await describe(`(${a.arg})`);
        } catch (err) {
          if (!isTributaryError(err) || err.domain === 'external') throw err;
          throw invalid(`${at}: aggregate '${a.name}' = ${a.fn}(${a.arg}): ${err.message}`, {
            window: this.name,
            aggregate: a.name,
          });
        }
      }
      let st: string | undefined;
      if (a.fn === 'sum' || a.fn === 'avg') {
        st = sumType(argType!);
        if (st === undefined) {
          throw invalid(
            `${at}: aggregate '${a.name}' = ${a.fn}(${a.arg}) needs a number, and ${a.arg} is ${argType}`,
            { window: this.name, aggregate: a.name },
          );
        }
      }
      sumTypes.push(a.fn === 'sum' || a.fn === 'avg' ? st : undefined);
      const type =
        a.fn === 'count' || a.fn === 'count_distinct'
          ? 'BIGINT'
          : a.fn === 'avg'
            ? 'DOUBLE'
            : a.fn === 'sum'
              ? st!
              : argType!;
      out.push({ name: a.name, type });
    }
    this.types = { time, sumTypes };
    return out;
  }

  /**
   * Adds one batch (`input`: a table or view name, or a parenthesised subquery, with
   * `_p`, `_o` and the spec's columns). Reads `input` twice (late rows, then the
   * on-time rows' partials), plus once per count(DISTINCT). The returned temp tables are
   * replaced by the next call. Not idempotent: a batch retried after it succeeded here
   * (a sink failed) must start from the state saved before it (`open` with it).
   */
  async process(conn: DuckDBConnection, input: string): Promise<WindowBatchResult> {
    if (this.sql === undefined) {
      await this.check(conn, input);
      this.sql = new WindowSql(this.spec, this.types!);
    }
    const sql = this.sql;
    const t = (s: string) => `${this.base}_${s}`;
    const wm0 = this.watermark;
    const late = t('late');
    await conn.run(`CREATE OR REPLACE TEMP TABLE ${late} AS ${sql.late(input, wm0)}`);

    // Each statement reads `input` again: materializing its narrow columns once cost
    // more (13 ms per 100,000 rows with a count distinct) than it saved.
    const onTime = sql.onTime(input, wm0);
    const distinct = sql.distinctIndices;
    await conn.run(`CREATE OR REPLACE TEMP TABLE ${t('b')} AS ${sql.batchPanes(onTime)}`);
    const maxT = (await conn.runAndReadAll(`SELECT max(__maxt) FROM ${t('b')}`)).getRows()[0][0];
    let wm1 = wm0;
    if (maxT !== null) {
      const candidate = Number(maxT) - this.spec.watermarkDelayMs * 1000;
      wm1 = wm0 === null ? candidate : Math.max(wm0, candidate);
    }

    const cur = this.slot;
    const next: 0 | 1 = cur === 0 ? 1 : 0;
    const all: string[] = [];
    for (const [k, i] of distinct.entries()) {
      const from = cur === undefined ? undefined : this.distinct(k, cur);
      await conn.run(`CREATE OR REPLACE TEMP TABLE ${t(`dall${k}`)} AS ${sql.distinctAll(from, onTime, i)}`);
      all.push(t(`dall${k}`));
    }
    const state = cur === undefined ? undefined : this.main(cur);
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE ${t('all')} AS ${sql.combined(state, t('b'), all, wm0, wm1)}`,
    );
    await conn.run(`CREATE OR REPLACE TEMP TABLE ${t('emitted')} AS ${sql.emitted(t('all'), wm1)}`);
    await conn.run(`CREATE OR REPLACE TEMP TABLE ${this.main(next)} AS ${sql.kept(t('all'), wm1)}`);
    for (const k of distinct.keys()) {
      await conn.run(
        `CREATE OR REPLACE TEMP TABLE ${this.distinct(k, next)} AS ${sql.keptDistinct(all[k], wm1)}`,
      );
    }
    // All built: switch, then free what the batch no longer needs.
    this.slot = next;
    this.watermark = wm1;
    const drop = [t('b'), t('all'), ...all];
    if (cur !== undefined) drop.push(this.main(cur), ...distinct.map((_, k) => this.distinct(k, cur)));
    for (const d of drop) await conn.run(`DROP TABLE IF EXISTS ${d}`);

    const counts = (
      await conn.runAndReadAll(
        `SELECT (SELECT count(*) FROM ${t('emitted')}), (SELECT count(*) FROM ${late})`,
      )
    ).getRows()[0];
    return {
      emitted: t('emitted'),
      emittedRows: Number(counts[0]),
      late,
      lateRows: Number(counts[1]),
      watermarkMs: wm1 === null ? null : wm1 / 1000,
    };
  }

  /** Rows held: open (window, group) pairs, and distinct values over all count(DISTINCT). */
  async stateRows(conn: DuckDBConnection): Promise<{ windows: number; distinctValues: number }> {
    if (this.slot === undefined) return { windows: 0, distinctValues: 0 };
    const slot = this.slot;
    const parts = [`(SELECT count(*) FROM ${this.main(slot)})`];
    for (let k = 0; k < this.distinctCount; k++)
      parts.push(`(SELECT count(*) FROM ${this.distinct(k, slot)})`);
    const row = (await conn.runAndReadAll(`SELECT ${parts.join(', ')}`)).getRows()[0].map(Number);
    return { windows: row[0], distinctValues: row.slice(1).reduce((a, b) => a + b, 0) };
  }

  /**
   * Writes the state as it stands (after the last `process`) under `prefix` in `store`:
   * `<name>.main.parquet`, `<name>.distinct-<k>.parquet`, then `<name>.json` (the
   * descriptor, returned too). Use a fresh prefix per saved version: files are replaced
   * in place otherwise, and a crash mid-save would mix two versions.
   */
  async save(conn: DuckDBConnection, store: ObjectStore, prefix: string): Promise<SavedWindowState> {
    const fileName = this.fileName;
    const dir = prefix.replace(/\/+$/, '');
    let tables: SavedWindowState['tables'] = null;
    if (this.slot !== undefined) {
      const slot = this.slot;
      const main = await writeTable(conn, this.main(slot), store, `${dir}/${fileName}.main.parquet`);
      const distinct = [];
      for (let k = 0; k < this.distinctCount; k++) {
        distinct.push(
          await writeTable(conn, this.distinct(k, slot), store, `${dir}/${fileName}.distinct-${k}.parquet`),
        );
      }
      tables = { main, distinct };
    }
    const state: SavedWindowState = {
      format: 1,
      name: this.name,
      shape: stateShape(this.spec),
      watermarkUs: this.watermark,
      tables,
    };
    await store.put(descriptorPath(dir, fileName), new TextEncoder().encode(`${JSON.stringify(state)}\n`));
    return state;
  }

  /** Drops every table of this operator on `conn`. */
  async close(conn: DuckDBConnection): Promise<void> {
    for (const t of this.allTables()) await conn.run(`DROP TABLE IF EXISTS ${t}`);
    this.slot = undefined;
  }

  /** One line per piece of state, for `pipeline explain`. */
  describeState(): string[] {
    const s = this.spec;
    const lines = [
      `window '${this.name}': ${s.kind} ${s.sizeMs} ms${s.kind === 'hop' ? ` every ${s.slideMs} ms` : ''} on ${quoteIdent(s.timeColumn)}, watermark = max event time − ${s.watermarkDelayMs} ms, emit ${s.emit}`,
      `  state: one row per open (window, ${s.groupBy.length ? s.groupBy.join(', ') : 'no group'}) with partial aggregates; windows ending at or before the watermark are dropped`,
    ];
    for (const a of s.aggregates.filter((x) => x.fn === 'count_distinct')) {
      lines.push(`  state: the distinct values of ${a.arg} per open (window, group), for ${a.name}`);
    }
    return lines;
  }
}
