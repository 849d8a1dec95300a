/**
 * The HTTP registry client against a small server answering as Confluent's registry does
 * (its paths, content type and error bodies): answers cached where ids make them
 * immutable, every failure mapped to its error code, the password never printed.
 * Against our own registry server and Confluent's clients: test/server/registry/.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { HttpSchemaRegistryClient, redactUrl } from '../../../src/connectors/avro/http-registry.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const seen: Seen[] = [];
let respond: (s: Seen) => { status: number; body?: unknown; delayMs?: number } = () => ({ status: 500 });
let server: Server;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, body };
      seen.push(s);
      const r = respond(s);
      setTimeout(() => {
        res.writeHead(r.status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
        res.end(r.body === undefined ? '' : JSON.stringify(r.body));
      }, r.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

/** A port nothing listens on (one just closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const SCHEMA = '{"type":"record","name":"r","fields":[{"name":"a","type":"long"}]}';

describe('HTTP schema registry client', () => {
  test('a schema by id is asked once, then served from memory', async () => {
    seen.length = 0;
    respond = () => ({ status: 200, body: { schema: SCHEMA } });
    const c = new HttpSchemaRegistryClient(base);
    const [a, b] = await Promise.all([c.schemaById(7), c.schemaById(7)]);
    assert.equal(a, SCHEMA);
    assert.equal(b, SCHEMA);
    assert.equal(await c.schemaById(7), SCHEMA);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].url, '/schemas/ids/7');
    assert.match(String(seen[0].headers.accept), /application\/vnd\.schemaregistry\.v1\+json/);
  });

  test('register posts the schema with the content type, once per subject and schema', async () => {
    seen.length = 0;
    respond = () => ({ status: 200, body: { id: 12 } });
    const c = new HttpSchemaRegistryClient(base);
    assert.equal(await c.register('sales.events.v1-value', SCHEMA), 12);
    assert.equal(await c.register('sales.events.v1-value', SCHEMA), 12);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].method, 'POST');
    assert.equal(seen[0].url, '/subjects/sales.events.v1-value/versions');
    assert.equal(seen[0].headers['content-type'], 'application/vnd.schemaregistry.v1+json');
    assert.deepEqual(JSON.parse(seen[0].body), { schema: SCHEMA });
  });

  test('latest: the version, or undefined for a subject the registry lacks', async () => {
    respond = (s) =>
      s.url.includes('missing')
        ? { status: 404, body: { error_code: 40401, message: "Subject 'missing' not found." } }
        : { status: 200, body: { subject: 's', id: 3, version: 2, schema: SCHEMA } };
    const c = new HttpSchemaRegistryClient(base);
    assert.deepEqual(await c.latest('s'), { id: 3, version: 2, schema: SCHEMA });
    assert.equal(await c.latest('missing'), undefined);
  });

  test('errors map to codes; the registry message is kept', async () => {
    const c = new HttpSchemaRegistryClient(base);
    respond = () => ({ status: 404, body: { error_code: 40403, message: 'Schema 99 not found' } });
    await assert.rejects(c.schemaById(99), {
      code: 'SCHEMA_NOT_FOUND',
      message: /Schema 99 not found \(error 40403\)/,
    });
    respond = () => ({
      status: 409,
      body: {
        error_code: 409,
        message: "Schema being registered is incompatible: READER_FIELD_MISSING_DEFAULT_VALUE 'coupon'",
      },
    });
    await assert.rejects(c.register('s', SCHEMA), {
      code: 'SCHEMA_INCOMPATIBLE',
      message: /incompatible: READER_FIELD_MISSING_DEFAULT_VALUE 'coupon'/,
    });
    respond = () => ({ status: 422, body: { error_code: 42201, message: 'Invalid schema' } });
    await assert.rejects(c.register('s', '{}'), { code: 'SCHEMA_INVALID', message: /Invalid schema/ });
    respond = () => ({ status: 503, body: { error_code: 50301, message: 'overloaded' } });
    await assert.rejects(c.schemaById(5), (err: { code: string; retryable: boolean }) => {
      assert.equal(err.code, 'REGISTRY_UNAVAILABLE');
      assert.equal(err.retryable, true);
      return true;
    });
    respond = () => ({ status: 200, body: { schema: 'syntax = "proto3";', schemaType: 'PROTOBUF' } });
    await assert.rejects(c.schemaById(6), { code: 'SCHEMA_INVALID', message: /PROTOBUF schema, not Avro/ });
    // A failure is not cached.
    respond = () => ({ status: 200, body: { schema: SCHEMA } });
    assert.equal(await c.schemaById(5), SCHEMA);
  });

  test('unreachable or slow: REGISTRY_UNAVAILABLE, retryable', async () => {
    const port = await closedPort();
    const refused = new HttpSchemaRegistryClient(`http://127.0.0.1:${port}`);
    await assert.rejects(refused.schemaById(1), {
      code: 'REGISTRY_UNAVAILABLE',
      retryable: true,
      message: /ECONNREFUSED/,
    });
    respond = () => ({ status: 200, body: { schema: SCHEMA }, delayMs: 500 });
    const slow = new HttpSchemaRegistryClient(base, { timeoutMs: 50 });
    await assert.rejects(slow.schemaById(1), {
      code: 'REGISTRY_UNAVAILABLE',
      message: /no answer within 50 ms/,
    });
  });

  test('credentials in the URL go as basic authentication, and are never printed', async () => {
    seen.length = 0;
    respond = () => ({ status: 200, body: { schema: SCHEMA } });
    const url = base.replace('http://', 'http://alice:s3cr%40t@');
    const c = new HttpSchemaRegistryClient(url);
    await c.schemaById(1);
    assert.equal(seen[0].headers.authorization, `Basic ${Buffer.from('alice:s3cr@t').toString('base64')}`);
    assert.ok(!c.description.includes('s3cr'));
    assert.equal(redactUrl('https://u:p@reg:8081/'), 'https://u:***@reg:8081');
    const down = new HttpSchemaRegistryClient(`http://bob:hunter2@127.0.0.1:${await closedPort()}`);
    await assert.rejects(down.schemaById(1), (err: Error) => !err.message.includes('hunter2'));
  });
});
