/**
 * What a window operator computes: the spec, its checks, and the parsing of aggregates
 * written as SQL (`count(DISTINCT user_id)`). Pure: no DuckDB here.
 */
import { TributaryError } from '../../core/errors.ts';

export type AggregateFn = 'count' | 'count_distinct' | 'sum' | 'min' | 'max' | 'avg';

export interface WindowAggregate {
  /** Output column name. */
  name: string;
  fn: AggregateFn;
  /** A SQL expression over the input row; absent only for count(*). */
  arg?: string;
}

export interface WindowSpec {
  kind: 'tumble' | 'hop';
  /** A TIMESTAMP or TIMESTAMPTZ column of the input relation. */
  timeColumn: string;
  sizeMs: number;
  /** hop only: the slide; sizeMs must be a whole multiple of it. */
  slideMs?: number;
  /** Group-by columns of the input (plain column names). */
  groupBy: string[];
  /** Output columns computed per (window, group). */
  aggregates: WindowAggregate[];
  /** Allowed lateness: watermark = max event time seen − this. */
  watermarkDelayMs: number;
  /** 'final': each window once, when the watermark passes its end; 'update': each batch emits the current value of every window it touched. */
  emit: 'final' | 'update';
}

/** Output columns the operator itself adds. */
export const WINDOW_COLUMNS = ['window_start', 'window_end'] as const;

const invalid = (message: string, details: Record<string, unknown> = {}) =>
  new TributaryError('CONFIG_INVALID', message, details);

const FUNCTIONS = 'count(*), count(x), count(DISTINCT x), sum(x), min(x), max(x), avg(x)';

/**
 * Index of the `)` closing the `(` at `open`, skipping SQL string literals ('...') and
 * quoted identifiers ("..."); -1 when unbalanced.
 */
function closingParen(sql: string, open: number): number {
  let depth = 0;
  for (let i = open; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      if (end < 0) return -1;
      i = end; // a doubled quote ('it''s') is two adjacent literals for this scan
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/**
 * An aggregate written as SQL, e.g. `count(*)`, `sum(amount * 2)`, `count(DISTINCT user_id)`.
 * The argument is any SQL expression over the input row; anything but the seven forms
 * above (`median(x)`, `sum(a) + sum(b)`, `sum(DISTINCT x)`) is refused with CONFIG_INVALID.
 */
export function parseAggregate(name: string, sql: string): WindowAggregate {
  const text = sql.trim();
  const refuse = (why: string) =>
    invalid(`aggregate '${name}': ${why} in '${sql}'; write one of ${FUNCTIONS}, where x is an expression`, {
      aggregate: name,
      sql,
    });
  const m = /^([A-Za-z_]+)\s*\(/.exec(text);
  if (!m) throw refuse('expected a function call');
  const open = m[0].length - 1;
  const close = closingParen(text, open);
  if (close < 0) throw refuse('unbalanced parentheses or quotes');
  if (close !== text.length - 1) throw refuse('only a single aggregate call is supported (nothing after it)');
  const fn = m[1].toLowerCase();
  let arg = text.slice(open + 1, close).trim();
  const distinct = /^distinct\b/i.exec(arg);
  if (distinct) arg = arg.slice(distinct[0].length).trim();
  if (arg === '') throw refuse('missing argument');
  if (fn === 'count') {
    if (arg === '*') {
      if (distinct) throw refuse('count(DISTINCT *) is not supported');
      return { name, fn: 'count' };
    }
    return { name, fn: distinct ? 'count_distinct' : 'count', arg };
  }
  if (fn === 'sum' || fn === 'min' || fn === 'max' || fn === 'avg') {
    if (distinct) throw refuse(`${fn}(DISTINCT ...) is not supported`);
    if (arg === '*') throw refuse(`${fn}(*) needs a column or expression`);
    return { name, fn, arg };
  }
  throw refuse(`unsupported aggregate function '${m[1]}'`);
}

const isWholeMs = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n);

/** Throws CONFIG_INVALID when the spec cannot work; says what to change. */
export function checkSpec(spec: WindowSpec, name: string): void {
  const at = `window '${name}'`;
  if (spec.kind !== 'tumble' && spec.kind !== 'hop') {
    throw invalid(`${at}: kind must be 'tumble' or 'hop', not '${spec.kind}'`);
  }
  if (typeof spec.timeColumn !== 'string' || spec.timeColumn === '') {
    throw invalid(`${at}: timeColumn must name a TIMESTAMP or TIMESTAMPTZ column of the input`);
  }
  if (!isWholeMs(spec.sizeMs) || spec.sizeMs <= 0) {
    throw invalid(`${at}: sizeMs must be a positive whole number of milliseconds, not ${spec.sizeMs}`);
  }
  if (spec.kind === 'hop') {
    const slide = spec.slideMs;
    if (!isWholeMs(slide) || slide <= 0) {
      throw invalid(`${at}: a hopping window needs slideMs, a positive whole number of milliseconds`);
    }
    if (spec.sizeMs % slide !== 0) {
      throw invalid(`${at}: sizeMs (${spec.sizeMs}) must be a whole multiple of slideMs (${slide})`);
    }
  } else if (spec.slideMs !== undefined && spec.slideMs !== spec.sizeMs) {
    throw invalid(`${at}: slideMs applies to hopping windows only; use kind 'hop' or remove slideMs`);
  }
  if (!isWholeMs(spec.watermarkDelayMs) || spec.watermarkDelayMs < 0) {
    throw invalid(`${at}: watermarkDelayMs must be a whole number of milliseconds ≥ 0`);
  }
  if (spec.emit !== 'final' && spec.emit !== 'update') {
    throw invalid(`${at}: emit must be 'final' or 'update', not '${spec.emit}'`);
  }
  if (spec.aggregates.length === 0) throw invalid(`${at}: give at least one aggregate`);
  const names = new Set<string>(WINDOW_COLUMNS);
  for (const g of spec.groupBy) {
    if (typeof g !== 'string' || g === '') throw invalid(`${at}: groupBy holds an empty column name`);
    if (names.has(g)) throw invalid(`${at}: output column '${g}' appears twice (or is reserved)`);
    names.add(g);
  }
  for (const a of spec.aggregates) {
    if (typeof a.name !== 'string' || a.name === '') throw invalid(`${at}: an aggregate has no name`);
    if (names.has(a.name)) {
      throw invalid(`${at}: output column '${a.name}' appears twice (or is reserved); rename the aggregate`);
    }
    names.add(a.name);
    const needsArg = a.fn !== 'count';
    if (!['count', 'count_distinct', 'sum', 'min', 'max', 'avg'].includes(a.fn)) {
      throw invalid(`${at}: aggregate '${a.name}' has unknown function '${a.fn}'; use ${FUNCTIONS}`);
    }
    if (needsArg && (a.arg === undefined || a.arg.trim() === '')) {
      throw invalid(`${at}: aggregate '${a.name}' (${a.fn}) needs an argument`);
    }
  }
}

/** Slide in ms: the size for tumbling windows. */
export const slideOf = (spec: WindowSpec): number => (spec.kind === 'hop' ? spec.slideMs! : spec.sizeMs);

/**
 * What the saved state's layout depends on: restoring state saved under a different
 * shape would mix incompatible partial aggregates. The delay and the emit mode may
 * change between runs (the watermark never moves back; open windows are emitted under
 * the new mode).
 */
export function stateShape(spec: WindowSpec): string {
  return JSON.stringify({
    kind: spec.kind,
    timeColumn: spec.timeColumn,
    sizeMs: spec.sizeMs,
    slideMs: slideOf(spec),
    groupBy: spec.groupBy,
    aggregates: spec.aggregates.map((a) => [a.name, a.fn, a.arg ?? null]),
  });
}
