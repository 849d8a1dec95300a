/**
 * Fitting text to a terminal's width (src/cli/terminal.ts): a folded line keeps every
 * character of the original (but the spaces where it breaks, and the end of a word wider
 * than a line) and no line is wider than
 * the width; a cut line ends in '…' and keeps its colour sequences balanced; live output
 * only on a terminal and without TRIBUTARY_PLAIN or TERM=dumb.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fold, isLive, truncate, visibleLength } from '../../src/cli/terminal.ts';

const squash = (s: string) => s.replace(/\s+/g, '');

describe('terminal text', () => {
  test('fold: at most the width, nothing lost, breaks at the figures first', () => {
    const lines = [
      'generated 20000  committed 19864  1740 events/s  lag 0  latency p50/p99 orders_events 1792/4084 ms, orders_current 3631/7955 ms  DLQ 118  duplicates 312',
      'serving at http://127.0.0.1:37901: API http://127.0.0.1:37901/api/v1 (docs http://127.0.0.1:37901/docs), pipelines http://127.0.0.1:37901/api/v1/pipelines, metrics http://127.0.0.1:37901/metrics',
      'sales: 12 batches, 1800 records in, 174 to the DLQ, lag 0; bronze +1648 rows (latency p50/p99 from ingest 2180/3228 ms, from event time 3410/5520 ms), silver +1600 rows',
    ];
    for (const width of [79, 59, 39]) {
      for (const line of lines) {
        const folded = fold(line, width);
        for (const l of folded) assert.ok(visibleLength(l) <= width, `${width}: ${l}`);
        const longest = Math.max(...line.split(/\s+/).map((w) => w.length));
        // Nothing lost, unless a word is wider than a line: then it is cut.
        if (longest <= width - 2) assert.equal(squash(folded.join(' ')), squash(line));
        else assert.ok(folded.some((l) => l.endsWith('…')));
        for (const l of folded.slice(1)) assert.match(l, /^ {2}\S/);
      }
    }
    assert.deepEqual(fold('generated 20000  committed 19864  lag 0', 30), [
      'generated 20000',
      '  committed 19864  lag 0',
    ]);
    assert.deepEqual(fold('short', 10), ['short']);
  });

  test('truncate: an ellipsis at the width, colour reset', () => {
    assert.equal(truncate('abcdefghij', 5), 'abcd…');
    assert.equal(truncate('abc', 5), 'abc');
    const bold = `\x1b[1m${'x'.repeat(20)}`;
    const cut = truncate(bold, 8);
    assert.equal(visibleLength(cut), 8);
    assert.ok(cut.endsWith('…\x1b[0m'));
  });

  test('isLive: a terminal, unless plain is asked for', () => {
    const env = { ...process.env };
    try {
      delete process.env.TRIBUTARY_PLAIN;
      process.env.TERM = 'xterm';
      const tty = { isTTY: true, write: () => true };
      assert.equal(isLive(tty), true);
      assert.equal(isLive({ write: () => true }), false);
      assert.equal(isLive(tty, true), false);
      process.env.TRIBUTARY_PLAIN = '1';
      assert.equal(isLive(tty), false);
      process.env.TRIBUTARY_PLAIN = '0';
      assert.equal(isLive(tty), true);
      process.env.TERM = 'dumb';
      assert.equal(isLive(tty), false);
    } finally {
      process.env = env;
    }
  });
});
