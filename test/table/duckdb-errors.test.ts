/**
 * DuckDB's failures reach callers as catalogued TributaryErrors: each failure below is
 * raised by real DuckDB on a connection of the process's instance, and must come out
 * with the code, the domain and the retry flag the catalog gives it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { DuckDBConnection } from '@duckdb/node-api';
import { type ErrorCode, isTributaryError, TributaryError } from '../../src/core/errors.ts';
import { fromDuckdbError } from '../../src/table/duckdb-errors.ts';
import { openConnection } from '../../src/table/index.ts';

async function failure(run: () => Promise<unknown>): Promise<TributaryError> {
  try {
    await run();
  } catch (err) {
    assert.ok(isTributaryError(err), `a TributaryError, not ${String(err)}`);
    return err;
  }
  assert.fail('the statement did not fail');
}

function expect(err: TributaryError, code: ErrorCode, duckdbType: string): void {
  assert.equal(err.code, code, err.message);
  assert.equal(err.details.duckdbType, duckdbType);
  assert.ok(
    (err.cause as Error).message.startsWith(`${duckdbType} Error: `),
    'the original error is the cause',
  );
  assert.ok(err.message.includes(`${duckdbType} Error: `), 'the message quotes DuckDB');
}

describe('DuckDB failures in the error catalog', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-duckdb-errors-'));
  let conn: DuckDBConnection;
  after(() => {
    conn?.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  test('transient: I/O on a local file, out of memory, an interrupt', async () => {
    conn = await openConnection();
    // A file where a directory should be: DuckDB cannot create the file under it.
    const notADir = join(dir, 'plain-file');
    writeFileSync(notADir, 'x');
    const io = await failure(() =>
      conn.run(`COPY (SELECT 1 AS a) TO '${notADir}/out.parquet' (FORMAT parquet)`),
    );
    expect(io, 'DUCKDB_IO', 'IO');
    assert.equal(io.retryable, true);
    assert.equal(io.domain, 'external');
    assert.match(String(io.details.statement), /^COPY/);

    const limit = (await conn.runAndReadAll(`SELECT current_setting('memory_limit')`)).getRows()[0][0];
    await conn.run(`SET memory_limit = '8MB'`);
    try {
      const oom = await failure(() => conn.runAndReadAll('SELECT list(i) FROM range(20000000) t(i)'));
      expect(oom, 'DUCKDB_OUT_OF_MEMORY', 'Out of Memory');
      assert.equal(oom.retryable, true);
      assert.match(oom.message, /smaller/);
    } finally {
      await conn.run(`SET memory_limit = '${limit}'`);
    }

    const other = await openConnection();
    try {
      const running = failure(() =>
        other.run('SELECT count(*) FROM range(1000000000000) t(i) WHERE i % 7 = 3'),
      );
      // The interrupt must land while the statement runs: repeat it until it failed.
      let settled = false;
      running.finally(() => {
        settled = true;
      });
      while (!settled) {
        other.interrupt();
        await new Promise((r) => setTimeout(r, 20));
      }
      const interrupted = await running;
      expect(interrupted, 'DUCKDB_INTERRUPTED', 'INTERRUPT');
      assert.equal(interrupted.retryable, true);
    } finally {
      other.closeSync();
    }
  });

  test('permanent: data that does not convert or breaks a constraint is the user’s', async () => {
    conn ??= await openConnection();
    const conversion = await failure(() => conn.runAndReadAll(`SELECT 'u-17'::INTEGER`));
    expect(conversion, 'DUCKDB_DATA', 'Conversion');
    assert.equal(conversion.retryable, false);
    assert.equal(conversion.domain, 'user');
    assert.match(conversion.message, /contract/);

    // A prepared statement's failures too (the runtime prepares the rejects' explanation).
    await conn.run(`CREATE TEMP TABLE texts AS SELECT 'u-17' AS v`);
    const prepared = await conn.prepare('SELECT v::INTEGER FROM texts');
    expect(await failure(() => prepared.runAndReadAll()), 'DUCKDB_DATA', 'Conversion');

    await conn.run('CREATE TEMP TABLE keyed (k INTEGER PRIMARY KEY)');
    const constraint = await failure(() => conn.run('INSERT INTO keyed VALUES (1), (1)'));
    expect(constraint, 'DUCKDB_DATA', 'Constraint');
  });

  test('permanent: a statement DuckDB cannot bind or parse says whose SQL to fix', async () => {
    conn ??= await openConnection();
    const binder = await failure(() => conn.run('SELECT no_such_column FROM range(3)'));
    expect(binder, 'DUCKDB_SQL', 'Binder');
    assert.equal(binder.retryable, false);
    assert.match(binder.message, /a sink's select/);
    expect(await failure(() => conn.run('SELECT * FROM no_such_table')), 'DUCKDB_SQL', 'Catalog');
    expect(await failure(() => conn.run('SELEC 1')), 'DUCKDB_SQL', 'Parser');
  });

  test('errors that are not DuckDB’s are left alone', () => {
    const plain = new TypeError('x is not a function');
    assert.equal(fromDuckdbError(plain), plain);
    const ours = new TributaryError('STORAGE_IO', 'disk', {});
    assert.equal(fromDuckdbError(ours), ours);
    const unknownType = fromDuckdbError(new Error('Brand New Error: something'));
    assert.ok(isTributaryError(unknownType, 'DUCKDB_FAILED'), 'an unknown DuckDB type: failed, not retried');
  });
});
