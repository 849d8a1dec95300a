/**
 * `tributary serve` and `tributary token create` as users run them (SQL through the sandbox included): the token made by
 * the command opens the API of a server started on the same data directory (the secret
 * file generated on first use is shared), the server prints its URL and /docs, stops
 * cleanly on SIGTERM; --no-auth on every interface is refused at start.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { exitWithin, startCli } from '../helpers/cli-child.ts';
import { tributary } from '../interop/helpers.ts';
import { writeOrders } from './fixtures.ts';
import { call, tempDir } from './helpers.ts';

describe('tributary serve and token', () => {
  test('a token from `token create` opens the API of `serve` on the same data directory', async () => {
    const dataDir = tempDir('cli');
    await writeOrders(dataDir, 1, 3);
    const made = await tributary([
      'token',
      'create',
      '--role',
      'reader',
      '--ttl',
      '10m',
      '--subject',
      'ann',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const token = made.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.match(made.stderr, /a reader token for ann, valid until/);
    assert.equal(statSync(join(dataDir, 'server', 'jwt-secret')).mode & 0o777, 0o600);

    const cli = startCli(['serve', '--port', '0', '--data-dir', dataDir]);
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      cli.child.stdout!.on('data', (d) => {
        out += d;
        const m = /serving .* at (http:\/\/\S+)\/api\/v1\n/.exec(out);
        if (m && /API docs: http:\/\/\S+\/docs/.test(out) && /Ctrl-C stops it/.test(out)) resolve(m[1]);
      });
      void cli.exit.then((e) => reject(new Error(`serve exited early: ${e.code} ${e.stderr}`)));
    });
    try {
      assert.match(out, /authentication: bearer tokens, HS256/);
      const ok = await call(url, '/api/v1/tables', { token });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.body, { tables: [{ name: 'orders' }] });
      assert.equal((await call(url, '/api/v1/tables')).status, 401);
      assert.equal((await call(url, '/docs')).status, 200);
      // POST /api/v1/sql runs in the sandbox: a read of the tables answers, a file read is refused.
      const sum = await call(url, '/api/v1/sql', {
        method: 'POST',
        token,
        body: { sql: 'SELECT count(*) AS n FROM orders' },
      });
      assert.equal(sum.status, 200, sum.text);
      assert.ok(Number(sum.body.rows[0][0]) > 0);
      const file = await call(url, '/api/v1/sql', {
        method: 'POST',
        token,
        body: { sql: "SELECT * FROM read_text('/etc/hostname')" },
      });
      assert.equal(file.status, 400, file.text);
      assert.equal(file.body.code, 'QUERY_REFUSED');
      assert.match(file.body.message, /read_text is not allowed/);
    } finally {
      cli.child.kill('SIGTERM');
    }
    const exit = await exitWithin(cli.exit, 20_000);
    assert.ok(exit, 'stopped within 20 s of SIGTERM');
    assert.equal(exit.code, 0, exit.stderr);
  });

  test('--no-auth on 0.0.0.0 is refused at start', async () => {
    const r = await tributary([
      'serve',
      '--no-auth',
      '--host',
      '0.0.0.0',
      '--port',
      '0',
      '--data-dir',
      tempDir('cli'),
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /CONFIG_INVALID.*--no-auth is refused on 0\.0\.0\.0/);
  });

  test('token create: a role that is not one, a TTL that is not a duration', async () => {
    const dataDir = tempDir('cli');
    const role = await tributary(['token', 'create', '--role', 'root', '--data-dir', dataDir]);
    assert.equal(role.code, 2);
    assert.match(role.stderr, /--role must be one of reader, writer, admin/);
    const ttl = await tributary([
      'token',
      'create',
      '--role',
      'reader',
      '--ttl',
      'forever',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(ttl.code, 2);
    assert.match(ttl.stderr, /--ttl 'forever' is not a duration/);
    const short = await tributary([
      'token',
      'create',
      '--role',
      'reader',
      '--jwt-secret',
      'short',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(short.code, 2);
    assert.match(short.stderr, /at least 32/);
  });
});
