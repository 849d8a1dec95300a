/**
 * The tables endpoints through real HTTP: the list (nested names too), a table's
 * summary, schema, history and files by partition, at the latest version and by time
 * travel, compared with what was written; names that are paths are refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ORDERS_SCHEMA, type OrderRow, T0, writeOrders } from './fixtures.ts';
import { call, type Running, startServer, tempDir } from './helpers.ts';

describe('tables endpoints', () => {
  let s: Running;
  let token: string;
  let rowsAt: OrderRow[][];
  before(async () => {
    const dataDir = tempDir('tables');
    ({ rowsAt } = await writeOrders(dataDir, 3, 20));
    await writeOrders(dataDir, 1, 5, 'gold.daily');
    s = await startServer({ dataDir });
    token = await s.token('reader');
  });
  after(() => s.stop());
  const get = (path: string) => call(s.url, path, { token });

  test('GET /api/v1/tables lists the tables, nested ones by dotted name', async () => {
    const a = await get('/api/v1/tables');
    assert.equal(a.status, 200);
    assert.deepEqual(a.body, { tables: [{ name: 'gold.daily' }, { name: 'orders' }] });
  });

  test('GET /api/v1/tables/:table: the summary, latest and at a version', async () => {
    const a = await get('/api/v1/tables/orders');
    assert.equal(a.status, 200, a.text);
    assert.equal(a.body.table, 'orders');
    assert.equal(a.body.version, 2);
    assert.equal(a.body.rows, 60);
    assert.deepEqual(a.body.partitionColumns, ['day']);
    assert.deepEqual(
      a.body.schema.map((f: { name: string; type: string }) => [f.name, f.type]),
      ORDERS_SCHEMA.fields.map((f) => [f.name, f.type]),
    );
    assert.equal(a.body.timestamp, new Date(T0 + 2 * 60_000).toISOString());
    assert.equal(a.body.location, undefined, 'no server path in the answer');
    const v0 = await get('/api/v1/tables/orders?version=0');
    assert.equal(v0.body.version, 0);
    assert.equal(v0.body.rows, rowsAt[0].length);
    const nested = await get('/api/v1/tables/gold.daily');
    assert.equal(nested.body.rows, 5);
  });

  test('GET /api/v1/tables/:table/schema', async () => {
    const a = await get('/api/v1/tables/orders/schema?version=1');
    assert.equal(a.status, 200);
    assert.equal(a.body.version, 1);
    assert.deepEqual(a.body.fields, ORDERS_SCHEMA.fields);
    assert.deepEqual(a.body.partitionColumns, ['day']);
  });

  test('GET /api/v1/tables/:table/history: newest first, limit', async () => {
    const a = await get('/api/v1/tables/orders/history');
    assert.equal(a.status, 200);
    assert.deepEqual(
      a.body.entries.map((e: { version: number }) => e.version),
      [2, 1, 0],
    );
    assert.equal(a.body.entries[2].timestamp, new Date(T0).toISOString());
    assert.ok(a.body.entries.every((e: { operation: string }) => e.operation === 'WRITE'));
    const one = await get('/api/v1/tables/orders/history?limit=1');
    assert.deepEqual(
      one.body.entries.map((e: { version: number }) => e.version),
      [2],
    );
  });

  test('GET /api/v1/tables/:table/files: totals and per partition, equal to the rows written', async () => {
    for (const version of [0, 2]) {
      const a = await get(`/api/v1/tables/orders/files?version=${version}`);
      assert.equal(a.status, 200, a.text);
      const rows = rowsAt[version];
      assert.equal(a.body.rows, rows.length);
      const perDay = new Map<string, number>();
      for (const r of rows)
        perDay.set(JSON.stringify({ day: r.day }), (perDay.get(JSON.stringify({ day: r.day })) ?? 0) + 1);
      assert.equal(a.body.partitionCount, perDay.size);
      for (const p of a.body.partitions)
        assert.equal(p.rows, perDay.get(JSON.stringify(p.values)), JSON.stringify(p));
      // One file per partition per append.
      assert.equal(a.body.files, perDay.size * (version + 1));
      assert.equal(
        a.body.bytes,
        a.body.partitions.reduce((n: number, p: { bytes: number }) => n + p.bytes, 0),
      );
      assert.ok(
        a.body.fileBytes.min <= a.body.fileBytes.mean && a.body.fileBytes.mean <= a.body.fileBytes.max,
      );
    }
  });

  test('a table that is not there: 404 TABLE_NOT_FOUND; a path instead of a name: 400', async () => {
    const missing = await get('/api/v1/tables/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'TABLE_NOT_FOUND');
    for (const name of ['..%2F..%2Fetc', '%2Ftmp%2Fx', 's3:%2F%2Fbucket%2Ft', 'a..b', '...', '.hidden']) {
      const a = await get(`/api/v1/tables/${name}/schema`);
      assert.equal(a.status, 400, `${name}: ${a.text}`);
      assert.equal(a.body.code, 'HTTP_REQUEST_INVALID');
      assert.equal(a.body.field, 'params.table');
    }
  });

  test('time travel by timestamp before the first version: 404', async () => {
    const a = await get('/api/v1/tables/orders?timestamp=2020-01-01T00:00:00Z');
    assert.equal(a.status, 404);
    assert.equal(a.body.code, 'TABLE_VERSION_NOT_FOUND');
  });
});
