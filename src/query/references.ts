/**
 * Finds the Delta table references in a SQL text, so each can be replaced by a view over
 * one table snapshot. Recognised after FROM and JOIN (including comma lists):
 *
 *   orders_events               a table name under <dataDir>/tables/ (dotted: gold.daily)
 *   "Orders"                    the same, quoted
 *   'path/to/table'             a path or URL (file://, s3://)
 *   delta_scan('path')          the same, in the duckdb-delta spelling
 *
 * each optionally followed by time travel, Spark's spelling or DuckDB's:
 *
 *   VERSION AS OF 3             TIMESTAMP AS OF '2026-01-01 00:00:00'
 *   AT (VERSION => 3)           AT (TIMESTAMP => '2026-01-01T00:00:00Z')
 *
 * `DESCRIBE orders` and `SUMMARIZE orders` at the start of a statement count too.
 *
 * Not a full SQL parser: FROM inside EXTRACT/SUBSTRING/TRIM/OVERLAY and after
 * IS [NOT] DISTINCT is not a table FROM; names defined by WITH are left alone; function
 * calls (read_parquet(...), range(...)) and subqueries are left alone.
 */
import { isKeyword, type Token, tokenize } from './sql-tokens.ts';

export type AsOf = { version: number } | { timestamp: string };

export interface TableRef {
  kind: 'name' | 'path';
  /** Table name (dotted parts joined with '.') or path/URL as written. */
  target: string;
  asOf?: AsOf;
  /** Source span [start, end) of the reference and its time travel clause. */
  start: number;
  end: number;
  /** The alias to append when the user wrote none, so `name.column` still resolves. */
  implicitAlias?: string;
}

/** Functions whose arguments use FROM as a keyword (`extract(year FROM ts)`). */
const FROM_FUNCTIONS = new Set(['EXTRACT', 'SUBSTRING', 'SUBSTR', 'TRIM', 'OVERLAY', 'POSITION']);

/** Words that end a table reference: a following one of these is not an alias. */
const NOT_ALIAS = new Set(
  (
    'WHERE GROUP ORDER LIMIT OFFSET HAVING QUALIFY WINDOW JOIN INNER LEFT RIGHT FULL OUTER CROSS ' +
    'NATURAL POSITIONAL ASOF ANTI SEMI ON USING UNION EXCEPT INTERSECT SELECT FROM TABLESAMPLE ' +
    'PIVOT UNPIVOT RETURNING VERSION TIMESTAMP FOR LATERAL WITH VALUES AT AS FETCH'
  ).split(' '),
);

/** Schemas that hold DuckDB's own objects, never Delta tables. */
const CATALOG_SCHEMAS = new Set(['information_schema', 'pg_catalog', 'main', 'temp', 'system', 'memory']);

export class SqlReferenceError extends Error {}

export function findTableRefs(sql: string): TableRef[] {
  const tokens = tokenize(sql);
  const ctes = cteNames(tokens);
  const refs: TableRef[] = [];
  // One frame per open parenthesis: the function it belongs to, if any.
  const frames: Array<{ fn?: string }> = [{}];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind === 'punct' && t.text === '(') {
      const prev = tokens[i - 1];
      frames.push({ fn: prev?.kind === 'word' ? prev.value.toUpperCase() : undefined });
    } else if (t.kind === 'punct' && t.text === ')') {
      if (frames.length > 1) frames.pop();
    } else if (isKeyword(t, 'FROM')) {
      const fn = frames[frames.length - 1].fn;
      if (fn !== undefined && FROM_FUNCTIONS.has(fn)) continue;
      if (isKeyword(tokens[i - 1], 'DISTINCT')) continue;
      parseRefList(tokens, i + 1, true, ctes, refs);
    } else if (isKeyword(t, 'JOIN')) {
      parseRefList(tokens, i + 1, false, ctes, refs);
    } else if ((isKeyword(t, 'DESCRIBE') || isKeyword(t, 'SUMMARIZE')) && startsStatement(tokens, i)) {
      // DuckDB's `DESCRIBE orders` / `SUMMARIZE orders` (a query after them is left alone);
      // these take no alias.
      const from = refs.length;
      parseRefList(tokens, i + 1, false, ctes, refs);
      for (const ref of refs.slice(from)) delete ref.implicitAlias;
    }
  }
  return refs;
}

/** True when token `i` begins a statement (the text's start, after `;` or an opening parenthesis). */
function startsStatement(tokens: Token[], i: number): boolean {
  const prev = tokens[i - 1];
  return prev === undefined || (prev.kind === 'punct' && (prev.text === ';' || prev.text === '('));
}

/** Names a WITH clause defines: `name AS (`, `name AS [NOT] MATERIALIZED (`, `name(cols) AS (`. */
function cteNames(tokens: Token[]): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== 'word' && t.kind !== 'quoted') continue;
    let j = i + 1;
    if (tokens[j]?.text === '(') j = skipParens(tokens, j);
    if (!isKeyword(tokens[j], 'AS')) continue;
    j++;
    if (isKeyword(tokens[j], 'NOT')) j++;
    if (isKeyword(tokens[j], 'MATERIALIZED')) j++;
    if (tokens[j]?.text === '(') names.add(t.value.toLowerCase());
  }
  return names;
}

/** Index after the parenthesis group that opens at `open`. */
function skipParens(tokens: Token[], open: number): number {
  let depth = 0;
  for (let j = open; j < tokens.length; j++) {
    if (tokens[j].text === '(' && tokens[j].kind === 'punct') depth++;
    else if (tokens[j].text === ')' && tokens[j].kind === 'punct') {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return tokens.length;
}

function parseRefList(tokens: Token[], i: number, commaList: boolean, ctes: Set<string>, out: TableRef[]) {
  for (let guard = 0; guard < tokens.length && i < tokens.length; guard++) {
    const next = parseRef(tokens, i, ctes, out);
    if (next === undefined || !commaList) return;
    i = skipAlias(tokens, next);
    if (tokens[i]?.text !== ',' || tokens[i].kind !== 'punct') return;
    i++;
  }
}

/** Parses one reference at `i`; records it if it is a Delta table; returns the index after it. */
function parseRef(tokens: Token[], i: number, ctes: Set<string>, out: TableRef[]): number | undefined {
  const t = tokens[i];
  if (t === undefined) return undefined;
  if (t.kind === 'punct' && t.text === '(') return skipParens(tokens, i);
  if (isKeyword(t, 'LATERAL')) return parseRef(tokens, i + 1, ctes, out);
  let ref: TableRef | undefined;
  let j: number;
  if (
    t.kind === 'word' &&
    t.value.toLowerCase() === 'delta_scan' &&
    tokens[i + 1]?.text === '(' &&
    tokens[i + 2]?.kind === 'string' &&
    tokens[i + 3]?.text === ')'
  ) {
    ref = { kind: 'path', target: tokens[i + 2].value, start: t.start, end: tokens[i + 3].end };
    j = i + 4;
  } else if (t.kind === 'string') {
    ref = { kind: 'path', target: t.value, start: t.start, end: t.end };
    j = i + 1;
  } else if (t.kind === 'word' || t.kind === 'quoted') {
    if (t.kind === 'word' && NOT_ALIAS.has(t.value.toUpperCase())) return undefined;
    const parts = [t.value];
    j = i + 1;
    while (tokens[j]?.text === '.' && (tokens[j + 1]?.kind === 'word' || tokens[j + 1]?.kind === 'quoted')) {
      parts.push(tokens[j + 1].value);
      j += 2;
    }
    // A function call (range(10), read_parquet(...)): not ours.
    if (tokens[j]?.text === '(' && tokens[j].kind === 'punct') return skipParens(tokens, j);
    const isCte = parts.length === 1 && ctes.has(parts[0].toLowerCase());
    const isCatalog = parts.length > 1 && CATALOG_SCHEMAS.has(parts[0].toLowerCase());
    if (isCte || isCatalog) return j;
    ref = { kind: 'name', target: parts.join('.'), start: t.start, end: tokens[j - 1].end };
  } else {
    return undefined;
  }
  j = parseAsOf(tokens, j, ref);
  if (!hasAlias(tokens, j)) {
    const name = ref.kind === 'name' ? ref.target.split('.').pop()! : pathAlias(ref.target);
    if (name !== undefined) ref.implicitAlias = name;
  }
  out.push(ref);
  return j;
}

/** Parses `VERSION AS OF n`, `TIMESTAMP AS OF 'ts'` or `AT (VERSION => n | TIMESTAMP => 'ts')`. */
function parseAsOf(tokens: Token[], j: number, ref: TableRef): number {
  const t = tokens[j];
  const spark = (isKeyword(t, 'VERSION') || isKeyword(t, 'TIMESTAMP')) && isKeyword(tokens[j + 1], 'AS');
  if (spark) {
    if (!isKeyword(tokens[j + 2], 'OF')) throw new SqlReferenceError(`expected OF after '${t.text} AS'`);
    const kind = t.value.toUpperCase();
    let k = j + 3;
    // Allow a typed literal: TIMESTAMP AS OF TIMESTAMP '...'.
    if (kind === 'TIMESTAMP' && isKeyword(tokens[k], 'TIMESTAMP') && tokens[k + 1]?.kind === 'string') k++;
    ref.asOf = asOfValue(kind, tokens[k], ref);
    ref.end = tokens[k].end;
    return k + 1;
  }
  if (isKeyword(t, 'AT') && tokens[j + 1]?.text === '(') {
    const kind = tokens[j + 2];
    if (!(isKeyword(kind, 'VERSION') || isKeyword(kind, 'TIMESTAMP')) || tokens[j + 3]?.text !== '=') {
      throw new SqlReferenceError(
        `expected AT (VERSION => n) or AT (TIMESTAMP => '...') after ${ref.target}`,
      );
    }
    if (tokens[j + 4]?.text !== '>')
      throw new SqlReferenceError(`expected '=>' in AT (...) after ${ref.target}`);
    let k = j + 5;
    if (isKeyword(tokens[k], 'TIMESTAMP') && tokens[k + 1]?.kind === 'string') k++;
    ref.asOf = asOfValue(kind.value.toUpperCase(), tokens[k], ref);
    if (tokens[k + 1]?.text !== ')')
      throw new SqlReferenceError(`expected ')' to close AT (...) after ${ref.target}`);
    ref.end = tokens[k + 1].end;
    return k + 2;
  }
  return j;
}

function asOfValue(kind: string, v: Token | undefined, ref: TableRef): AsOf {
  if (kind === 'VERSION') {
    if (v?.kind !== 'number' || !/^\d+$/.test(v.text)) {
      throw new SqlReferenceError(
        `VERSION AS OF needs a whole version number (after ${ref.target}), got ${v?.text ?? 'nothing'}`,
      );
    }
    return { version: Number(v.text) };
  }
  if (v?.kind !== 'string') {
    throw new SqlReferenceError(
      `TIMESTAMP AS OF needs a quoted timestamp such as '2026-01-01 00:00:00' (after ${ref.target}), got ${v?.text ?? 'nothing'}`,
    );
  }
  return { timestamp: v.value };
}

function hasAlias(tokens: Token[], j: number): boolean {
  const t = tokens[j];
  if (t === undefined) return false;
  if (isKeyword(t, 'AS')) return true;
  if (t.kind === 'quoted') return true;
  return t.kind === 'word' && !NOT_ALIAS.has(t.value.toUpperCase());
}

/** Index after an optional alias (`[AS] name [(col, ...)]`) at `j`. */
function skipAlias(tokens: Token[], j: number): number {
  if (!hasAlias(tokens, j)) return j;
  if (isKeyword(tokens[j], 'AS')) j++;
  j++;
  if (tokens[j]?.text === '(' && tokens[j].kind === 'punct') j = skipParens(tokens, j);
  return j;
}

/** A path's last segment as an alias (`'data/tables/orders'` → orders), if it is a plain name. */
function pathAlias(path: string): string | undefined {
  const last = path.replace(/\/+$/, '').split('/').pop() ?? '';
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(last) ? last : undefined;
}
