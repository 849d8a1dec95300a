/**
 * `GET /api/v1/tables/:table/rows` through real HTTP: cursor pagination over a
 * multi-version table (every row once, in order, none skipped or repeated while new
 * versions are committed between pages), ordering with nulls last, filters and column
 * selection compared with a plain-JS recomputation of the rows written, time travel
 * compared with delta-rs reading the same version, and the validation errors.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { DeltaTable } from '../../src/table/index.ts';
import { deltaRsRead, normRows, pythonSkip } from '../interop/helpers.ts';
import { appendOrders, ORDERS_SCHEMA, type OrderRow, T0, writeOrders } from './fixtures.ts';
import { call, type Running, startServer, tempDir } from './helpers.ts';

const VERSIONS = 4;
const PER_VERSION = 30;

/** The API's rows in the normal form of the interop helpers (ids as text, decimals padded, timestamps in micros). */
const norm = (rows: Record<string, unknown>[]) => normRows(rows, ORDERS_SCHEMA);
const ids = (rows: Array<Record<string, unknown>>) => rows.map((r) => String(r.id));

describe('rows of a table', () => {
  let s: Running;
  let token: string;
  let table: DeltaTable;
  let rowsAt: OrderRow[][];
  let nextId = VERSIONS * PER_VERSION;

  before(async () => {
    const dataDir = tempDir('rows');
    ({ table, rowsAt } = await writeOrders(dataDir, VERSIONS, PER_VERSION));
    s = await startServer({ dataDir, limits: { maxPageRows: 1000 } });
    token = await s.token('reader');
  });
  after(() => s.stop());

  const get = (path: string) => call(s.url, path, { token });

  /** Every page of a query, following nextCursor; `between` runs after each page. */
  async function allPages(path: string, between?: () => Promise<void>) {
    const pages: Array<{ version: number; rows: Record<string, unknown>[] }> = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const a = await get(cursor === null ? path : `${path}${sep}cursor=${encodeURIComponent(cursor)}`);
      assert.equal(a.status, 200, a.text);
      pages.push({ version: a.body.version, rows: a.body.rows });
      cursor = a.body.nextCursor;
      if (cursor !== null && between) await between();
      // A cursor that does not move on would page forever: fail instead.
      assert.ok(pages.length <= 1000, 'pagination ends');
    } while (cursor !== null);
    return pages;
  }

  test('pages of the latest version hold every row once, in the order of one big page', async () => {
    const latest = rowsAt[VERSIONS - 1];
    const pages = await allPages('/api/v1/tables/orders/rows?limit=7');
    assert.equal(pages.length, Math.ceil(latest.length / 7));
    const rows = pages.flatMap((p) => p.rows);
    assert.deepEqual(norm(rows), norm(latest as unknown as Record<string, unknown>[]));
    const whole = await get(`/api/v1/tables/orders/rows?limit=${latest.length}`);
    assert.equal(whole.body.nextCursor, null);
    assert.deepEqual(ids(rows), ids(whole.body.rows));
  });

  test('commits between pages: the cursor keeps the first page’s version, no row skipped or repeated', async () => {
    const first = await get('/api/v1/tables/orders/rows?limit=1');
    const pinned = first.body.version;
    const expected = (await get(`/api/v1/tables/orders/rows?version=${pinned}&limit=1000`)).body.rows;
    const pages = await allPages('/api/v1/tables/orders/rows?limit=9', async () => {
      await appendOrders(table, nextId, 5);
      nextId += 5;
    });
    assert.ok(pages.length > 3, 'several pages, with commits between them');
    for (const p of pages) assert.equal(p.version, pinned);
    const rows = pages.flatMap((p) => p.rows);
    assert.deepEqual(ids(rows), ids(expected));
    assert.equal(new Set(ids(rows)).size, rows.length);
    const now = await get('/api/v1/tables/orders/rows?limit=1');
    assert.ok(now.body.version > pinned, 'the table moved on meanwhile');
  });

  test('order=-amount,id: descending with nulls last, ties by id, across pages', async () => {
    const v = (await get('/api/v1/tables/orders/rows?limit=1')).body.version;
    const pages = await allPages(`/api/v1/tables/orders/rows?version=${v}&order=-amount,id&limit=8`);
    const got = pages.flatMap((p) => p.rows);
    const all = (await get(`/api/v1/tables/orders/rows?version=${v}&limit=1000`)).body.rows as Array<{
      id: bigint | number;
      amount: string | null;
    }>;
    const expected = [...all].sort((a, b) => {
      if (a.amount === null || b.amount === null) {
        if (a.amount !== b.amount) return a.amount === null ? 1 : -1;
      } else if (Number(a.amount) !== Number(b.amount)) return Number(b.amount) - Number(a.amount);
      return BigInt(a.id) < BigInt(b.id) ? -1 : 1;
    });
    assert.deepEqual(ids(got), ids(expected));
  });

  test('filters, equal to the same selection in plain JS', async () => {
    const v = VERSIONS - 1;
    const truth = rowsAt[v];
    const cases: Array<[string, (r: OrderRow) => boolean]> = [
      ['status:eq:paid', (r) => r.status === 'paid'],
      ['status:ne:paid', (r) => r.status !== null && r.status !== 'paid'],
      ['status:in:new,shipped', (r) => r.status === 'new' || r.status === 'shipped'],
      ['status:is_null', (r) => r.status === null],
      ['amount:not_null', (r) => r.amount !== null],
      ['amount:gte:500', (r) => r.amount !== null && Number(r.amount) >= 500],
      ['amount:lt:100.5', (r) => r.amount !== null && Number(r.amount) < 100.5],
      ['day:eq:2026-01-02', (r) => r.day === '2026-01-02'],
      ['ts:gt:2026-01-01T01:00:00Z', (r) => r.ts !== null && Date.parse(r.ts) > T0 + 3_600_000],
      ['id:eq:9007199254740993', (r) => r.id === 9007199254740993n],
    ];
    for (const [filter, keep] of cases) {
      const a = await get(
        `/api/v1/tables/orders/rows?version=${v}&limit=1000&filter=${encodeURIComponent(filter)}`,
      );
      assert.equal(a.status, 200, `${filter}: ${a.text}`);
      const expected = truth.filter(keep);
      assert.ok(expected.length > 0, `${filter} selects something`);
      assert.deepEqual(norm(a.body.rows), norm(expected as unknown as Record<string, unknown>[]), filter);
    }
    // Several filters: all must hold.
    const both = await get(
      `/api/v1/tables/orders/rows?version=${v}&limit=1000&filter=status:eq:paid&filter=amount:gte:300`,
    );
    const expected = truth.filter((r) => r.status === 'paid' && r.amount !== null && Number(r.amount) >= 300);
    assert.deepEqual(norm(both.body.rows), norm(expected as unknown as Record<string, unknown>[]));
  });

  test('a big id keeps every digit in the JSON answer', async () => {
    const a = await get('/api/v1/tables/orders/rows?filter=id:eq:9007199254740993&columns=id');
    assert.match(a.text, /"id":9007199254740993\b/);
    assert.equal(a.body.rows[0].id, 9007199254740993n);
  });

  test('columns=: only those, in that order', async () => {
    const a = await get('/api/v1/tables/orders/rows?columns=amount,id&limit=3');
    assert.deepEqual(
      a.body.columns.map((c: { name: string }) => c.name),
      ['amount', 'id'],
    );
    for (const r of a.body.rows) assert.deepEqual(Object.keys(r), ['amount', 'id']);
  });

  test('time travel: the rows at version 1 and at a timestamp are those delta-rs reads there', async (t) => {
    const why = pythonSkip();
    if (why) return t.skip(why);
    const path = join(s.dataDir, 'tables', 'orders');
    const byVersion = await get('/api/v1/tables/orders/rows?version=1&limit=1000');
    assert.equal(byVersion.body.version, 1);
    const deltaRs = await deltaRsRead(path, { version: 1 });
    assert.equal(deltaRs.rows.length, 2 * PER_VERSION);
    assert.deepEqual(norm(byVersion.body.rows), norm(deltaRs.rows));
    assert.deepEqual(norm(byVersion.body.rows), norm(rowsAt[1] as unknown as Record<string, unknown>[]));
    // Version 2 was committed at T0 + 2 min: half a minute later is still version 2.
    const at = new Date(T0 + 150_000).toISOString();
    const byTime = await get(`/api/v1/tables/orders/rows?timestamp=${at}&limit=1000`);
    assert.equal(byTime.body.version, 2);
    assert.deepEqual(norm(byTime.body.rows), norm((await deltaRsRead(path, { version: 2 })).rows));
  });

  test('validation errors name the field', async () => {
    const cases: Array<[string, number, string, RegExp]> = [
      ['filter=nope:eq:1', 400, 'querystring.filter[0]', /no column 'nope'/],
      ['filter=amount:gte:ten', 400, 'querystring.filter[0]', /not a decimal/],
      ['filter=amount:gte:1.234', 400, 'querystring.filter[0]', /does not fit decimal\(10,2\)/],
      ['filter=id:eq:99999999999999999999', 400, 'querystring.filter[0]', /out of range/],
      ['filter=ts:gt:yesterday', 400, 'querystring.filter[0]', /not a timestamp/],
      ['filter=day:eq:2026-02-30', 400, 'querystring.filter[0]', /not a date/],
      ['filter=status:like:x', 400, 'querystring.filter[0]', /not an operator/],
      ['filter=status', 400, 'querystring.filter[0]', /column:operator/],
      ['filter=status:is_null:x', 400, 'querystring.filter[0]', /takes no value/],
      ['order=nope', 400, 'querystring.order', /no column 'nope'/],
      ['order=id,id', 400, 'querystring.order', /twice/],
      ['columns=id,,status', 400, 'querystring.columns', /empty/],
      ['limit=0', 400, 'querystring.limit', />= 1/],
      ['limit=1001', 400, 'querystring.limit', /<= 1000/],
      ['limit=ten', 400, 'querystring.limit', /integer/],
      ['version=-1', 400, 'querystring.version', />= 0/],
      ['version=1&timestamp=2026-01-01', 400, 'querystring.timestamp', /not both/],
      ['timestamp=soon', 400, 'querystring.timestamp', /not a timestamp/],
      ['cursor=garbage', 400, 'querystring.cursor', /not a cursor/],
      ['colums=id', 400, 'querystring.colums', /not a parameter/],
    ];
    for (const [query, status, field, message] of cases) {
      const a = await get(`/api/v1/tables/orders/rows?${query}`);
      assert.equal(a.status, status, `${query}: ${a.text}`);
      assert.equal(a.body.code, 'HTTP_REQUEST_INVALID', query);
      assert.equal(a.body.field, field, query);
      assert.match(a.body.message, message, query);
    }
  });

  test('a cursor given with another query is refused; a forged key value too', async () => {
    const first = await get('/api/v1/tables/orders/rows?limit=2&filter=status:eq:paid');
    const cursor = encodeURIComponent(first.body.nextCursor);
    const other = await get(`/api/v1/tables/orders/rows?limit=2&filter=status:eq:new&cursor=${cursor}`);
    assert.equal(other.status, 400);
    assert.match(other.body.message, /another query/);
    const ordered = await get('/api/v1/tables/orders/rows?limit=2&order=amount');
    const json = JSON.parse(Buffer.from(ordered.body.nextCursor, 'base64url').toString());
    json.k[0] = "x'); DROP TABLE t; --";
    const forged = Buffer.from(JSON.stringify(json)).toString('base64url');
    const a = await get(`/api/v1/tables/orders/rows?limit=2&order=amount&cursor=${forged}`);
    assert.equal(a.status, 400, a.text);
    assert.equal(a.body.field, 'querystring.cursor');
  });

  test('a version that does not exist: 404', async () => {
    const a = await get('/api/v1/tables/orders/rows?version=999');
    assert.equal(a.status, 404);
    assert.equal(a.body.code, 'TABLE_VERSION_NOT_FOUND');
  });
});
