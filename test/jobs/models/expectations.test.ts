/**
 * Expectations catch planted bad rows with the right failing counts and samples: nulls,
 * duplicates, out-of-range values, values outside a list, orphans of a relationship, a
 * broken SQL predicate, row counts out of bounds, and a stale table (freshness, driven
 * by a ManualClock — no sleeping). An `error` failure skips the models that depend on the
 * model (or source) in that run; a `warn` failure does not. Results land in the
 * `_tributary_expectations` Delta table, which delta-rs reads too; `testModels` checks the
 * current tables without writing any model.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../../src/core/clock.ts';
import type { ExpectationResult } from '../../../src/jobs/models/expectations.ts';
import { EXPECTATIONS_TABLE } from '../../../src/jobs/models/history.ts';
import { runModels, testModels } from '../../../src/jobs/models/run.ts';
import { deltaRsRead, pythonSkip } from '../../interop/helpers.ts';
import { openTable, sourceTable, tableRows, tempDir, writeProject } from './helpers.ts';

const T0 = Date.UTC(2026, 11, 1, 6, 0, 0);

/** 20 good orders, then the planted bad ones. */
function orders() {
  const rows: Record<string, unknown>[] = [];
  for (let i = 1; i <= 20; i++) {
    rows.push({
      id: i,
      customer_id: 1 + (i % 4),
      status: i % 2 ? 'paid' : 'shipped',
      amount: i * 10,
      ts: new Date(T0 - 3_600_000 + i * 60_000),
    });
  }
  // Two nulls in customer_id.
  rows.push({ id: 21, customer_id: null, status: 'paid', amount: 5, ts: new Date(T0 - 7_200_000) });
  rows.push({ id: 22, customer_id: null, status: 'paid', amount: 6, ts: new Date(T0 - 7_200_000) });
  // Duplicates: id 3 twice more (three copies), id 7 once more (two copies): 5 rows.
  rows.push({ id: 3, customer_id: 2, status: 'paid', amount: 30, ts: new Date(T0 - 3_000_000) });
  rows.push({ id: 3, customer_id: 2, status: 'paid', amount: 31, ts: new Date(T0 - 3_000_000) });
  rows.push({ id: 7, customer_id: 4, status: 'paid', amount: 70, ts: new Date(T0 - 3_000_000) });
  // Out of range: negative amounts, and one over the maximum.
  rows.push({ id: 30, customer_id: 1, status: 'paid', amount: -1, ts: new Date(T0 - 3_000_000) });
  rows.push({ id: 31, customer_id: 1, status: 'paid', amount: -50, ts: new Date(T0 - 3_000_000) });
  rows.push({ id: 32, customer_id: 1, status: 'paid', amount: 100_000, ts: new Date(T0 - 3_000_000) });
  // A status outside the list; a customer nobody knows (two rows).
  rows.push({ id: 40, customer_id: 1, status: 'lost', amount: 1, ts: new Date(T0 - 3_000_000) });
  rows.push({ id: 41, customer_id: 99, status: 'paid', amount: 1, ts: new Date(T0 - 3_000_000) });
  rows.push({ id: 42, customer_id: 99, status: 'paid', amount: 2, ts: new Date(T0 - 3_000_000) });
  return rows;
}

const PROJECT = {
  'models/customers.sql': 'SELECT * FROM (VALUES (1), (2), (3), (4)) AS c(customer_id)',
  'models/checked_orders.sql': `/*---
expectations:
  - not_null: [customer_id]
  - unique: [id]
    sample: 10
  - range: { column: amount, min: 0, max: 10000 }
  - accepted_values: { column: status, values: [paid, shipped] }
  - relationships: { column: customer_id, to: ref('customers'), field: customer_id }
  - sql: amount < 1000 OR status = 'shipped'
    name: big orders ship
  - row_count: { min: 1, max: 100 }
  - row_count: { min: 1000 }
    name: at least a thousand
    severity: warn
  - freshness: { column: ts, max_age: 2 hours }
---*/
SELECT * FROM source('orders')
`,
  // Depends on checked_orders: skipped when it fails an error expectation.
  'models/order_totals.sql':
    "SELECT customer_id, sum(amount) AS total FROM ref('checked_orders') GROUP BY customer_id",
  // Independent: runs whatever happens to checked_orders.
  'models/customer_count.sql': "SELECT count(*) AS n FROM ref('customers')",
};

const byName = (results: ExpectationResult[]) => new Map(results.map((r) => [r.expectation, r]));

describe('expectations', () => {
  const tmp = tempDir('models-expectations');
  after(() => tmp.cleanup());
  let dataDir: string;
  let project: string;

  before(async () => {
    dataDir = join(tmp.dir, 'data');
    project = writeProject(join(tmp.dir, 'project'), PROJECT);
    await sourceTable(
      dataDir,
      'orders',
      { id: 'long', customer_id: 'long', status: 'string', amount: 'long', ts: 'timestamp' },
      orders(),
    );
  });

  test('planted bad rows: the right failing counts and samples; an error failure skips the dependants', async () => {
    const result = await runModels({ project, dataDir, clock: new ManualClock(T0) });
    assert.equal(result.ok, false);
    const status = Object.fromEntries(result.models.map((m) => [m.model, m.status]));
    assert.deepEqual(status, {
      customers: 'success',
      checked_orders: 'failed',
      order_totals: 'skipped',
      customer_count: 'success',
    });
    const checked = result.models.find((m) => m.model === 'checked_orders')!;
    assert.match(checked.error!, /expectations failed: not_null\(customer_id\), unique\(id\)/);
    assert.equal(
      result.models.find((m) => m.model === 'order_totals')!.skippedBecause,
      'checked_orders failed',
    );
    const x = byName(checked.expectations);

    const notNull = x.get('not_null(customer_id)')!;
    assert.equal(notNull.passed, false);
    assert.equal(notNull.failingRows, 2);
    assert.deepEqual(
      notNull.sample.map((r) => r.id),
      ['21', '22'],
    );

    const unique = x.get('unique(id)')!;
    assert.equal(unique.failingRows, 5, 'every copy of a duplicated id');
    assert.deepEqual(
      unique.sample.map((r) => `${r.id}:${r.amount}`),
      // Ordered by every column: id 3 of customer 2 (amounts 30, 31), then of customer 4.
      ['3:30', '3:31', '3:30', '7:70', '7:70'],
    );

    const range = x.get('range(amount)')!;
    assert.equal(range.failingRows, 3);
    assert.deepEqual(
      range.sample.map((r) => `${r.id}:${r.amount}`),
      ['30:-1', '31:-50', '32:100000'],
    );

    const accepted = x.get('accepted_values(status)')!;
    assert.equal(accepted.failingRows, 1);
    assert.equal(accepted.sample[0].status, 'lost');

    const rel = x.get('relationships(customer_id → customers.customer_id)')!;
    assert.equal(rel.failingRows, 2, 'nulls are not orphans; the two rows of customer 99 are');
    assert.deepEqual(
      rel.sample.map((r) => r.customer_id),
      ['99', '99'],
    );

    const sql = x.get('big orders ship')!;
    assert.equal(sql.failingRows, 1);
    assert.equal(sql.sample[0].id, '32');

    assert.equal(x.get('row_count')!.passed, true);
    assert.equal(x.get('row_count')!.observed, '31 rows');
    const many = x.get('at least a thousand')!;
    assert.equal(many.passed, false);
    assert.equal(many.severity, 'warn');

    const fresh = x.get('freshness(ts)')!;
    assert.equal(fresh.passed, true, fresh.observed ?? '');
    assert.match(fresh.observed!, /newest 2026-12-01 05:20:00\+00 \(40m old; at most 2 hours\)/);
  });

  test('the results are a Delta table; delta-rs reads the same', async (t) => {
    const rows = await tableRows(dataDir, EXPECTATIONS_TABLE);
    const unique = rows.find((r) => r.expectation === 'unique(id)')!;
    assert.equal(unique.passed, false);
    assert.equal(unique.failing_rows, '5');
    assert.equal(JSON.parse(String(unique.sample)).length, 5);
    assert.equal(unique.target, 'checked_orders');
    const skip = pythonSkip();
    if (skip) return t.skip(skip);
    const rs = await deltaRsRead(join(dataDir, 'tables', EXPECTATIONS_TABLE));
    assert.equal(rs.rows.length, rows.length);
    const rsUnique = rs.rows.find((r) => r.expectation === 'unique(id)')!;
    assert.equal(rsUnique.failing_rows, '5');
    assert.equal(rsUnique.sample, unique.sample);
  });

  test('freshness follows the clock; testModels checks the current tables without writing them', async () => {
    const before = (await (await openTable(dataDir, 'checked_orders')).snapshot()).version;
    const clock = new ManualClock(T0);
    clock.advance(3 * 3_600_000);
    const result = await testModels({ project, dataDir, clock, select: 'checked_orders' });
    assert.equal(result.ok, false);
    const fresh = byName(result.results).get('freshness(ts)')!;
    assert.equal(fresh.passed, false);
    assert.match(fresh.observed!, /3h 40m old; at most 2 hours/);
    assert.equal(byName(result.results).get('unique(id)')!.failingRows, 5);
    assert.equal(
      (await (await openTable(dataDir, 'checked_orders')).snapshot()).version,
      before,
      'nothing written',
    );
  });

  test('an expectation that cannot run (a column the table lacks) fails and says why; the others still count', async () => {
    const odd = writeProject(join(tmp.dir, 'odd'), {
      'models/checked_orders.sql':
        "/*---\nexpectations:\n  - not_null: [no_such_column]\n  - not_null: [customer_id]\n  - accepted_values: { column: status, values: [paid, shipped] }\n---*/\nSELECT * FROM source('orders')",
    });
    const result = await runModels({ project: odd, dataDir, clock: new ManualClock(T0) });
    const x = byName(result.models[0].expectations);
    assert.equal(x.get('not_null(no_such_column)')!.passed, false);
    assert.match(x.get('not_null(no_such_column)')!.observed!, /the check failed to run: .*no_such_column/);
    assert.equal(x.get('not_null(customer_id)')!.failingRows, 2);
    assert.equal(x.get('accepted_values(status)')!.failingRows, 1);
  });

  test('a warn failure does not stop the dependants; a failing source expectation skips its readers', async () => {
    const warnOnly = writeProject(join(tmp.dir, 'warn'), {
      ...PROJECT,
      'models/checked_orders.sql': PROJECT['models/checked_orders.sql']
        .replace('  - not_null: [customer_id]\n', '  - not_null: [customer_id]\n    severity: warn\n')
        .replace('  - unique: [id]\n', '  - unique: [id]\n    severity: warn\n')
        .replace('  - range: { column: amount, min: 0, max: 10000 }\n', '')
        .replace('  - accepted_values: { column: status, values: [paid, shipped] }\n', '')
        .replace("  - relationships: { column: customer_id, to: ref('customers'), field: customer_id }\n", '')
        .replace("  - sql: amount < 1000 OR status = 'shipped'\n    name: big orders ship\n", ''),
    });
    const warned = await runModels({ project: warnOnly, dataDir, clock: new ManualClock(T0) });
    assert.ok(warned.ok, JSON.stringify(warned.models.map((m) => [m.model, m.status, m.error])));
    assert.deepEqual(Object.fromEntries(warned.models.map((m) => [m.model, m.status])), {
      customers: 'success',
      checked_orders: 'warn',
      order_totals: 'success',
      customer_count: 'success',
    });

    const guarded = writeProject(join(tmp.dir, 'guarded'), {
      ...PROJECT,
      'sources.yml':
        'sources:\n  orders:\n    expectations:\n      - not_null: [customer_id]\n      - unique: [id]\n        severity: warn\n',
    });
    const result = await runModels({ project: guarded, dataDir, clock: new ManualClock(T0) });
    assert.deepEqual(
      result.sources.map((r) => [r.target, r.expectation, r.passed, r.failingRows]),
      [
        ['orders', 'not_null(customer_id)', false, 2],
        ['orders', 'unique(id)', false, 5],
      ],
    );
    assert.deepEqual(Object.fromEntries(result.models.map((m) => [m.model, m.status])), {
      customers: 'success',
      checked_orders: 'skipped',
      order_totals: 'skipped',
      customer_count: 'success',
    });
    const skipped = result.models.find((m) => m.model === 'checked_orders')!;
    assert.equal(skipped.skippedBecause, 'source orders failed an expectation');
  });
});
