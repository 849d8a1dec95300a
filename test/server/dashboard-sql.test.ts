/**
 * The SQL panels' helpers: versions pinned in the query text, and `{{newest t.c}}` bounds
 * from file statistics that never change an answer (statistics round timestamps up to the
 * millisecond; a bound taken as the newest value itself would drop rows just inside a window).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runQuery } from '../../src/query/index.ts';
import { pinVersions, resolveNewest, resolveRows } from '../../src/server/dashboard/sql-panels.ts';
import { TableCache } from '../../src/server/tables/open.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, DeltaTable } from '../../src/table/index.ts';
import { tempDir } from './helpers.ts';

const SCHEMA = {
  type: 'struct' as const,
  fields: [
    { name: 'id', type: 'long' as const, nullable: false, metadata: {} },
    { name: 'ts', type: 'timestamp' as const, nullable: true, metadata: {} },
  ],
};

const WINDOW = `WITH newest AS (SELECT max(ts) AS t FROM events WHERE ts >= {{newest events.ts}})
SELECT e.id FROM events AS e, newest
WHERE e.ts >= {{newest events.ts}} - INTERVAL 5 MINUTE AND e.ts > newest.t - INTERVAL 5 MINUTE
ORDER BY e.id`;

describe('SQL panels', () => {
  test('versions are pinned after every table named without time travel', () => {
    assert.equal(
      pinVersions('SELECT * FROM a JOIN b USING (id), (SELECT 1 FROM a AT (VERSION => 1))', { a: 4, b: 7 }),
      'SELECT * FROM a VERSION AS OF 4 JOIN b VERSION AS OF 7 USING (id), (SELECT 1 FROM a AT (VERSION => 1))',
    );
    assert.throws(() => pinVersions('SELECT * FROM c', { c: null }), { code: 'TABLE_NOT_FOUND' });
  });

  test('a window bounded by {{newest}} answers what the exact query answers, to the microsecond', async () => {
    const dataDir = tempDir('newest');
    const table = await DeltaTable.open(new LocalStore(join(dataDir, 'tables', 'events')), {
      createIfMissing: { schema: SCHEMA },
    });
    // The newest value has microseconds (its statistic is rounded up by 0.4995 ms); rows
    // sit 1 µs inside and exactly on the window's lower edge, in an older file.
    await append(table, {
      rows: [
        { id: 1n, ts: '2026-01-01T11:00:00.000000Z' },
        { id: 2n, ts: '2026-01-01T11:55:00.500501Z' },
        { id: 3n, ts: '2026-01-01T11:55:00.500500Z' },
      ],
    });
    await append(table, { rows: [{ id: 4n, ts: '2026-01-01T12:00:00.500500Z' }] });
    const tables = new TableCache(dataDir);
    const versions = { events: 1 };
    const bounded = await resolveNewest(pinVersions(WINDOW, versions), versions, tables);
    assert.match(bounded, /TIMESTAMPTZ '2026-01-01T12:00:00\.500000Z'/);
    const exact = pinVersions(
      WINDOW.replaceAll('{{newest events.ts}}', "'-infinity'::TIMESTAMPTZ"),
      versions,
    );
    const ids = async (sql: string) => (await runQuery(sql, { dataDir })).rows.map((r) => r.id);
    assert.deepEqual(await ids(exact), [2n, 4n]);
    assert.deepEqual(await ids(bounded), [2n, 4n]);
    // A version before the newest rows: the bound follows the pinned version.
    const v0 = await resolveNewest('{{newest events.ts}}', { events: 0 }, tables);
    assert.equal(v0, "TIMESTAMPTZ '2026-01-01T11:55:00.500000Z'");
  });

  test('{{rows t}}: the row count of the pinned version from file statistics; a file without them counts by scan', async () => {
    const dataDir = tempDir('rows');
    const store = new LocalStore(join(dataDir, 'tables', 'events'));
    const table = await DeltaTable.open(store, { createIfMissing: { schema: SCHEMA } });
    await append(table, {
      rows: [
        { id: 1n, ts: null },
        { id: 2n, ts: null },
      ],
    });
    await append(table, { rows: [{ id: 3n, ts: null }] });
    let tables = new TableCache(dataDir);
    const count = async (versions: Record<string, number>) =>
      (
        await runQuery(
          pinVersions(await resolveRows('SELECT {{rows events}} AS n', versions, tables), versions),
          { dataDir },
        )
      ).rows[0].n;
    assert.equal(
      await resolveRows('SELECT {{rows events}}', { events: 1 }, tables),
      'SELECT CAST(3 AS BIGINT)',
    );
    assert.equal(await count({ events: 0 }), 2n, 'the pinned version, not the newest');
    // Another engine's file without statistics: the count falls back to a scan.
    const snap = await table.snapshot();
    const twoRows = snap.files().find((f) => JSON.parse(f.stats ?? '{}').numRecords === 2)!;
    const bare = { ...twoRows, stats: undefined, dataChange: true };
    const first = twoRows.path;
    const copy = first.replace('.parquet', '-copy.parquet');
    writeFileSync(
      join(dataDir, 'tables', 'events', copy),
      readFileSync(join(dataDir, 'tables', 'events', first)),
    );
    await table.commit([{ add: { ...bare, path: copy } }], { readSnapshot: snap, operation: 'WRITE' });
    tables = new TableCache(dataDir);
    const sql = await resolveRows('SELECT {{rows events}} AS n', { events: 2 }, tables);
    assert.match(sql, /\(SELECT count\(\*\) FROM events\)/);
    assert.equal(await count({ events: 2 }), 5n);
  });
});
