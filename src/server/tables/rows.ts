/**
 * One page of a table's rows at one snapshot, read with DuckDB over the snapshot's
 * Parquet files (as src/query/ reads tables), in a total order: the requested sort
 * columns (nulls last), then the row's data file and its position in that file. A page
 * after a cursor is the rows strictly after the cursor's key in that order (keyset
 * pagination): no row is skipped or repeated, however deep the page.
 *
 * Without sort columns the order is the files' own, so a page reads only the files from
 * the cursor's file on, a few at a time, until it has its rows: deep pages of a large
 * table cost what the page costs, not a scan of the table.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import { quoteIdent, quoteString } from '../../core/sql.ts';
import { exactValueConverter } from '../../query/results.ts';
import {
  FILE_COLUMN,
  type Filter,
  filesRelation,
  openConnection,
  ROW_COLUMN,
  type ScanFile,
  type Snapshot,
  scan,
} from '../../table/index.ts';
import { filtersToSql } from '../../table/read/filter.ts';
import type { DataType } from '../../table/schema.ts';
import { fileRows } from '../../table/summary.ts';
import { duckType } from '../../table/types.ts';
import type { TableHandle } from '../../table/write/table-handle.ts';
import { requestInvalid } from '../http-errors.ts';
import type { OrderKey } from './row-params.ts';

export interface PageRequest {
  table: TableHandle;
  snapshot: Snapshot;
  /** Schema names to answer; default all. */
  columns?: string[];
  filters: Filter[];
  order: OrderKey[];
  limit: number;
  /** The cursor's key: rows strictly after it. */
  after?: Array<string | null>;
  /** The query is interrupted after this long (HTTP_TIMEOUT). */
  timeoutMs: number;
}

export interface Page {
  columns: Array<{ name: string; type: DataType }>;
  rows: Record<string, unknown>[];
  /** The key of the page's last row when more rows follow. */
  next?: Array<string | null>;
}

interface Key {
  expr: string;
  duck: string;
  desc: boolean;
}

const KEY_PREFIX = '__tributary_k';

/** UTF-8 byte order: how DuckDB compares VARCHAR, so files are taken in the query's order. */
function byPath(a: ScanFile, b: ScanFile): number {
  return Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));
}

/** SQL for "the row's key comes after `after`" in the ORDER BY of `keys` (nulls last). */
function afterSql(keys: Key[], after: Array<string | null>): string {
  const lit = (i: number) => `CAST(${quoteString(after[i]!)} AS ${keys[i].duck})`;
  const terms: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const equal = keys
      .slice(0, i)
      .map((k, j) => (after[j] === null ? `${k.expr} IS NULL` : `${k.expr} = ${lit(j)}`));
    // Nothing sorts after a null (nulls last): this term holds for no row.
    if (after[i] === null) continue;
    const beyond = `(${keys[i].expr} ${keys[i].desc ? '<' : '>'} ${lit(i)} OR ${keys[i].expr} IS NULL)`;
    terms.push([...equal, beyond].join(' AND '));
  }
  return terms.length === 0 ? 'false' : terms.map((t) => `(${t})`).join(' OR ');
}

async function selectPage(
  conn: DuckDBConnection,
  req: PageRequest,
  files: ScanFile[],
  keys: Key[],
  limit: number,
): Promise<Record<string, unknown>[]> {
  const { snapshot } = req;
  const rel = await filesRelation(conn, files, snapshot.schema, snapshot.partitionColumns, {
    withFile: true,
    withRowNumber: true,
  });
  const names = req.columns ?? snapshot.schema.fields.map((f) => f.name);
  const select = [
    ...names.map(quoteIdent),
    ...keys.map((k, i) => `CAST(${k.expr} AS VARCHAR) AS ${KEY_PREFIX}${i}`),
  ].join(', ');
  const where: string[] = [];
  if (req.filters.length > 0) where.push(filtersToSql(req.filters, snapshot.schema, quoteIdent, duckType));
  if (req.after !== undefined) where.push(`(${afterSql(keys, req.after)})`);
  const order = keys.map((k) => `${k.expr}${k.desc ? ' DESC' : ''} NULLS LAST`).join(', ');
  const sql =
    `SELECT ${select} FROM (${rel}) AS __t` +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${order} LIMIT ${limit}`;
  const reader = await conn.runAndReadAll(sql);
  return reader.convertRowObjects(exactValueConverter) as Record<string, unknown>[];
}

/** Files in groups whose rows (by their statistics) reach `need`, for reading a few at a time. */
function* batches(files: ScanFile[], need: () => number): Generator<ScanFile[]> {
  let i = 0;
  while (i < files.length) {
    const batch: ScanFile[] = [];
    let rows = 0;
    while (i < files.length && rows < need() && batch.length < 256) {
      batch.push(files[i]);
      rows += fileRows(files[i].add.stats) ?? 0;
      i++;
    }
    if (batch.length === 0) return;
    yield batch;
  }
}

export async function readPage(req: PageRequest): Promise<Page> {
  const { snapshot } = req;
  const keys: Key[] = [
    ...req.order.map((k) => ({ expr: quoteIdent(k.column), duck: duckType(k.type), desc: k.desc })),
    { expr: FILE_COLUMN, duck: 'VARCHAR', desc: false },
    { expr: ROW_COLUMN, duck: 'BIGINT', desc: false },
  ];
  const names = req.columns ?? snapshot.schema.fields.map((f) => f.name);
  const types = new Map(snapshot.schema.fields.map((f) => [f.name, f.type]));
  const conn = await openConnection();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.interrupt();
  }, req.timeoutMs);
  const want = req.limit + 1;
  let rows: Record<string, unknown>[] = [];
  try {
    let files = (await scan(req.table, snapshot, { filter: req.filters })).sort(byPath);
    if (req.order.length > 0) {
      rows = await selectPage(conn, req, files, keys, want);
    } else {
      const afterFile = req.after?.[keys.length - 2];
      if (afterFile != null)
        files = files.filter((f) => Buffer.compare(Buffer.from(f.path), Buffer.from(afterFile)) >= 0);
      for (const batch of batches(files, () => want - rows.length)) {
        if (timedOut) break;
        rows.push(...(await selectPage(conn, req, batch, keys, want - rows.length)));
        if (rows.length >= want) break;
      }
    }
    if (timedOut) throw timeout(req.timeoutMs);
  } catch (err) {
    if (timedOut) throw timeout(req.timeoutMs, err);
    if (req.after !== undefined && isTributaryError(err, 'DUCKDB_DATA')) {
      throw requestInvalid(
        'querystring.cursor',
        'the cursor holds a value that is not of its column (pass nextCursor as it came)',
      );
    }
    throw err;
  } finally {
    clearTimeout(timer);
    conn.closeSync();
  }
  const more = rows.length > req.limit;
  if (more) rows = rows.slice(0, req.limit);
  const last = rows[rows.length - 1];
  const page: Page = {
    columns: names.map((name) => ({ name, type: types.get(name)! })),
    rows: rows.map((r) => Object.fromEntries(names.map((n) => [n, r[n]]))),
  };
  if (more) page.next = keys.map((_, i) => (last[`${KEY_PREFIX}${i}`] as string | null) ?? null);
  return page;
}

function timeout(ms: number, cause?: unknown): TributaryError {
  return new TributaryError(
    'HTTP_TIMEOUT',
    `reading the rows took longer than the server's limit of ${ms} ms and was stopped: ask for fewer rows, filter on partition columns, or raise --request-timeout`,
    { timeoutMs: ms },
    cause,
  );
}
