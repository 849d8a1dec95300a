/**
 * The SQL of the window operator, built from the spec and the input's types. Pure text:
 * operator.ts runs it.
 *
 * Internal column names (so that no user column can clash with them):
 * - `__t`: event time in microseconds since the epoch (BIGINT); `__ps`: start of the
 *   slide-wide pane holding the row; `__ws`: window start (µs);
 * - `g0..`: the group columns;
 * - per aggregate i: `a{i}_n` (a count: count, and avg's divisor), `a{i}_s` (a sum: sum,
 *   and avg's dividend), `a{i}_m` (min or max), `a{i}_d` (count distinct, only in the
 *   combined table: it is recounted from the distinct values each batch);
 * - the distinct values of a count(DISTINCT x): `__ps`, `g0..`, `v`.
 */
import type { AggregateFn, WindowSpec } from './spec.ts';
import { slideOf } from './spec.ts';

// Local quoting: identical to the project's, kept here so stream does not import quality.
export const quoteIdent = (s: string): string => `"${s.replaceAll('"', '""')}"`;
export const quoteString = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/** Types the operator learned from its input (operator.ts `inspect`). */
export interface InputTypes {
  /** Type of the time column as DuckDB names it. */
  time: string;
  /** Per aggregate: the type its sum is kept and emitted as (sum and avg), else undefined. */
  sumTypes: Array<string | undefined>;
}

const INT_TO_BIGINT = new Set([
  'TINYINT',
  'SMALLINT',
  'INTEGER',
  'BIGINT',
  'UTINYINT',
  'USMALLINT',
  'UINTEGER',
]);

/**
 * The type a sum of `type` is kept and emitted as, or undefined when it cannot be summed.
 * Delta has no 128-bit integer, and DuckDB's sum of integers is HUGEINT (which Parquet
 * would store as a DOUBLE, rounding silently): integers up to 64 bits sum as BIGINT, exact
 * up to ±9.2·10^18 and failing loudly beyond (DUCKDB_DATA); wider or unsigned 64-bit ones
 * as DECIMAL(38,0); decimals as DECIMAL(38, scale) like DuckDB; floats as DOUBLE (whose
 * sums depend on the order of addition, so only integer and decimal sums are exactly the
 * same under any batching).
 */
export function sumType(type: string): string | undefined {
  if (INT_TO_BIGINT.has(type)) return 'BIGINT';
  if (type === 'UBIGINT' || type === 'HUGEINT' || type === 'UHUGEINT') return 'DECIMAL(38,0)';
  const dec = /^DECIMAL\((\d+),(\d+)\)$/.exec(type);
  if (dec) return `DECIMAL(38,${dec[2]})`;
  if (type === 'FLOAT' || type === 'DOUBLE') return 'DOUBLE';
  return undefined;
}

export const TIMESTAMP_TYPES = new Set([
  'TIMESTAMP',
  'TIMESTAMP WITH TIME ZONE',
  'TIMESTAMP_S',
  'TIMESTAMP_MS',
  'TIMESTAMP_NS',
]);

/**
 * Per aggregate function: its partial columns, how a batch computes them from the
 * argument `x`, how partials of the same (window, group) merge, and the output.
 * `st` is the sum type (sumType). count(DISTINCT) has no partial in the main state: its
 * count `a{i}_d` is recounted from the distinct values each batch.
 */
interface Form {
  partials: (i: number) => string[];
  batch: (i: number, x: string, st?: string) => string[];
  merge: (i: number, st?: string) => string[];
  output: (i: number) => string;
}

const FORMS: Record<AggregateFn, Form> = {
  count: {
    partials: (i) => [`a${i}_n`],
    batch: (i, x) => [`count(${x}) AS a${i}_n`],
    merge: (i) => [`sum(a${i}_n)::BIGINT AS a${i}_n`],
    output: (i) => `a${i}_n`,
  },
  sum: {
    partials: (i) => [`a${i}_s`],
    batch: (i, x, st) => [`sum(${x})::${st} AS a${i}_s`],
    merge: (i, st) => [`sum(a${i}_s)::${st} AS a${i}_s`],
    output: (i) => `a${i}_s`,
  },
  avg: {
    partials: (i) => [`a${i}_s`, `a${i}_n`],
    batch: (i, x, st) => [`sum(${x})::${st} AS a${i}_s`, `count(${x}) AS a${i}_n`],
    merge: (i, st) => [`sum(a${i}_s)::${st} AS a${i}_s`, `sum(a${i}_n)::BIGINT AS a${i}_n`],
    output: (i) => `a${i}_s::DOUBLE / a${i}_n`,
  },
  min: {
    partials: (i) => [`a${i}_m`],
    batch: (i, x) => [`min(${x}) AS a${i}_m`],
    merge: (i) => [`min(a${i}_m) AS a${i}_m`],
    output: (i) => `a${i}_m`,
  },
  max: {
    partials: (i) => [`a${i}_m`],
    batch: (i, x) => [`max(${x}) AS a${i}_m`],
    merge: (i) => [`max(a${i}_m) AS a${i}_m`],
    output: (i) => `a${i}_m`,
  },
  count_distinct: {
    partials: () => [],
    batch: () => [],
    merge: (i) => [`coalesce(sum(a${i}_d), 0)::BIGINT AS a${i}_d`],
    output: (i) => `a${i}_d`,
  },
};

export class WindowSql {
  private readonly spec: WindowSpec;
  private readonly types: InputTypes;
  readonly sizeUs: number;
  readonly slideUs: number;
  /** Windows per row: size / slide. */
  readonly perRow: number;
  private readonly groups: string[];

  constructor(spec: WindowSpec, types: InputTypes) {
    this.spec = spec;
    this.types = types;
    this.sizeUs = spec.sizeMs * 1000;
    this.slideUs = slideOf(spec) * 1000;
    this.perRow = spec.sizeMs / slideOf(spec);
    this.groups = spec.groupBy.map((_, j) => `g${j}`);
  }

  /** `__ws, g0, g1, ...` */
  get key(): string {
    return ['__ws', ...this.groups].join(', ');
  }

  private get paneGroups(): string {
    return ['__ps', ...this.groups].join(', ');
  }

  /** Indices of the count(DISTINCT) aggregates. */
  get distinctIndices(): number[] {
    return this.spec.aggregates.flatMap((a, i) => (a.fn === 'count_distinct' ? [i] : []));
  }

  /**
   * The batch's on-time rows as narrow columns: `__t`, `g0..`, `x{i}` (aggregate arguments).
   * A row is on time when its event time is not NULL and not before `watermarkUs`.
   */
  onTime(input: string, watermarkUs: number | null): string {
    const cols = [
      `epoch_us(${quoteIdent(this.spec.timeColumn)}) AS __t`,
      ...this.spec.groupBy.map((g, j) => `${quoteIdent(g)} AS g${j}`),
      ...this.spec.aggregates.flatMap((a, i) => (a.arg === undefined ? [] : [`(${a.arg}) AS x${i}`])),
    ];
    const wm = watermarkUs === null ? '' : ` AND __t >= ${watermarkUs}`;
    return `(SELECT * FROM (SELECT ${cols.join(', ')} FROM ${input}) WHERE __t IS NOT NULL${wm})`;
  }

  /** Late rows: event time before `watermarkUs`, or NULL (no window can hold them). */
  late(input: string, watermarkUs: number | null): string {
    const t = quoteIdent(this.spec.timeColumn);
    const cond = watermarkUs === null ? `${t} IS NULL` : `${t} IS NULL OR epoch_us(${t}) < ${watermarkUs}`;
    return `SELECT _p, _o, ${t} FROM ${input} WHERE ${cond}`;
  }

  private pane(t: string): string {
    const p = this.slideUs;
    return `(${t} - ((${t} % ${p}) + ${p}) % ${p})`;
  }

  /** Partial aggregates of the on-time rows per (pane, group), with the newest event time. */
  batchPanes(onTime: string): string {
    const parts = this.spec.aggregates.flatMap((a, i) =>
      FORMS[a.fn].batch(i, a.arg === undefined ? '*' : `x${i}`, this.types.sumTypes[i]),
    );
    return `SELECT ${this.pane('__t')} AS __ps, ${this.groups.map((g) => `${g}, `).join('')}${parts.join(', ')}${parts.length ? ', ' : ''}max(__t) AS __maxt FROM ${onTime} GROUP BY ${this.paneGroups}`;
  }

  /** Rows per (pane, group) of `table` re-keyed by every window holding the pane. */
  private toWindows(table: string, cols: string[]): string {
    const rest = [...this.groups, ...cols].join(', ');
    if (this.perRow === 1) return `SELECT __ps AS __ws, ${rest} FROM ${table}`;
    return `SELECT __ps - __j * ${this.slideUs} AS __ws, ${rest} FROM ${table} CROSS JOIN range(${this.perRow}) AS __r(__j)`;
  }

  /**
   * The distinct non-NULL values of aggregate i's argument per (pane, group): those of
   * the state (if any) and of the batch's on-time rows, in one hash dedup. Kept per pane,
   * not per window: a hopping window's values would be held size/slide times over.
   */
  distinctAll(state: string | undefined, onTime: string, i: number): string {
    const batch = `SELECT ${this.pane('__t')} AS __ps, ${this.groups.map((x) => `${x}, `).join('')}x${i} AS v FROM ${onTime} WHERE x${i} IS NOT NULL`;
    return state === undefined
      ? `SELECT DISTINCT * FROM (${batch})`
      : `SELECT * FROM ${state} UNION ${batch}`;
  }

  /**
   * Count of distinct values per (window, group) from the pane table `all`, for the
   * windows matching `counted`; `panes`: a condition on `__ps` that keeps every pane of
   * those windows (and is cheap to test before copying panes to windows).
   */
  private distinctCounts(all: string, i: number, counted: string, panes: string): string {
    const perWindow = this.toWindows(`(SELECT * FROM ${all} WHERE ${panes})`, ['v']);
    // A tumbling window is one pane, whose values are distinct already. Else a DISTINCT
    // then a count: faster in DuckDB than count(DISTINCT v) per group (one hash table
    // instead of one per group).
    const rows = `SELECT * FROM (${perWindow}) WHERE ${counted}`;
    const distinct = this.perRow === 1 ? rows : `SELECT DISTINCT * FROM (${rows})`;
    return `SELECT ${this.key}, count(*) AS a${i}_d FROM (${distinct}) GROUP BY ${this.key}`;
  }

  /** Partial column names of the main state table. */
  get partialColumns(): string[] {
    return this.spec.aggregates.flatMap((a, i) => FORMS[a.fn].partials(i));
  }

  /**
   * State and batch combined per (window, group): merged partials, the distinct counts
   * (`distinct[k]` is the table of all distinct values of the k-th count distinct), and
   * `__touched` (whether the batch added to the window). The watermark `before` and
   * after (`watermarkUs`) the batch.
   */
  combined(
    state: string | undefined,
    panes: string,
    distinct: string[],
    before: number | null,
    watermarkUs: number | null,
  ): string {
    const partials = this.partialColumns;
    const branches: string[] = [];
    if (state !== undefined) {
      branches.push(`SELECT ${[this.key, ...partials].join(', ')}, false AS __touched FROM ${state}`);
    }
    const fromBatch = this.toWindows(panes, partials);
    branches.push(`SELECT *, true AS __touched FROM (${fromBatch})`);
    // Distinct values are counted only for the windows this batch may emit (a count is
    // not kept in the state): those closing now ('final': their panes start before the
    // watermark; panes outlive the earlier windows holding them, which closed before),
    // the batch's windows ('update': their panes end after its first pane minus the size).
    const counted =
      this.spec.emit === 'final'
        ? `${this.closed(watermarkUs)} AND NOT (${this.closed(before)})`
        : `__ws IN (SELECT DISTINCT __ws FROM (${fromBatch}))`;
    const paneRange =
      this.spec.emit === 'final'
        ? watermarkUs === null
          ? 'false'
          : `__ps < ${watermarkUs}`
        : `__ps > (SELECT min(__ps) FROM ${panes}) - ${this.sizeUs}`;
    this.distinctIndices.forEach((i, k) => {
      branches.push(this.distinctCounts(distinct[k], i, counted, paneRange));
    });
    const merged = this.spec.aggregates.flatMap((a, i) => FORMS[a.fn].merge(i, this.types.sumTypes[i]));
    const union = branches.map((b) => `(${b})`).join(' UNION ALL BY NAME ');
    return `SELECT ${this.key}, ${merged.join(', ')}, bool_or(__touched) AS __touched FROM (${union}) GROUP BY ${this.key}`;
  }

  /** SQL condition: the window is closed under `watermarkUs`. */
  closed(watermarkUs: number | null): string {
    return watermarkUs === null ? 'false' : `__ws + ${this.sizeUs} <= ${watermarkUs}`;
  }

  /** What a batch emits from the combined table. */
  emitted(combined: string, watermarkUs: number | null): string {
    const ts = this.types.time === 'TIMESTAMP WITH TIME ZONE' ? 'make_timestamptz' : 'make_timestamp';
    const cols = [
      `${ts}(__ws) AS window_start`,
      `${ts}(__ws + ${this.sizeUs}) AS window_end`,
      ...this.spec.groupBy.map((g, j) => `g${j} AS ${quoteIdent(g)}`),
      ...this.spec.aggregates.map((a, i) => `${FORMS[a.fn].output(i)} AS ${quoteIdent(a.name)}`),
    ];
    const which = this.spec.emit === 'final' ? this.closed(watermarkUs) : '__touched';
    return `SELECT ${cols.join(', ')} FROM ${combined} WHERE ${which}`;
  }

  /** The state to keep from the combined table: windows still open. */
  kept(combined: string, watermarkUs: number | null): string {
    return `SELECT ${[this.key, ...this.partialColumns].join(', ')} FROM ${combined} WHERE NOT (${this.closed(watermarkUs)})`;
  }

  /** Panes still in an open window: the last window holding pane p ends at p + size. */
  keptDistinct(all: string, watermarkUs: number | null): string {
    const closed = watermarkUs === null ? 'false' : `__ps + ${this.sizeUs} <= ${watermarkUs}`;
    return `SELECT * FROM ${all} WHERE NOT (${closed})`;
  }
}
