/**
 * `tributary table ...` and `tributary query ...` as a user runs them: the real command
 * in a temporary working directory with the default data directory.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { withConnection } from '../../src/table/index.ts';
import { cleanup, deltaRsRead, pythonSkip, tempDir, tributary } from '../interop/helpers.ts';

describe('tributary table / query', () => {
  let cwd: string;
  // The default data directory (./tributary-data) of the working directory.
  const t = (...args: string[]) => tributary(args, { cwd, env: { TRIBUTARY_DATA_DIR: undefined } });
  const ok = async (...args: string[]) => {
    const r = await t(...args);
    assert.equal(r.code, 0, `tributary ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const json = async (...args: string[]) => JSON.parse(await ok(...args));

  before(async () => {
    cwd = await tempDir('cli');
    await fs.writeFile(
      join(cwd, 'a.ndjson'),
      '{"id": 1, "region": "eu west", "amount": 12.5}\n{"id": 2, "region": "us/east", "amount": 3.25}\n',
    );
    await fs.writeFile(join(cwd, 'b.csv'), 'id,region,amount\n2,us/east,99.5\n3,asia,1\n');
    await withConnection((conn) =>
      conn.run(
        `COPY (SELECT 10 + i AS id, 'pq' AS region, i * 1.5 AS amount FROM range(5) r(i)) TO '${join(cwd, 'c.parquet')}' (FORMAT parquet)`,
      ),
    );
  });
  after(() => cleanup(cwd));

  test('--help for each command; usage errors exit 2', async () => {
    assert.match(await ok('table', '--help'), /usage: tributary table <subcommand>/);
    assert.match(await ok('query', '--help'), /VERSION AS OF 3/);
    const bad = await t('table', 'frobnicate', 'x');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown subcommand 'frobnicate'/);
    const noKey = await t('table', 'write', 'x', 'a.ndjson', '--mode', 'merge');
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /--mode merge needs --key/);
    const wrongOpt = await t('table', 'show', 'x', '--key', 'id');
    assert.equal(wrongOpt.code, 2);
    assert.match(wrongOpt.stderr, /does not take --key/);
  });

  test('write creates the table from the file (inferred schema, partitioned); merge, overwrite, show, history', async () => {
    assert.match(
      await ok('table', 'write', 'sales', 'a.ndjson', '--partition-by', 'region'),
      /created table sales; wrote 2 rows \(append\) at version 0/,
    );
    await fs.access(join(cwd, 'tributary-data', 'tables', 'sales', '_delta_log'));
    assert.match(
      await ok('table', 'write', 'sales', 'b.csv', '--mode', 'merge', '--key', 'id'),
      /wrote 2 rows \(merge\) at version 1/,
    );
    assert.match(await ok('table', 'write', 'sales', 'c.parquet'), /wrote 5 rows \(append\) at version 2/);
    const rows = await json('query', 'SELECT id, region, amount FROM sales ORDER BY id', '--format', 'json');
    assert.deepEqual(rows.slice(0, 3), [
      { id: 1, region: 'eu west', amount: 12.5 },
      { id: 2, region: 'us/east', amount: 99.5 },
      { id: 3, region: 'asia', amount: 1 },
    ]);
    assert.equal(rows.length, 8);

    const show = await json('table', 'show', 'sales', '--format', 'json');
    assert.equal(show.version, 2);
    assert.deepEqual(show.partitionColumns, ['region']);
    assert.deepEqual(
      show.schema.map((c: { name: string; type: string }) => [c.name, c.type]),
      [
        ['id', 'long'],
        ['region', 'string'],
        ['amount', 'double'],
      ],
    );
    assert.equal(show.rows, 8);
    assert.match(await ok('table', 'show', 'sales'), /partitioned by {2}region\n[\s\S]*rows {12}8/);

    const history = await json('table', 'history', 'sales', '--format', 'json', '--limit', '3');
    assert.deepEqual(
      history.map((h: { version: number; operation: string }) => [h.version, h.operation]),
      [
        [2, 'WRITE'],
        [1, 'MERGE'],
        [0, 'WRITE'],
      ],
    );

    assert.match(await ok('table', 'write', 'sales', 'a.ndjson', '--mode', 'overwrite'), /at version 3/);
    assert.equal(await ok('query', 'SELECT count(*) AS n FROM sales', '--format', 'csv'), 'n\n2\n');
    assert.equal(
      await ok('query', 'SELECT count(*) AS n FROM sales VERSION AS OF 2', '--format', 'csv'),
      'n\n8\n',
    );
    // The first write is version 0, with its rows (as Spark and delta-rs number it).
    assert.equal(
      await ok('query', 'SELECT count(*) AS n FROM sales VERSION AS OF 0', '--format', 'csv'),
      'n\n2\n',
    );
  });

  test('optimize, vacuum (dry run, then for real), checkpoint; delta-rs reads the result', async () => {
    await ok(
      'table',
      'create',
      'tables-by-path/events',
      '--schema',
      '{"id":"long","kind":"string"}',
      '--partition-by',
      'kind',
      '--property',
      'delta.checkpointInterval=100',
    );
    const dir = join(cwd, 'tables-by-path', 'events');
    for (let i = 0; i < 3; i++) {
      await fs.writeFile(join(cwd, `e${i}.ndjson`), `{"id": ${i}, "kind": "k"}\n`);
      await ok('table', 'write', 'tables-by-path/events', `e${i}.ndjson`);
    }
    assert.match(
      await ok('table', 'optimize', 'tables-by-path/events', '--target-size', '64MB'),
      /compacted 3 files into 1 at version 4/,
    );
    const dry = await ok('table', 'vacuum', 'tables-by-path/events', '--retention-hours', '0', '--dry-run');
    assert.match(dry, /would delete 3 files/);
    assert.equal((await fs.readdir(join(dir, 'kind=k'))).length, 4);
    assert.match(
      await ok('table', 'vacuum', 'tables-by-path/events', '--retention-hours', '0'),
      /deleted 3 files/,
    );
    assert.equal((await fs.readdir(join(dir, 'kind=k'))).length, 1);
    assert.match(await ok('table', 'checkpoint', 'tables-by-path/events'), /checkpoint written at version 4/);
    await fs.access(join(dir, '_delta_log', '00000000000000000004.checkpoint.parquet'));
    const show = await json('table', 'show', 'tables-by-path/events', '--format', 'json');
    assert.deepEqual(show.properties, { 'delta.checkpointInterval': '100' });
    if (pythonSkip() === undefined) {
      const theirs = await deltaRsRead(dir);
      assert.equal(theirs.version, 4);
      assert.deepEqual(
        theirs.rows,
        [0, 1, 2].map((id) => ({ id: String(id), kind: 'k' })),
      );
    }
  });

  test('create refuses an existing table and a bad schema', async () => {
    await ok('table', 'create', 'dup', '--schema', '{"id":"long"}');
    const again = await t('table', 'create', 'dup', '--schema', '{"id":"long"}');
    assert.equal(again.code, 2);
    assert.match(again.stderr, /error \[TABLE_ALREADY_EXISTS\]/);
    const bad = await t('table', 'create', 'bad', '--schema', '{"id":"int64"}');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /error \[TABLE_INVALID_SCHEMA\].*int64/);
    const notJson = await t('table', 'create', 'bad', '--schema', '{id: long}');
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /error \[INPUT_INVALID\]: --schema is not valid JSON/);
  });
});
