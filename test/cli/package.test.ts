/**
 * The package works where users install it: `npm pack` in the repository, `npm install
 * <tarball>` in an empty folder, then `npx tributary demo orders` there — and the same
 * installed command started by an older Node.js, as a service manager would.
 *
 * Node.js strips types only outside node_modules, so this fails unless the package ships
 * JavaScript (dist/, built by the prepack script). The install resolves the dependencies
 * through npm's cache (--prefer-offline), the registry only for what the cache lacks.
 * Takes about 20-40 s on a warm cache, most of it `npm install`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { delimiter, dirname, join, sep } from 'node:path';
import { test } from 'node:test';
import { cleanup, deltaRsRead, pythonSkip, ROOT, tempDir } from '../interop/helpers.ts';
import { findOldNode, userEnv } from './node-helpers.ts';

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  return new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    execFile(
      cmd,
      args,
      { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: err ? (err.code as number) : 0, out: `${stdout}${stderr}` });
      },
    );
  });
}

test('npm pack, npm install <tarball> in an empty folder, npx tributary demo orders there', {
  timeout: 600_000,
}, async (t) => {
  const dir = await tempDir('package');
  try {
    // A user's PATH: no node_modules/.bin of the repository (an `npm test` run adds it).
    // npm needs a Node.js to run on: the machine's, else the one running this test.
    const env = userEnv();
    const path = (env.PATH ?? '').split(delimiter).filter((d) => !d.split(sep).includes('node_modules'));
    if (!path.some((d) => existsSync(join(d, 'node')))) path.push(dirname(process.execPath));
    env.PATH = path.join(delimiter);

    let started = performance.now();
    const pack = await run('npm', ['pack', '--pack-destination', dir], ROOT, env, 120_000);
    assert.equal(pack.code, 0, pack.out);
    const tarball = (await fs.readdir(dir)).find((f) => f.endsWith('.tgz'));
    assert.ok(tarball, pack.out);
    // The build is removed again: a checkout runs its sources.
    await assert.rejects(fs.access(join(ROOT, 'dist')), 'dist/ left in the repository after npm pack');
    t.diagnostic(`npm pack: ${Math.round(performance.now() - started)} ms`);

    const app = join(dir, 'app');
    await fs.mkdir(app);
    await fs.writeFile(join(app, 'package.json'), '{"name": "app", "private": true}\n');
    started = performance.now();
    const install = await run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball)],
      app,
      env,
      480_000,
    );
    assert.equal(install.code, 0, install.out);
    t.diagnostic(`npm install: ${Math.round(performance.now() - started)} ms`);
    started = performance.now();
    const demo = await run(
      'npx',
      ['tributary', 'demo', 'orders', '--events', '20000', '--seed', '3'],
      app,
      env,
      300_000,
    );
    assert.equal(demo.code, 0, demo.out);
    t.diagnostic(`npx tributary demo orders --events 20000: ${Math.round(performance.now() - started)} ms`);
    const committed = [...demo.out.matchAll(/committed (\d+)/g)].map((m) => Number(m[1]));
    const rows = committed[committed.length - 1];
    // 20,000 events less the malformed ones (to the DLQ) and the duplicates.
    assert.ok(rows > 19_000 && rows <= 20_000, demo.out);
    const tables = join(app, 'tributary-data', 'tables');
    assert.deepEqual((await fs.readdir(tables)).sort(), ['orders_current', 'orders_events']);
    if (pythonSkip() === undefined) {
      assert.equal((await deltaRsRead(join(tables, 'orders_events'))).rows.length, rows);
    }

    // The installed command started by an older Node.js: the launcher finds the Node.js 24
    // that was installed with the package.
    const oldNode = findOldNode();
    const node = oldNode ?? process.execPath;
    if (oldNode === undefined) t.diagnostic('no Node.js older than 24 found: the query runs on Node.js 24');
    const query = await run(
      node,
      [
        join(app, 'node_modules', '.bin', 'tributary'),
        'query',
        'SELECT count(*) AS n FROM orders_events',
        '--format',
        'csv',
      ],
      app,
      env,
      120_000,
    );
    assert.equal(query.code, 0, query.out);
    assert.equal(query.out.trim(), `n\n${rows}`);

    // What was installed is the built package, not the sources.
    const installed = join(app, 'node_modules', 'tributary');
    await fs.access(join(installed, 'dist', 'cli', 'main.js'));
    await assert.rejects(fs.access(join(installed, 'src')));
  } finally {
    await cleanup(dir);
  }
});
