/**
 * Output formats at the sizes users print: a `SELECT *` of a million-row table must
 * render (the table format used to spread every cell of a column into Math.max and
 * overflowed the call stack), and line-by-line output must equal the one-string form.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatLines, formatResult, OUTPUT_FORMATS } from '../../src/query/format.ts';
import type { QueryResult } from '../../src/query/results.ts';

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
});
