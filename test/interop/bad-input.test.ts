/**
 * Bad input gives a clear error (code and message naming what and where) and changes
 * nothing: a corrupt or missing log file, a data file the log references that is gone,
 * a table from a newer protocol, a malformed input file for `tributary table write`.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isTributaryError } from '../../src/core/errors.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, DeltaTable, readRows } from '../../src/table/index.ts';
import { field, struct } from './fixtures.ts';
import { cleanup, tempDir, tributary } from './helpers.ts';

const SCHEMA = struct(field('id', 'long'), field('p', 'string'), field('v', 'double'));

/** Every file under `dir` with its size and content hash: "nothing changed" means equal listings. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const { createHash } = await import('node:crypto');
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath, e.name);
    const hash = createHash('sha1')
      .update(await fs.readFile(full))
      .digest('hex');
    out.push(`${relative(dir, full)} ${hash}`);
  }
  return out.sort();
}

const commitFile = (table: string, v: number) =>
  join(table, '_delta_log', `${String(v).padStart(20, '0')}.json`);

async function makeTable(dataDir: string, name: string): Promise<string> {
  const path = join(dataDir, 'tables', name);
  const table = await DeltaTable.create(new LocalStore(path), { schema: SCHEMA, partitionColumns: ['p'] });
  await append(table, {
    rows: [
      { id: 1n, p: 'a', v: 1.5 },
      { id: 2n, p: 'b', v: 2.5 },
    ],
  });
  await append(table, { rows: [{ id: 3n, p: 'a', v: 3.5 }] });
  return path;
}

async function rejects(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isTributaryError(err), `expected a TributaryError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

describe('bad input: clear errors, nothing changed', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await tempDir('bad');
  });
  after(() => cleanup(dataDir));

  test('a corrupt commit file', async () => {
    const path = await makeTable(dataDir, 'corrupt');
    await fs.writeFile(commitFile(path, 2), '{"add": {"path": "x.parquet", "partitionV\n');
    const before = await listing(path);
    await rejects(DeltaTable.open(new LocalStore(path)), 'TABLE_CORRUPT_LOG', /00000000000000000002\.json/);
    const cli = await tributary(['table', 'show', 'corrupt', '--data-dir', dataDir]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /error \[TABLE_CORRUPT_LOG\].*00000000000000000002\.json/);
    const write = await tributary(['query', 'SELECT count(*) FROM corrupt', '--data-dir', dataDir]);
    assert.match(write.stderr, /TABLE_CORRUPT_LOG/);
    assert.deepEqual(await listing(path), before);
  });

  test('a missing commit file (a gap in the versions)', async () => {
    const path = await makeTable(dataDir, 'gap');
    await fs.rm(commitFile(path, 1));
    const before = await listing(path);
    await assert.rejects(
      DeltaTable.open(new LocalStore(path)).then((t) => t.snapshot()),
      (err: unknown) => {
        assert.ok(isTributaryError(err), String(err));
        assert.ok(['TABLE_CORRUPT_LOG', 'TABLE_VERSION_NOT_FOUND'].includes(err.code), err.code);
        assert.match(err.message, /version 1|00000000000000000001/);
        return true;
      },
    );
    assert.deepEqual(await listing(path), before);
  });

  test('a data file the log references is gone', async () => {
    const path = await makeTable(dataDir, 'missing-file');
    const table = await DeltaTable.open(new LocalStore(path));
    const victim = (await table.snapshot()).files()[0];
    await fs.rm(join(path, decodeURIComponent(victim.path)));
    const before = await listing(path);
    await rejects(readRows(table, await table.snapshot()), 'TABLE_MISSING_FILE', /version 2 .*missing/);
    const cli = await tributary(['query', 'SELECT * FROM "missing-file"', '--data-dir', dataDir]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /error \[TABLE_MISSING_FILE\]: data file '.*part-.*\.parquet'/);
    assert.deepEqual(await listing(path), before);
  });

  test('a table written by a newer protocol (reader 3 / writer 7, unknown features)', async () => {
    const path = await makeTable(dataDir, 'newer');
    const v0 = commitFile(path, 0);
    const text = await fs.readFile(v0, 'utf8');
    const upgraded = text.replace(
      /\{"protocol":\{[^}]*\}\}/,
      JSON.stringify({
        protocol: {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: ['deletionVectors', 'futureReaderFeature'],
          writerFeatures: ['deletionVectors', 'futureWriterFeature'],
        },
      }),
    );
    assert.notEqual(upgraded, text);
    await fs.writeFile(v0, upgraded);
    const before = await listing(path);
    await rejects(
      DeltaTable.open(new LocalStore(path)).then((t) => t.snapshot()),
      'TABLE_UNSUPPORTED_PROTOCOL',
      /reader.*3|futureReaderFeature/,
    );
    const input = join(dataDir, 'more.ndjson');
    await fs.writeFile(input, '{"id": 9, "p": "z", "v": 0.5}\n');
    const cli = await tributary(['table', 'write', 'newer', input, '--data-dir', dataDir]);
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /error \[TABLE_UNSUPPORTED_PROTOCOL\]/);
    assert.deepEqual(await listing(path), before);
  });

  test('a writer-only upgrade: still readable, but writes are refused', async () => {
    const path = await makeTable(dataDir, 'newer-writer');
    const v0 = commitFile(path, 0);
    const text = await fs.readFile(v0, 'utf8');
    await fs.writeFile(
      v0,
      text.replace(
        /\{"protocol":\{[^}]*\}\}/,
        JSON.stringify({
          protocol: { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['futureWriterFeature'] },
        }),
      ),
    );
    const before = await listing(path);
    const table = await DeltaTable.open(new LocalStore(path));
    assert.equal((await readRows(table, await table.snapshot())).length, 3);
    await rejects(
      append(table, { rows: [{ id: 4n, p: 'a', v: 0 }] }),
      'TABLE_UNSUPPORTED_PROTOCOL',
      /writer|futureWriterFeature/,
    );
    assert.deepEqual(await listing(path), before);
  });

  test('`table write` with a malformed NDJSON file: error names the file, no commit, no file', async () => {
    const path = await makeTable(dataDir, 'malformed');
    const bad = join(dataDir, 'bad.ndjson');
    await fs.writeFile(bad, '{"id": 10, "p": "a", "v": 1.0}\n{"id": 11, "p": "a", "v": \n{"id": 12}\n');
    const before = await listing(path);
    const cli = await tributary(['table', 'write', 'malformed', bad, '--data-dir', dataDir]);
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(cli.stderr, /error \[INPUT_INVALID\]: '.*bad\.ndjson' is not a valid NDJSON file/);
    assert.deepEqual(await listing(path), before);

    // Into a table that does not exist yet: no table appears.
    const cli2 = await tributary(['table', 'write', 'fresh', bad, '--data-dir', dataDir]);
    assert.equal(cli2.code, 2);
    assert.match(cli2.stderr, /INPUT_INVALID/);
    await assert.rejects(
      fs.stat(join(dataDir, 'tables', 'fresh', '_delta_log', '00000000000000000000.json')),
    );
  });

  test('`table write` with rows that do not fit the schema, and with a missing file', async () => {
    const path = join(dataDir, 'tables', 'malformed');
    const before = await listing(path);
    const wrong = join(dataDir, 'wrong.ndjson');
    await fs.writeFile(wrong, '{"id": "not a number", "p": "a", "v": 1.0}\n');
    const cli = await tributary(['table', 'write', 'malformed', wrong, '--data-dir', dataDir]);
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(cli.stderr, /error \[TABLE_SCHEMA_MISMATCH\].*\bid\b/);
    const missing = await tributary([
      'table',
      'write',
      'malformed',
      join(dataDir, 'nope.csv'),
      '--data-dir',
      dataDir,
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /error \[INPUT_INVALID\]: input file '.*nope\.csv' does not exist/);
    assert.deepEqual(await listing(path), before);
  });
});
