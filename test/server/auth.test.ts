/**
 * Authentication and roles through real HTTP: tokens missing, malformed, expired, not
 * yet valid, unsigned (alg none), signed with another secret, of the wrong role, without
 * a role; RS256 and ES256 tokens of an identity provider whose keys a local HTTP server
 * publishes as a JWKS, with their issuer and audience checked; an HS256 token made with
 * the provider's public key as its secret (algorithm confusion) is refused. Roles are
 * checked on the schema registry mounted in the server (reader reads, writer registers,
 * admin deletes).
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Log } from '../../src/log/log.ts';
import { openLog } from '../../src/log/open.ts';
import { createToken } from '../../src/server/auth/token.ts';
import { registryPlugin } from '../../src/server/plugins/registry.ts';
import { openRegistry, type Registry } from '../../src/server/registry/server.ts';
import { call, type Running, SECRET, startServer, tempDir } from './helpers.ts';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const SCHEMA = JSON.stringify({ type: 'record', name: 'r', fields: [{ name: 'id', type: 'long' }] });

function assertError(
  a: { status: number; body: { code: string; message: string; statusCode: number } },
  status: number,
  code: string,
  message?: RegExp,
) {
  assert.equal(a.status, status, JSON.stringify(a.body));
  assert.equal(a.body.statusCode, status);
  assert.equal(a.body.code, code);
  if (message) assert.match(a.body.message, message);
}

describe('HS256 tokens and roles', () => {
  let s: Running;
  let log: Log;
  let registry: Registry;
  before(async () => {
    const dataDir = tempDir('auth');
    log = await openLog({ dataDir });
    registry = await openRegistry({ log });
    s = await startServer({ dataDir, plugins: [registryPlugin(registry.service)] });
  });
  after(async () => {
    await s.stop();
    await registry.close();
    await log.close();
  });

  test('a reader token reads the tables', async () => {
    const a = await call(s.url, '/api/v1/tables', { token: await s.token('reader') });
    assert.equal(a.status, 200);
    assert.deepEqual(a.body, { tables: [] });
  });

  test('no token: 401 AUTH_REQUIRED saying how to send one', async () => {
    assertError(await call(s.url, '/api/v1/tables'), 401, 'AUTH_REQUIRED', /Authorization: Bearer/);
  });

  test('malformed: not Bearer, not a JWT, an unreadable header', async () => {
    assertError(
      await call(s.url, '/api/v1/tables', { auth: 'Basic dXNlcjpwYXNz' }),
      401,
      'AUTH_TOKEN_INVALID',
      /Bearer <token>/,
    );
    assertError(
      await call(s.url, '/api/v1/tables', { token: 'not-a-jwt' }),
      401,
      'AUTH_TOKEN_INVALID',
      /not a JWT/,
    );
    assertError(
      await call(s.url, '/api/v1/tables', { token: 'eyJub3QganNvbg.eyJzdWIiOiJ4In0.c2ln' }),
      401,
      'AUTH_TOKEN_INVALID',
      /header/,
    );
  });

  test('expired: 401 saying so', async () => {
    const token = await s.token('admin', { now: now() - 7200, ttlSeconds: 3600 });
    assertError(await call(s.url, '/api/v1/tables', { token }), 401, 'AUTH_TOKEN_INVALID', /expired/);
  });

  test('not valid yet (nbf in the future): 401', async () => {
    const token = await new SignJWT({ roles: ['reader'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setNotBefore(now() + 3600)
      .setExpirationTime(now() + 7200)
      .sign(SECRET);
    assertError(await call(s.url, '/api/v1/tables', { token }), 401, 'AUTH_TOKEN_INVALID', /not valid yet/);
  });

  test('no expiry: 401, tokens must expire', async () => {
    const token = await new SignJWT({ roles: ['reader'] }).setProtectedHeader({ alg: 'HS256' }).sign(SECRET);
    assertError(await call(s.url, '/api/v1/tables', { token }), 401, 'AUTH_TOKEN_INVALID', /expir/);
  });

  test('signed with another secret: 401 bad signature', async () => {
    const other = new TextEncoder().encode('another secret, also thirty-two bytes long');
    const { token } = await createToken({ key: other, role: 'admin', ttlSeconds: 600 });
    assertError(await call(s.url, '/api/v1/tables', { token }), 401, 'AUTH_TOKEN_INVALID', /signature/);
  });

  test('a valid token whose payload was changed: 401 bad signature', async () => {
    const [h, , sig] = (await s.token('reader')).split('.');
    const forged = `${h}.${b64({ roles: ['admin'], exp: now() + 600 })}.${sig}`;
    assertError(
      await call(s.url, '/api/v1/tables', { token: forged }),
      401,
      'AUTH_TOKEN_INVALID',
      /signature/,
    );
  });

  test('alg none (unsigned): 401, whatever its claims', async () => {
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64({ alg, typ: 'JWT' })}.${b64({ sub: 'x', roles: ['admin'], exp: now() + 600 })}.`;
      assertError(await call(s.url, '/api/v1/tables', { token }), 401, 'AUTH_TOKEN_INVALID', /alg none/);
    }
  });

  test('an algorithm the server does not take (RS256 without a JWKS URL): 401', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime(now() + 600)
      .sign(privateKey);
    assertError(await call(s.url, '/api/v1/tables', { token }), 401, 'AUTH_TOKEN_INVALID', /RS256.*HS256/);
  });

  test('a token without a role: 403', async () => {
    const token = await new SignJWT({ sub: 'nobody' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now() + 600)
      .sign(SECRET);
    assertError(await call(s.url, '/api/v1/tables', { token }), 403, 'AUTH_FORBIDDEN', /no role/);
  });

  test('roles: reader reads schemas, writer registers, admin deletes; the wrong role is 403 naming the role needed', async () => {
    const reader = await s.token('reader', { subject: 'ann' });
    const writer = await s.token('writer');
    const admin = await s.token('admin');
    const path = '/registry/subjects/orders-value/versions';
    const denied = await call(s.url, path, { token: reader, body: { schema: SCHEMA } });
    assert.equal(denied.status, 403);
    assert.match(denied.text, /needs the role writer.*ann has reader/);
    const registered = await call(s.url, path, { token: writer, body: { schema: SCHEMA } });
    assert.equal(registered.status, 200, registered.text);
    assert.equal(typeof registered.body.id, 'number');
    const read = await call(s.url, '/registry/subjects', { token: reader });
    assert.deepEqual(read.body, ['orders-value']);
    const writerDelete = await call(s.url, '/registry/subjects/orders-value', {
      token: writer,
      method: 'DELETE',
    });
    assert.equal(writerDelete.status, 403);
    const adminDelete = await call(s.url, '/registry/subjects/orders-value', {
      token: admin,
      method: 'DELETE',
    });
    assert.equal(adminDelete.status, 200, adminDelete.text);
    assert.deepEqual((await call(s.url, '/registry/subjects', { token: reader })).body, []);
  });

  test('probes and docs need no token', async () => {
    assert.equal((await call(s.url, '/health')).status, 200);
    assert.equal((await call(s.url, '/ready')).status, 200);
    assert.equal((await call(s.url, '/docs')).status, 200);
    assert.equal((await call(s.url, '/openapi.json')).status, 200);
  });
});

describe('RS256 and ES256 tokens from a JWKS URL', () => {
  let jwksServer: HttpServer;
  let jwksUrl: string;
  let s: Running;
  const keys: Record<string, CryptoKey> = {};
  let publicJwkText = '';
  const ISSUER = 'https://idp.example';
  const AUDIENCE = 'tributary-api';

  before(async () => {
    const rsa = await generateKeyPair('RS256', { extractable: true });
    const ec = await generateKeyPair('ES256', { extractable: true });
    keys.rsa = rsa.privateKey;
    keys.ec = ec.privateKey;
    const rsaJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' };
    const ecJwk = { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' };
    publicJwkText = JSON.stringify(rsaJwk);
    const body = JSON.stringify({ keys: [rsaJwk, ecJwk] });
    jwksServer = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
    s = await startServer({ verifier: { jwksUrl, issuer: ISSUER, audience: AUDIENCE } });
  });
  after(async () => {
    await s.stop();
    await new Promise((r) => jwksServer.close(r));
  });

  async function idpToken(
    key: CryptoKey,
    alg: string,
    kid: string,
    claims: { iss?: string; aud?: string; roles?: unknown } = {},
  ): Promise<string> {
    return new SignJWT({ roles: 'roles' in claims ? claims.roles : ['reader'] })
      .setProtectedHeader({ alg, kid })
      .setSubject('user@idp')
      .setIssuer(claims.iss ?? ISSUER)
      .setAudience(claims.aud ?? AUDIENCE)
      .setExpirationTime(now() + 600)
      .sign(key);
  }

  test('an RS256 token signed by a key of the JWKS is taken', async () => {
    const a = await call(s.url, '/api/v1/tables', { token: await idpToken(keys.rsa, 'RS256', 'rsa-1') });
    assert.equal(a.status, 200, a.text);
  });

  test('an ES256 token signed by a key of the JWKS is taken', async () => {
    const a = await call(s.url, '/api/v1/tables', { token: await idpToken(keys.ec, 'ES256', 'ec-1') });
    assert.equal(a.status, 200, a.text);
  });

  test('another issuer, another audience: 401 naming the claim', async () => {
    const iss = await call(s.url, '/api/v1/tables', {
      token: await idpToken(keys.rsa, 'RS256', 'rsa-1', { iss: 'https://evil.example' }),
    });
    assertError(iss, 401, 'AUTH_TOKEN_INVALID', /'iss'/);
    const aud = await call(s.url, '/api/v1/tables', {
      token: await idpToken(keys.rsa, 'RS256', 'rsa-1', { aud: 'another-app' }),
    });
    assertError(aud, 401, 'AUTH_TOKEN_INVALID', /'aud'/);
  });

  test('signed by a key not in the JWKS: 401', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    assertError(
      await call(s.url, '/api/v1/tables', { token: await idpToken(privateKey, 'RS256', 'rsa-1') }),
      401,
      'AUTH_TOKEN_INVALID',
      /signature/,
    );
    assertError(
      await call(s.url, '/api/v1/tables', { token: await idpToken(privateKey, 'RS256', 'unknown-kid') }),
      401,
      'AUTH_TOKEN_INVALID',
      /no key/,
    );
  });

  test('HS256 signed with the public key as the secret (algorithm confusion): 401', async () => {
    const token = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime(now() + 600)
      .sign(new TextEncoder().encode(publicJwkText));
    assertError(
      await call(s.url, '/api/v1/tables', { token }),
      401,
      'AUTH_TOKEN_INVALID',
      /HS256 are refused/,
    );
  });

  test('a provider token with a role the route does not allow is 403; one with no role is 403', async () => {
    const none = await idpToken(keys.rsa, 'RS256', 'rsa-1', { roles: ['viewer'] });
    assertError(await call(s.url, '/api/v1/tables', { token: none }), 403, 'AUTH_FORBIDDEN', /no role/);
  });

  test('the JWKS URL unreachable: 503 AUTH_KEYS_UNAVAILABLE (the token may be fine)', async () => {
    const dead = await startServer({
      verifier: { jwksUrl: 'http://127.0.0.1:9/jwks.json', issuer: ISSUER, audience: AUDIENCE },
    });
    try {
      const a = await call(dead.url, '/api/v1/tables', { token: await idpToken(keys.rsa, 'RS256', 'rsa-1') });
      assertError(a, 503, 'AUTH_KEYS_UNAVAILABLE');
    } finally {
      await dead.stop();
    }
  });
});
