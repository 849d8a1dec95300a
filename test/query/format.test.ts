/**
 * Output formats at the sizes users print: a `SELECT *` of a million-row table must
 * render (the table format used to spread every cell of a column into Math.max and
 * overflowed the call stack), and line-by-line output must equal the one-string form.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatChunks, formatLines, formatResult, OUTPUT_FORMATS } from '../../src/query/format.ts';
import type { QueryResult } from '../../src/query/results.ts';
import { runQuery, streamQuery } from '../../src/query/run.ts';

function bigResult(n: number): QueryResult {
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++)
    rows.push({ id: BigInt(i), name: i === n - 1 ? 'the widest name' : `n${i % 10}` });
  return {
    columns: [
      { name: 'id', type: 'BIGINT' },
      { name: 'name', type: 'VARCHAR' },
    ],
    rows,
  };
}

describe('query output formats', () => {
  test('a table of 500,000 rows renders, aligned to its widest cell', () => {
    const lines = [...formatLines(bigResult(500_000), 'table')];
    assert.equal(lines.length, 500_000 + 3);
    assert.equal(lines[0], '    id | name');
    assert.equal(lines[1], '-------+----------------');
    assert.equal(lines[2], '     0 | n0');
    assert.equal(lines.at(-2), '499999 | the widest name');
    assert.equal(lines.at(-1), '(500000 rows)');
  });

  test('formatLines joined is formatResult, for every format, also with no rows', () => {
    for (const n of [0, 1, 3]) {
      const r = bigResult(n);
      for (const format of OUTPUT_FORMATS) {
        assert.equal([...formatLines(r, format)].join('\n'), formatResult(r, format), `${format}, ${n} rows`);
      }
    }
    assert.equal(formatResult(bigResult(0), 'json'), '[]');
    assert.equal(
      formatResult(bigResult(2), 'json'),
      '[\n{"id":0,"name":"n0"},\n{"id":1,"name":"the widest name"}\n]',
    );
    assert.equal(formatResult(bigResult(0), 'ndjson'), '');
  });

  test('rows streamed in chunks print exactly as the whole result, for every format', async () => {
    for (const n of [0, 1, 3, 5_000]) {
      const r = bigResult(n);
      async function* chunks() {
        for (let i = 0; i < r.rows.length; i += 2048) yield r.rows.slice(i, i + 2048);
      }
      for (const format of OUTPUT_FORMATS) {
        const lines: string[] = [];
        for await (const line of formatChunks(r.columns, chunks(), format)) lines.push(line);
        assert.equal(lines.join('\n'), formatResult(r, format), `${format}, ${n} rows`);
      }
    }
  });

  test('a streamed query yields the rows runQuery returns, over several chunks', async () => {
    const sql = "SELECT i AS id, 'n' || i AS name, i / 3 AS third FROM range(10000) t(i) ORDER BY i";
    const whole = await runQuery(sql, { dataDir: '.' });
    const streamed = await streamQuery(sql, { dataDir: '.' });
    assert.deepEqual(streamed.columns, whole.columns);
    const rows: Record<string, unknown>[] = [];
    let chunks = 0;
    for await (const chunk of streamed.chunks) {
      chunks++;
      rows.push(...chunk);
    }
    assert.ok(chunks > 1, `${chunks} chunks`);
    assert.deepEqual(rows, whole.rows);
    await assert.rejects(
      (async () => {
        const bad = await streamQuery("SELECT CAST('x' || i AS INTEGER) FROM range(5000) t(i)", {
          dataDir: '.',
        });
        for await (const _ of bad.chunks);
      })(),
      (err: Error & { code?: string }) =>
        err.code === 'QUERY_INVALID' && /rejected the query/.test(err.message),
    );
  });
});
