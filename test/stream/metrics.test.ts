import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram } from '../../src/stream/metrics.ts';

test('histogram quantiles are within a bucket (4 %) of the true values', () => {
  const h = new Histogram();
  // 1..10,000 ms once each: p50 = 5,000, p99 = 9,900.
  for (let v = 1; v <= 10_000; v++) h.record(v);
  assert.equal(h.total, 10_000);
  for (const [q, exact] of [
    [0.5, 5_000],
    [0.99, 9_900],
    [1, 10_000],
  ] as const) {
    const got = h.quantile(q);
    assert.ok(got >= exact && got <= exact * 1.05, `q${q}: ${got} vs ${exact}`);
  }
  h.record(50, 1_000_000);
  assert.ok(h.quantile(0.5) >= 50 && h.quantile(0.5) <= 52.5, 'counts weigh in');
  h.reset();
  assert.equal(h.quantile(0.99), 0);
});
