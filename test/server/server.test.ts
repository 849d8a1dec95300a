/**
 * The server as a whole, through real HTTP: probes, readiness while stopping (requests
 * under way finish), --no-auth only on loopback, the body limit, the query limit (503
 * with Retry-After), unknown routes, the OpenAPI document (every route, its schemas,
 * references that resolve, schemas that compile) and the /docs page served from local
 * files with nothing from elsewhere.
 *
 * The SQL route is exercised with a runner built on runQuery (src/query/run.ts) or one
 * that waits until told: the route's wiring (body validation, limits, answers), not the
 * sandbox, which has its own tests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { isTributaryError } from '../../src/core/errors.ts';
import type { Log } from '../../src/log/log.ts';
import { openLog } from '../../src/log/open.ts';
import { runQuery } from '../../src/query/run.ts';
import { createServer } from '../../src/server/app.ts';
import { isLoopback } from '../../src/server/options.ts';
import type { SqlRunner } from '../../src/server/sql/route.ts';
import { writeOrders } from './fixtures.ts';
import { call, type Running, startServer, tempDir } from './helpers.ts';

const queryRunner: SqlRunner = async ({ sql, dataDir, maxRows }) => {
  const r = await runQuery(sql, { dataDir });
  const rows = r.rows.map((o) => r.columns.map((c) => o[c.name]));
  return { columns: r.columns, rows: rows.slice(0, maxRows), truncated: rows.length > maxRows };
};

/** A runner that answers only when `release` is called; `started` resolves when a query arrives. */
function gatedRunner() {
  let release!: () => void;
  let started!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const arrived = new Promise<void>((r) => {
    started = r;
  });
  const run: SqlRunner = async () => {
    started();
    await gate;
    return { columns: [{ name: 'x', type: 'INTEGER' }], rows: [[1]], truncated: false };
  };
  return { run, release, arrived };
}

describe('probes, limits and the SQL route', () => {
  let s: Running;
  let token: string;
  before(async () => {
    const dataDir = tempDir('server');
    await writeOrders(dataDir, 2, 10);
    s = await startServer({ dataDir, sql: queryRunner, limits: { bodyLimit: 2048, maxPageRows: 5 } });
    token = await s.token('reader');
  });
  after(() => s.stop());

  test('/health and /ready answer without a token', async () => {
    const h = await call(s.url, '/health');
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'ok');
    const r = await call(s.url, '/ready');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: 'ready', checks: { dataDir: 'ok' } });
  });

  test('POST /api/v1/sql: rows, truncated past maxRows, big integers exact', async () => {
    const a = await call(s.url, '/api/v1/sql', {
      token,
      body: { sql: 'SELECT id, status FROM orders ORDER BY id' },
    });
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(
      a.body.columns.map((c: { name: string }) => c.name),
      ['id', 'status'],
    );
    assert.equal(a.body.rows.length, 5);
    assert.equal(a.body.truncated, true);
    assert.deepEqual(
      a.body.rows.map((r: unknown[]) => String(r[0])),
      ['1', '2', '3', '4', '5'],
    );
    const big = await call(s.url, '/api/v1/sql', {
      token,
      body: { sql: 'SELECT id FROM orders WHERE id > 100' },
    });
    assert.match(big.text, /\[\[9007199254740993\]\]/);
  });

  test('POST /api/v1/sql validation: missing sql, unknown field, not JSON, wrong content type', async () => {
    const missing = await call(s.url, '/api/v1/sql', { token, body: {} });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.field, 'body.sql');
    const extra = await call(s.url, '/api/v1/sql', { token, body: { sql: 'SELECT 1', limit: 3 } });
    assert.equal(extra.body.field, 'body.limit');
    const notJson = await call(s.url, '/api/v1/sql', { token, rawBody: '{"sql": ' });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.code, 'HTTP_REQUEST_INVALID');
    const text = await call(s.url, '/api/v1/sql', {
      token,
      rawBody: '<sql>SELECT 1</sql>',
      contentType: 'application/xml',
    });
    assert.equal(text.status, 415);
    assert.equal(text.body.code, 'HTTP_UNSUPPORTED_MEDIA_TYPE');
  });

  test('a body over the limit: 413 HTTP_BODY_TOO_LARGE', async () => {
    const a = await call(s.url, '/api/v1/sql', { token, body: { sql: `SELECT '${'x'.repeat(4096)}'` } });
    assert.equal(a.status, 413);
    assert.equal(a.body.code, 'HTTP_BODY_TOO_LARGE');
  });

  test('an unknown route: 404 HTTP_NOT_FOUND in the error format', async () => {
    const a = await call(s.url, '/api/v1/nothing', { token });
    assert.equal(a.status, 404);
    assert.deepEqual(Object.keys(a.body).sort(), ['code', 'message', 'statusCode']);
    assert.equal(a.body.code, 'HTTP_NOT_FOUND');
  });
});

describe('the query limit and graceful stop', () => {
  test('with every slot taken and no queue, a query is answered 503 HTTP_BUSY with Retry-After', async () => {
    const gated = gatedRunner();
    const s = await startServer({ sql: gated.run, limits: { maxConcurrentQueries: 1, maxQueuedQueries: 0 } });
    try {
      const token = await s.token('reader');
      const first = call(s.url, '/api/v1/sql', { token, body: { sql: 'SELECT 1' } });
      await gated.arrived;
      const busy = await call(s.url, '/api/v1/sql', { token, body: { sql: 'SELECT 1' } });
      assert.equal(busy.status, 503);
      assert.equal(busy.body.code, 'HTTP_BUSY');
      assert.equal(busy.headers.get('retry-after'), '1');
      gated.release();
      assert.equal((await first).status, 200);
      const again = await call(s.url, '/api/v1/sql', { token, body: { sql: 'SELECT 1' } });
      assert.equal(again.status, 200);
    } finally {
      await s.stop();
    }
  });

  test('stop: the request under way is answered, then the port is closed', async () => {
    const gated = gatedRunner();
    const s = await startServer({ sql: gated.run });
    const token = await s.token('reader');
    const pending = call(s.url, '/api/v1/sql', { token, body: { sql: 'SELECT 1' } });
    await gated.arrived;
    const ready = await call(s.url, '/ready');
    assert.equal(ready.status, 200);
    const stopped = s.stop();
    gated.release();
    const answer = await pending;
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.body.rows, [[1]]);
    await stopped;
    await assert.rejects(fetch(`${s.url}/health`));
  });
});

describe('--no-auth', () => {
  test('is refused on an address other machines may reach', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      assert.throws(
        () => createServer({ dataDir: tempDir('noauth'), host, auth: { mode: 'none' } }),
        (err) => isTributaryError(err, 'CONFIG_INVALID') && /loopback/.test(err.message),
        host,
      );
    }
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '[::1]'])
      assert.ok(isLoopback(host), host);
  });

  test('on loopback every route is open', async () => {
    const s = await startServer({ auth: { mode: 'none' } });
    try {
      const a = await call(s.url, '/api/v1/tables');
      assert.equal(a.status, 200);
    } finally {
      await s.stop();
    }
  });
});

describe('OpenAPI and /docs', () => {
  let s: Running;
  let log: Log;
  before(async () => {
    const dataDir = tempDir('openapi');
    log = await openLog({ dataDir });
    s = await startServer({ dataDir, sql: queryRunner, ingest: { log } });
  });
  after(async () => {
    await s.stop();
    await log.close();
  });

  test('the OpenAPI document is valid: every route, schemas that compile, references that resolve', async () => {
    const a = await call(s.url, '/openapi.json');
    assert.equal(a.status, 200);
    const doc = a.body;
    assert.equal(doc.openapi, '3.0.3');
    assert.equal(typeof doc.info.title, 'string');
    assert.equal(typeof doc.info.version, 'string');
    const expected: Record<string, string[]> = {
      '/health': ['get'],
      '/ready': ['get'],
      '/api/v1/tables': ['get'],
      '/api/v1/tables/{table}': ['get'],
      '/api/v1/tables/{table}/schema': ['get'],
      '/api/v1/tables/{table}/history': ['get'],
      '/api/v1/tables/{table}/files': ['get'],
      '/api/v1/tables/{table}/rows': ['get'],
      '/api/v1/sql': ['post'],
      '/api/v1/pipelines': ['get'],
      '/api/v1/pipelines/{name}': ['get'],
      '/api/v1/jobs': ['get'],
      '/api/v1/jobs/{name}': ['get'],
      '/api/v1/jobs/{name}/runs': ['get', 'post'],
      '/api/v1/jobs/{name}/runs/{runId}': ['get'],
      '/api/v1/tables/{table}/maintenance': ['post'],
      '/api/v1/topics/{topic}/records': ['post'],
      '/metrics': ['get'],
    };
    assert.deepEqual(Object.keys(doc.paths).sort(), Object.keys(expected).sort());
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addSchema(doc, 'doc');
    const pointer = (parts: string[]) =>
      parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
    // Every $ref points at something in the document.
    const refs: string[] = [];
    JSON.stringify(doc, (k, v) => {
      if (k === '$ref') refs.push(v);
      return v;
    });
    assert.ok(refs.length > 0);
    for (const ref of refs) {
      assert.match(ref, /^#\//, ref);
      let at = doc;
      for (const part of ref.slice(2).split('/')) at = at?.[part.replaceAll('~1', '/').replaceAll('~0', '~')];
      assert.ok(at !== undefined, `${ref} resolves`);
    }
    for (const [path, methods] of Object.entries(expected)) {
      assert.deepEqual(Object.keys(doc.paths[path]).sort(), methods, path);
      for (const method of methods) {
        const op = doc.paths[path][method];
        const where = `${method} ${path}`;
        // Starting a job's run answers 202 (accepted: the run goes on); every other route 200.
        const ok = where === 'post /api/v1/jobs/{name}/runs' || path.endsWith('/maintenance') ? '202' : '200';
        assert.ok(op.responses?.[ok], `${where} documents its answer`);
        const params: Array<{ name: string; in: string; required?: boolean; schema: unknown }> =
          op.parameters ?? [];
        for (const p of params) {
          assert.ok(['path', 'query', 'header', 'cookie'].includes(p.in), `${where} ${p.name}`);
          assert.ok(p.schema, `${where} ${p.name} has a schema`);
          if (p.in === 'path') assert.equal(p.required, true);
        }
        const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        assert.deepEqual(
          params.filter((p) => p.in === 'path').map((p) => p.name),
          templated,
          `${where} path parameters`,
        );
        const isPublic = path === '/health' || path === '/ready';
        assert.deepEqual(op.security, isPublic ? [] : [{ bearerAuth: [] }], `${where} security`);
        if (!isPublic) assert.match(op.description, /Role: (reader|writer|admin)/);
        // Each schema of the operation compiles (with its references resolved in the document).
        params.forEach((_, i) => {
          ajv.getSchema(`doc#/${pointer(['paths', path, method, 'parameters', String(i), 'schema'])}`);
        });
        for (const [status, response] of Object.entries(
          op.responses as Record<string, { content?: object }>,
        )) {
          for (const type of Object.keys(response.content ?? {})) {
            const fn = ajv.getSchema(
              `doc#/${pointer(['paths', path, method, 'responses', status, 'content', type, 'schema'])}`,
            );
            assert.ok(fn, `${where} ${status} compiles`);
          }
        }
        if (op.requestBody) {
          const fn = ajv.getSchema(
            `doc#/${pointer(['paths', path, method, 'requestBody', 'content', 'application/json', 'schema'])}`,
          );
          if (path === '/api/v1/sql') {
            assert.ok(fn?.({ sql: 'SELECT 1' }), `${where} takes a valid body`);
            assert.equal(fn?.({}), false, `${where} refuses a body without sql`);
          } else if (path.endsWith('/maintenance')) {
            assert.ok(fn?.({ operations: ['optimize', 'vacuum'] }), `${where} takes a valid body`);
            assert.equal(fn?.({ operations: ['drop'] }), false, `${where} refuses an unknown operation`);
          } else {
            assert.ok(fn?.({ date: '2026-11-29' }), `${where} takes a valid body`);
            assert.equal(fn?.({ date: 'today' }), false, `${where} refuses a date that is not one`);
          }
        }
      }
    }
    const errorSchema = ajv.getSchema('doc#/components/schemas/Error');
    assert.ok(errorSchema?.({ statusCode: 400, code: 'HTTP_REQUEST_INVALID', message: 'x' }));
    assert.equal(doc.components.securitySchemes.bearerAuth.scheme, 'bearer');
  });

  test('/docs is served from local files, with nothing from elsewhere', async () => {
    const page = await fetch(`${s.url}/docs`);
    assert.equal(page.status, 200);
    const html = await page.text();
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.doesNotMatch(csp, /https:|validator\.swagger\.io/);
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.length >= 3, html);
    for (const asset of assets) {
      assert.doesNotMatch(asset, /^(https?:)?\/\//, `${asset} is local`);
      const url = new URL(asset, `${s.url}/docs/`);
      const a = await fetch(url);
      assert.equal(a.status, 200, `${url}`);
      const body = await a.text();
      if (asset.endsWith('swagger-initializer.js')) assert.match(body, /validatorUrl: null/);
    }
    const spec = await fetch(`${s.url}/docs/json`);
    assert.equal(spec.status, 200);
  });
});
