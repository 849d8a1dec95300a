/**
 * Regression test: appending JS rows with a `map` column once gave each row's map the
 * keys of every other row in the batch, with NULL values (DuckDB inferred one STRUCT
 * from all the JSON objects, and the STRUCT → MAP cast kept every field). Each map
 * must hold exactly its own entries, and an empty map must stay empty.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LocalStore } from '../../src/storage/local.ts';
import { append, DeltaTable } from '../../src/table/index.ts';
import { field, struct } from './fixtures.ts';
import { cleanup, deltaRsRead, pythonSkip, sortRows, tempDir } from './helpers.ts';

let dir: string;
before(async () => {
  dir = await tempDir('map-keys');
});
after(() => cleanup(dir));

test('map values keep exactly their own keys (delta-rs reads what was appended)', {
  skip: pythonSkip(),
}, async () => {
  const schema = struct(
    field('id', 'long'),
    field('attrs', { type: 'map', keyType: 'string', valueType: 'long', valueContainsNull: true }),
  );
  const path = join(dir, 'maps');
  const table = await DeltaTable.create(new LocalStore(path), { schema });
  await append(table, {
    rows: [
      { id: 1n, attrs: { a: 1n } },
      { id: 2n, attrs: { b: 2n, 'key with space': null } },
      { id: 3n, attrs: new Map() },
      { id: 4n, attrs: null },
    ],
  });
  const theirs = await deltaRsRead(path);
  assert.deepEqual(
    theirs.rows,
    sortRows([
      { id: '1', attrs: { a: '1' } },
      { id: '2', attrs: { b: '2', 'key with space': null } },
      { id: '3', attrs: {} },
      { id: '4', attrs: null },
    ]),
  );
});
