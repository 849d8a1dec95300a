/**
 * Regression tests for what a user hit with `tributary table write` and `tributary
 * query` on awkward input (found in a QA pass over the documented commands).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanup, ROOT, tempDir, tributary } from '../interop/helpers.ts';

describe('tributary table write / query: awkward input', () => {
  let cwd: string;
  const t = (...args: string[]) => tributary(args, { cwd, env: { TRIBUTARY_DATA_DIR: undefined } });
  const ok = async (...args: string[]) => {
    const r = await t(...args);
    assert.equal(r.code, 0, `tributary ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const tablesDir = () => join(cwd, 'tributary-data', 'tables');

  before(async () => {
    cwd = await tempDir('cli-edge');
  });
  after(() => cleanup(cwd));

  test('a CSV whose column changes type after the first 20,000 rows is read with the type that fits all rows', async () => {
    const lines = ['id,code'];
    for (let i = 0; i < 30_000; i++) lines.push(`${i},${i}`);
    lines.push('30000,abc');
    await fs.writeFile(join(cwd, 'late.csv'), `${lines.join('\n')}\n`);
    assert.match(await ok('table', 'write', 'late', 'late.csv'), /created table late; wrote 30001 rows/);
    const rows = JSON.parse(
      await ok(
        'query',
        "SELECT count(*) AS n, max(id) AS top FROM late WHERE code = 'abc'",
        '--format',
        'json',
      ),
    );
    assert.deepEqual(rows, [{ n: 1, top: 30000 }]);
  });

  test('an empty NDJSON file: no table with a bogus `json` column; an existing table is left alone', async () => {
    await fs.writeFile(join(cwd, 'empty.ndjson'), '');
    const r = await t('table', 'write', 'fresh', 'empty.ndjson');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /INPUT_INVALID.*has no rows.*table create fresh/);
    await assert.rejects(fs.access(join(tablesDir(), 'fresh', '_delta_log', '00000000000000000000.json')));

    await fs.writeFile(join(cwd, 'one.ndjson'), '{"id": 1, "name": "a"}\n');
    await ok('table', 'write', 'kept', 'one.ndjson');
    assert.match(await ok('table', 'write', 'kept', 'empty.ndjson'), /nothing to commit.*stays at version 0/);
    // Overwrite with no rows empties the table, as overwrite means.
    assert.match(
      await ok('table', 'write', 'kept', 'empty.ndjson', '--mode', 'overwrite'),
      /wrote 0 rows \(overwrite\) at version 1/,
    );
    const rows = JSON.parse(await ok('query', 'SELECT count(*) AS n FROM kept', '--format', 'json'));
    assert.deepEqual(rows, [{ n: 0 }]);
  });

  test('merge into a new table checks the keys, and a failed write leaves nothing that looks like a table', async () => {
    await fs.writeFile(join(cwd, 'dups.ndjson'), '{"id": 1, "v": "a"}\n{"id": 1, "v": "b"}\n');
    // Before: the new table was appended to, keeping both rows for key 1.
    const r = await t('table', 'write', 'dups', 'dups.ndjson', '--mode', 'merge', '--key', 'id');
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /2 rows for key \{"id":"1"\}/);
    const noKey = await t('table', 'write', 'nokey', 'dups.ndjson', '--mode', 'merge', '--key', 'nosuch');
    assert.equal(noKey.code, 2, noKey.stdout);
    assert.match(noKey.stderr, /merge key 'nosuch' is not a column/);
    // Neither attempt left a _delta_log behind that would be listed as a table.
    await assert.rejects(fs.access(join(tablesDir(), 'dups', '_delta_log')));
    const missing = await t('query', 'SELECT 1 FROM nosuch');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /tables there: kept, late\./);
    // A folder with an empty _delta_log (as older versions left) is no table either.
    await fs.mkdir(join(tablesDir(), 'leftover', '_delta_log'), { recursive: true });
    assert.match((await t('query', 'SELECT 1 FROM nosuch')).stderr, /tables there: kept, late\./);
  });

  test('a column the table lacks: the error names --merge-schema, which adds it', async () => {
    await fs.writeFile(join(cwd, 'base.ndjson'), '{"id": 1}\n');
    await fs.writeFile(join(cwd, 'wider.ndjson'), '{"id": 2, "extra": "x"}\n');
    await ok('table', 'write', 'evolving', 'base.ndjson');
    const r = await t('table', 'write', 'evolving', 'wider.ndjson');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /'extra'.*write with --merge-schema/);
    assert.match(await ok('table', 'write', 'evolving', 'wider.ndjson', '--merge-schema'), /wrote 1 row/);
    const rows = JSON.parse(await ok('query', 'SELECT * FROM evolving ORDER BY id', '--format', 'json'));
    assert.deepEqual(rows, [
      { id: 1, extra: null },
      { id: 2, extra: 'x' },
    ]);
  });

  test('a table name cannot point at the tables folder, above it, or over other tables', async () => {
    await fs.writeFile(join(cwd, 'row.ndjson'), '{"id": 1}\n');
    // '' was tables/ itself and '..' the data directory: a VACUUM of either deleted
    // every other table's files.
    for (const name of ['', '..', '.', 'a..b', 'x.']) {
      const r = await t('table', 'write', name, 'row.ndjson');
      assert.equal(r.code, 2, `'${name}': ${r.stdout}`);
      assert.match(r.stderr, /TABLE_INVALID_ARGUMENT.*is not a table name/);
    }
    await assert.rejects(fs.access(join(tablesDir(), '_delta_log')));
    await assert.rejects(fs.access(join(cwd, 'tributary-data', '_delta_log')));
    // gold.daily lives in tables/gold/daily; a new table `gold` would own its files.
    await ok('table', 'write', 'tributary-data/tables/gold/daily', 'row.ndjson');
    for (const args of [
      ['write', 'gold', 'row.ndjson'],
      ['create', 'gold', '--schema', '{"id": "long"}'],
    ]) {
      const r = await t('table', ...args);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, /cannot create table gold.*already holds 2 file\(s\).*daily\/_delta_log/);
    }
    await assert.rejects(fs.access(join(tablesDir(), 'gold', '_delta_log')));
    assert.match(await ok('query', 'SELECT count(*) AS n FROM gold.daily', '--format', 'csv'), /^n\n1\n/);
  });

  test('usage mistakes exit with 2: no command at all, --key without --mode merge', async () => {
    const none = await t();
    assert.equal(none.code, 2);
    assert.match(none.stderr, /usage: tributary <command>/);
    const key = await t('table', 'write', 'kept', 'one.ndjson', '--mode', 'overwrite', '--key', 'id');
    assert.equal(key.code, 2);
    assert.match(key.stderr, /--key is for --mode merge/);
    assert.match(await ok('table', 'history', 'kept', '--format', 'csv'), /^version,/);
    assert.doesNotMatch(await ok('table', 'history', 'kept', '--format', 'csv'), /^3,/m);
  });

  test("text written into an existing table's string columns is stored exactly as in the file", async () => {
    await ok(
      'table',
      'create',
      'texts',
      '--schema',
      '{"price": "string", "ts": "string", "flag": "string", "n": "long"}',
    );
    await fs.writeFile(join(cwd, 'texts.csv'), 'price,ts,flag,n\n1.50,2026-01-01T10:00:00Z,TRUE,1\n');
    await fs.writeFile(
      join(cwd, 'texts.ndjson'),
      '{"price": "1.50", "ts": "2026-01-01T10:00:00Z", "flag": "TRUE", "n": 2}\n',
    );
    await ok('table', 'write', 'texts', 'texts.csv');
    await ok('table', 'write', 'texts', 'texts.ndjson');
    const rows = JSON.parse(await ok('query', 'SELECT * FROM texts ORDER BY n', '--format', 'json'));
    const same = { price: '1.50', ts: '2026-01-01T10:00:00Z', flag: 'TRUE' };
    assert.deepEqual(rows, [
      { ...same, n: 1 },
      { ...same, n: 2 },
    ]);
  });

  test('a .json file holding one array of objects gives a row per object', async () => {
    await fs.writeFile(join(cwd, 'list.json'), '[\n  {"id": 1, "tag": "a"},\n  {"id": 2, "tag": "b"}\n]\n');
    // Before: one row with a single column `json` holding the whole array.
    assert.match(await ok('table', 'write', 'listed', 'list.json'), /wrote 2 rows/);
    const rows = JSON.parse(await ok('query', 'SELECT * FROM listed ORDER BY id', '--format', 'json'));
    assert.deepEqual(rows, [
      { id: 1, tag: 'a' },
      { id: 2, tag: 'b' },
    ]);
  });

  test('several statements: the last one is the result, as documented', async () => {
    const out = await ok(
      'query',
      "SELECT 1 AS first_result; SELECT 2 AS last_result, count(*) AS n FROM late WHERE code <> 'abc'",
      '--format',
      'json',
    );
    assert.deepEqual(JSON.parse(out), [{ last_result: 2, n: 30000 }]);
    const blank = await t('query', ' ; ');
    assert.equal(blank.code, 2);
    assert.match(blank.stderr, /QUERY_INVALID.*no statement/);
  });
});

describe('tributary output into a pipe that closes early', () => {
  test('`tributary query ... | head -1` stops quietly with exit code 0', async () => {
    // CSV of 300,000 rows: ~2 MB, far more than a pipe's buffer.
    const args = [
      join(ROOT, 'bin', 'tributary.js'),
      'query',
      'SELECT * FROM range(300000)',
      '--format',
      'csv',
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    // Read the first chunk, then close the pipe as `head` does.
    await Promise.race([new Promise((resolve) => child.stdout.once('data', resolve)), closed]);
    child.stdout.destroy();
    const code = await closed;
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });
});
