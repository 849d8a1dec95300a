/**
 * `tributary table write` into a new table numbers versions as Spark and delta-rs do:
 * version 0 holds the table and the file's rows (not an empty CREATE TABLE with the
 * data at 1), so delta-rs time travel to version 0 gives the first data. `tributary
 * table create` still makes an empty version 0.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanup, deltaRsRead, pythonSkip, tempDir, tributary } from './helpers.ts';

const skip = pythonSkip();

describe('first write of a new table, read by delta-rs', { skip }, () => {
  let cwd: string;
  before(async () => {
    cwd = await tempDir('first-version');
  });
  after(() => cleanup(cwd));

  const ok = async (...args: string[]) => {
    const r = await tributary(args, { cwd, env: { TRIBUTARY_DATA_DIR: undefined } });
    assert.equal(r.code, 0, `tributary ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  test('table write on a new table: version 0 holds its rows', async () => {
    await fs.writeFile(
      join(cwd, 'a.ndjson'),
      '{"id": 1, "region": "eu", "amount": 12.5}\n{"id": 2, "region": "us", "amount": 99.5}\n',
    );
    await fs.writeFile(join(cwd, 'b.ndjson'), '{"id": 3, "region": "eu", "amount": 1.0}\n');
    assert.match(
      await ok('table', 'write', 'sales', 'a.ndjson', '--partition-by', 'region'),
      /created table sales; wrote 2 rows \(append\) at version 0/,
    );
    assert.match(await ok('table', 'write', 'sales', 'b.ndjson'), /wrote 1 rows? \(append\) at version 1/);
    const path = join(cwd, 'tributary-data', 'tables', 'sales');
    const log = (await fs.readFile(join(path, '_delta_log', '00000000000000000000.json'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => Object.keys(JSON.parse(l))[0]);
    assert.deepEqual(log, ['commitInfo', 'protocol', 'metaData', 'add', 'add']);

    const v0 = await deltaRsRead(path, { version: 0 });
    assert.equal(v0.version, 0);
    assert.deepEqual(v0.partitionColumns, ['region']);
    assert.deepEqual(
      v0.rows.map((r) => [String(r.id), r.region, r.amount]),
      [
        ['1', 'eu', 12.5],
        ['2', 'us', 99.5],
      ],
    );
    assert.equal((await deltaRsRead(path)).rows.length, 3);
  });

  test('a header-only CSV still creates the table: an empty version 0 with the columns', async () => {
    await fs.writeFile(join(cwd, 'h.csv'), 'id,name\n');
    assert.match(
      await ok('table', 'write', 'headers', 'h.csv'),
      /created table headers; wrote 0 rows .*at version 0/,
    );
    const v0 = await deltaRsRead(join(cwd, 'tributary-data', 'tables', 'headers'), { version: 0 });
    assert.deepEqual(
      v0.schema.fields.map((f) => f.name),
      ['id', 'name'],
    );
    assert.deepEqual(v0.rows, []);
  });

  test('table create, then write: an empty version 0 and the data at 1', async () => {
    await ok('table', 'create', 'empty_first', '--schema', '{"id":"long"}');
    await fs.writeFile(join(cwd, 'c.ndjson'), '{"id": 7}\n');
    assert.match(await ok('table', 'write', 'empty_first', 'c.ndjson'), /at version 1/);
    const path = join(cwd, 'tributary-data', 'tables', 'empty_first');
    assert.deepEqual((await deltaRsRead(path, { version: 0 })).rows, []);
    assert.deepEqual(
      (await deltaRsRead(path, { version: 1 })).rows.map((r) => String(r.id)),
      ['7'],
    );
  });
});
