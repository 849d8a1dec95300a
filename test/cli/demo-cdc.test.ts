/**
 * `tributary demo cdc` on the embedded defaults, as a user runs it: the table is created
 * in the embedded PostgreSQL with the seed's rows, a workload changes it, the polling
 * capture and the pipeline land it, and the summary compares the lake with the source.
 * The test reads the lake afterwards with `tributary query` and checks what the summary
 * says: the mirror equals the source but for deletes (polling cannot see them), and the
 * change log holds no change twice.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../connectors/postgres/cli.ts';

test('tributary demo cdc: seed rows, workload, capture, lake compared with the source', {
  timeout: 300_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-demo-cdc-'));
  try {
    const data = join(dir, 'data');
    const r = await runCli(
      [
        'demo',
        'cdc',
        '--events',
        '300',
        '--rate',
        '100',
        '--poll-interval',
        '500ms',
        '--seed',
        '4',
        '--postgres-port',
        '0',
        '--data-dir',
        data,
      ],
      {},
      240_000,
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = r.stdout;
    assert.match(
      out,
      /table 2025em1100102_orders in postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres: created, with the seed's 10 orders/,
    );
    assert.match(out, /capturing polling public\.2025em1100102_orders \(by updated_at every 0\.5 s/);
    assert.match(out, /source \+\d+ -\d+ ~\d+ .* captured \d+ in \d+ polls/);
    const summary =
      /source table: (\d+) orders; mirror food\.orders_current: (\d+) rows, (\d+) equal to the source row for row/.exec(
        out,
      );
    assert.ok(summary, out);
    const [, source, mirror, equal] = summary.map(Number);
    assert.equal(equal, source, 'every order of the source is in the mirror as it is now');
    const extra = /(\d+) deleted in the source and still in the mirror \(polling cannot see deletes/.exec(
      out,
    );
    assert.equal(mirror - source, extra ? Number(extra[1]) : 0);
    assert.doesNotMatch(out, /differ \(changes not captured yet\)|not in the mirror yet/);
    assert.match(
      out,
      /change log food\.orders: \d+ valid changes, 0 landed twice; food\.orders_failed: [1-9]\d* changes that broke a rule/,
    );
    // The seed's order, as the lake holds it (the workload may have changed its status or amount since).
    const q = await runCli([
      'query',
      'SELECT order_id, customer_name, restaurant_name, item, date FROM food.orders WHERE order_id = 1 ORDER BY __pos LIMIT 1',
      '--format',
      'json',
      '--data-dir',
      data,
    ]);
    assert.equal(q.code, 0, q.stderr);
    assert.deepEqual(JSON.parse(q.stdout), [
      {
        order_id: 1,
        customer_name: 'Alice Smith',
        restaurant_name: 'Spice Garden',
        item: 'Butter Chicken',
        date: '2025-11-18',
      },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
