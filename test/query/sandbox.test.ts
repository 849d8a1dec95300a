import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { ManualClock } from '../../src/core/clock.ts';
import { isTributaryError } from '../../src/core/errors.ts';
import { runQuery } from '../../src/query/run.ts';
import {
  checkSandboxedQuery,
  closeSandbox,
  configureSandbox,
  runSandboxedQuery,
  type SandboxedQueryResult,
} from '../../src/query/sandbox.ts';
import { nameTables } from '../../src/query/sandbox-check.ts';
import { openEngine } from '../../src/query/sandbox-engine.ts';
import { runChecked } from '../../src/query/sandbox-run.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, DeltaTable, deleteWhere } from '../../src/table/index.ts';
import type { StructType } from '../../src/table/schema.ts';
import { ALL_ATTEMPTS, type Attempt, type Dirs, LIMITS as LIMIT_ATTEMPTS } from './sandbox-attempts.ts';

const field = (name: string, type: StructType['fields'][number]['type']) => ({
  name,
  type,
  nullable: true,
  metadata: {},
});
const ORDERS: StructType = {
  type: 'struct',
  fields: [
    field('id', 'long'),
    field('customer', 'long'),
    field('day', 'date'),
    field('amount', 'decimal(12,2)'),
    field('status', 'string'),
  ],
};
const CUSTOMERS: StructType = {
  type: 'struct',
  fields: [field('id', 'long'), field('name', 'string'), field('country', 'string')],
};
const T0 = Date.UTC(2026, 0, 1);
const FIRST = [
  { id: 1n, customer: 10n, day: '2026-01-01', amount: '10.50', status: 'paid' },
  { id: 2n, customer: 11n, day: '2026-01-01', amount: '3.25', status: 'cancelled' },
  { id: 3n, customer: 10n, day: '2026-01-02', amount: '7.00', status: 'paid' },
];
const SECOND = [
  { id: 4n, customer: 12n, day: '2026-01-02', amount: '1.75', status: 'paid' },
  { id: 5n, customer: 11n, day: '2026-01-03', amount: '20.00', status: 'shipped' },
];

const LIMITS = { maxRows: 1000, timeoutMs: 1500, memoryLimit: '128MB' };

/** Each statement of `sql` on a DuckDB without any sandbox; the rows of all, as text. */
async function withoutSandbox(sql: string): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const statements = await conn.extractStatements(sql);
    let out = '';
    for (let i = 0; i < statements.count; i++) {
      const reader = await (await statements.prepare(i)).runAndReadAll();
      out += JSON.stringify(reader.getRowsJson());
    }
    return out;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

function text(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** runQuery's rows as arrays in column order, to compare with the sandbox's. */
async function reference(
  sql: string,
  dataDir: string,
): Promise<Pick<SandboxedQueryResult, 'columns' | 'rows'>> {
  const r = await runQuery(sql, { dataDir });
  return { columns: r.columns, rows: r.rows.map((row) => r.columns.map((c) => row[c.name])) };
}

describe('SQL sandbox', () => {
  let dirs: Dirs;
  let root: string;
  let canary: string;
  let proofScratch: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tributary-sandbox-'));
    dirs = { lake: join(root, 'lake'), outside: join(root, 'outside'), scratch: join(root, 'scratch') };
    proofScratch = join(root, 'proof-scratch');
    for (const d of [dirs.lake, dirs.outside, dirs.scratch, proofScratch])
      await mkdir(d, { recursive: true });
    canary = `CANARY-${randomUUID()}`;
    await writeFile(join(dirs.outside, 'canary.txt'), `${canary}\n`);
    await writeFile(join(dirs.outside, 'canary.csv'), `secret\n${canary}\n`);
    await writeFile(join(dirs.outside, 'canary.json'), `{"secret": "${canary}"}\n`);
    await writeFile(join(dirs.lake, 'canary.txt'), `${canary}\n`);
    const plain = await (await DuckDBInstance.create(':memory:')).connect();
    await plain.run(`COPY (SELECT '${canary}' AS secret) TO '${dirs.outside}/canary.parquet'`);
    await plain.run(`ATTACH '${dirs.outside}/canary.duckdb' AS c`);
    await plain.run(`CREATE TABLE c.secret AS SELECT '${canary}' AS secret`);
    await plain.run('DETACH c');
    plain.closeSync();
    const secret = await DeltaTable.create(new LocalStore(join(dirs.outside, 'secret')), {
      schema: { type: 'struct', fields: [field('secret', 'string')] },
    });
    await append(secret, { rows: [{ secret: canary }] });

    const clock = new ManualClock(T0);
    const orders = await DeltaTable.create(
      new LocalStore(join(dirs.lake, 'tables', 'orders')),
      { schema: ORDERS, partitionColumns: ['day'] },
      { clock },
    );
    clock.advance(60_000);
    await append(orders, { rows: FIRST }); // version 1 at T0 + 1 min
    clock.advance(60_000);
    await append(orders, { rows: SECOND }); // version 2 at T0 + 2 min
    clock.advance(60_000);
    await deleteWhere(orders, "status = 'cancelled'"); // version 3 at T0 + 3 min
    const customers = await DeltaTable.create(new LocalStore(join(dirs.lake, 'tables', 'customers')), {
      schema: CUSTOMERS,
    });
    await append(customers, {
      rows: [
        { id: 10n, name: 'Ada', country: 'UK' },
        { id: 11n, name: 'Linus', country: 'FI' },
        { id: 12n, name: 'Grace', country: 'US' },
      ],
    });
    configureSandbox({ workers: 2, warm: true });
  });

  after(async () => {
    closeSandbox();
    await rm(root, { recursive: true, force: true });
  });

  describe(`${ALL_ATTEMPTS.length} escape attempts: each refused or bounded, none reaching a file`, () => {
    test('there are at least 40', () => assert.ok(ALL_ATTEMPTS.length >= 40, `${ALL_ATTEMPTS.length}`));

    for (const attempt of ALL_ATTEMPTS) {
      test(attempt.name, async () => {
        const sql = attempt.sql(dirs);
        let outcome: unknown;
        let error: unknown;
        try {
          outcome = await runSandboxedQuery({
            sql,
            dataDir: dirs.lake,
            ...LIMITS,
            timeoutMs: attempt.timeoutMs ?? LIMITS.timeoutMs,
          });
        } catch (err) {
          error = err;
          outcome = isTributaryError(err)
            ? { code: err.code, message: err.message, details: err.details }
            : err;
        }
        assert.ok(!text(outcome).includes(canary), `the canary came back: ${text(outcome)}`);
        const expect = attempt.expect;
        if ('truncated' in expect) {
          const r = outcome as SandboxedQueryResult;
          assert.equal(error, undefined, `failed: ${text(outcome)}`);
          assert.equal(r.truncated, true);
          assert.equal(r.rows.length, LIMITS.maxRows);
          return;
        }
        assert.ok(isTributaryError(error), `not refused: ${text(outcome)}`);
        if ('refused' in expect) {
          assert.equal(error.code, 'QUERY_REFUSED', error.message);
          assert.match(error.message, expect.refused);
        } else if ('invalid' in expect) {
          assert.equal(error.code, 'QUERY_INVALID', error.message);
          assert.match(error.message, expect.invalid);
        } else {
          assert.equal(error.code, expect.code, error.message);
        }
      });
    }

    test('nothing was written where the writes pointed', async () => {
      assert.deepEqual(await readdir(dirs.scratch), []);
    });
  });

  describe('the attempts are real: without the sandbox they reach the canary', () => {
    const proven = ALL_ATTEMPTS.filter(
      (a): a is Attempt & { proof: NonNullable<Attempt['proof']> } => !!a.proof,
    );
    test('most file attempts carry a proof', () => assert.ok(proven.length >= 25, `${proven.length}`));
    for (const attempt of proven) {
      test(`${attempt.proof}: ${attempt.name}`, async () => {
        const sql = attempt.sql({ ...dirs, scratch: proofScratch });
        if (attempt.proof === 'tributary') {
          const r = await runQuery(sql, { dataDir: dirs.lake });
          assert.ok(text(r.rows).includes(canary));
        } else if (attempt.proof === 'read') {
          assert.ok((await withoutSandbox(sql)).includes(canary));
        } else {
          const before = (await readdir(proofScratch)).length;
          await withoutSandbox(sql);
          assert.ok((await readdir(proofScratch)).length > before, 'DuckDB wrote no file');
        }
      });
    }
  });

  describe('layer by layer', () => {
    test('without the parse-tree check, the engine and the plan still let no file through', async () => {
      // In this process, so no memory bombs (LIMITS) and nothing that only stalls.
      const attempts = ALL_ATTEMPTS.filter(
        (a) => !LIMIT_ATTEMPTS.includes(a) && !/sleep_ms/.test(a.sql(dirs)),
      );
      let stopped = 0;
      for (const attempt of attempts) {
        const sql = attempt.sql(dirs);
        let outcome: unknown;
        try {
          outcome = await runChecked(nameTables(sql), { sql, dataDir: dirs.lake, ...LIMITS });
        } catch (err) {
          outcome = isTributaryError(err) ? { code: err.code, message: err.message } : String(err);
          if (attempt.proof === 'read' || attempt.proof === 'write' || attempt.proof === 'tributary')
            stopped++;
        }
        assert.ok(!text(outcome).includes(canary), `${attempt.name}: ${text(outcome)}`);
      }
      // Every attempt proven to reach a file without the sandbox failed here.
      assert.equal(stopped, attempts.filter((a) => a.proof !== undefined).length);
      assert.deepEqual(await readdir(dirs.scratch), []);
    });

    test('the engine alone (no parse-tree check) opens no file and writes none', async () => {
      const engine = await openEngine([], { memoryLimit: '128MB', threads: 1 });
      try {
        for (const attempt of ALL_ATTEMPTS.filter((a) => a.proof === 'read' || a.proof === 'write')) {
          const sql = attempt.sql(dirs);
          let out = '';
          try {
            const statements = await engine.conn.extractStatements(sql);
            for (let i = 0; i < statements.count; i++) {
              out += text((await (await statements.prepare(i)).runAndReadAll()).getRowsJson());
            }
          } catch (err) {
            out += (err as Error).message;
          }
          assert.ok(!out.includes(canary), `${attempt.name}: ${out}`);
        }
        // SET is refused too: the lock holds.
        await assert.rejects(engine.conn.run('SET enable_external_access = true'), /locked/);
      } finally {
        engine.close();
      }
      assert.deepEqual(await readdir(dirs.scratch), []);
    });

    test("the parse-tree check alone refuses every attempt but the limits' own", async () => {
      for (const attempt of ALL_ATTEMPTS) {
        if (!('refused' in attempt.expect)) continue;
        await assert.rejects(
          checkSandboxedQuery(attempt.sql(dirs), { dataDir: dirs.lake }),
          (err: unknown) => {
            assert.ok(isTributaryError(err, 'QUERY_REFUSED'), `${attempt.name}: ${err}`);
            return true;
          },
        );
      }
    });

    test('decided by the parse, not the text: SQL words inside strings and comments are data', async () => {
      const sql = `SELECT 'COPY orders TO ''/tmp/x''; SELECT * FROM read_text(''/etc/passwd'')' AS s /* ATTACH; INSTALL */`;
      const r = await runSandboxedQuery({ sql, dataDir: dirs.lake, ...LIMITS });
      assert.deepEqual(r.rows, [["COPY orders TO '/tmp/x'; SELECT * FROM read_text('/etc/passwd')"]]);
    });
  });

  describe('allowed queries give the answers of `tributary query`', () => {
    const QUERIES = {
      aggregate:
        'SELECT day, count(*) AS n, sum(amount) AS total, avg(amount) AS mean FROM orders GROUP BY day ORDER BY day',
      join: 'SELECT c.name, count(*) AS n, sum(o.amount) AS total FROM orders o JOIN customers c ON o.customer = c.id GROUP BY c.name ORDER BY c.name',
      window:
        'SELECT id, amount, sum(amount) OVER (PARTITION BY customer ORDER BY id) AS running, rank() OVER (ORDER BY amount DESC) AS r FROM orders ORDER BY id',
      'time travel by version': 'SELECT id, status FROM orders VERSION AS OF 1 ORDER BY id',
      'time travel by timestamp': "SELECT count(*) AS n FROM orders TIMESTAMP AS OF '2026-01-01 00:02:30'",
      'two versions of one table':
        'SELECT o.id FROM orders AT (VERSION => 2) o ANTI JOIN orders n ON o.id = n.id',
      'CTE and subquery':
        'WITH big AS (SELECT * FROM orders WHERE amount > 5) SELECT name, (SELECT max(amount) FROM big WHERE big.customer = customers.id) AS top FROM customers ORDER BY name',
      'lists, structs, dates, strings':
        "SELECT list(id ORDER BY id) AS ids, {'n': count(*)} AS s, max(day) + INTERVAL 1 DAY AS next, string_agg(upper(status), ',' ORDER BY id) AS st FROM orders",
      // DuckDB's own syntax, which the parse tree must admit (no false refusals)
      'DISTINCT ON, GROUP BY ALL, QUALIFY':
        'SELECT DISTINCT ON (customer) customer, id FROM orders QUALIFY row_number() OVER (PARTITION BY customer ORDER BY id) = 1 ORDER BY ALL',
      'EXCLUDE, COLUMNS, UNION BY NAME':
        "SELECT * EXCLUDE (status) FROM orders UNION ALL BY NAME SELECT max(COLUMNS('^(id|amount)$')) FROM orders ORDER BY ALL",
      'ASOF, SEMI and ANTI joins':
        'SELECT o.id, c.name FROM orders o ASOF JOIN customers c ON o.customer >= c.id WHERE o.customer IN (SELECT id FROM customers SEMI JOIN orders ON customers.id = orders.customer) ORDER BY o.id',
      'PIVOT and UNPIVOT':
        "SELECT * FROM (SELECT * FROM orders PIVOT (sum(amount) FOR status IN ('paid', 'shipped'))) UNPIVOT (v FOR k IN (paid, shipped)) ORDER BY ALL",
      'WITHIN GROUP, FILTER, GROUPING SETS':
        "SELECT customer, percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS p, count(*) FILTER (WHERE status = 'paid') AS paid FROM orders GROUP BY GROUPING SETS ((customer), ()) ORDER BY ALL",
      'lambdas and list comprehensions':
        'SELECT list_transform(list(id ORDER BY id), x -> x * 2) AS doubled, [x + 1 FOR x IN list(id ORDER BY id) IF x > 1] AS c, list_sum(list(id)) AS s FROM orders',
      'table functions: range, generate_series, unnest, json_each':
        'SELECT * FROM range(2) r, generate_series(1, 2) g, unnest([7]) u, json_each(\'{"a": 1}\') j ORDER BY ALL',
      'FROM first, VALUES, LATERAL':
        'FROM orders o, LATERAL (SELECT o.amount * v.k AS scaled FROM (VALUES (1), (10)) v(k)) SELECT o.id, scaled ORDER BY ALL',
      'recursive and materialized CTEs':
        'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5), m AS MATERIALIZED (SELECT * FROM orders) SELECT (SELECT sum(n) FROM r) AS s, count(*) AS c FROM m a, m b',
      'a WITH name that shadows a lake table': 'WITH orders AS (SELECT 1 AS id) SELECT * FROM orders',
      DESCRIBE: 'DESCRIBE orders',
    };
    for (const [name, sql] of Object.entries(QUERIES)) {
      test(name, async () => {
        const r = await runSandboxedQuery({ sql, dataDir: dirs.lake, ...LIMITS });
        assert.equal(r.truncated, false);
        assert.deepEqual({ columns: r.columns, rows: r.rows }, await reference(sql, dirs.lake));
      });
    }

    test('the numbers equal a plain recomputation from the rows written', async () => {
      const r = await runSandboxedQuery({
        sql: 'SELECT sum(amount) AS total, count(*) AS n FROM orders',
        dataDir: dirs.lake,
        ...LIMITS,
      });
      const kept = [...FIRST, ...SECOND].filter((o) => o.status !== 'cancelled');
      const cents = kept.reduce((s, o) => s + Math.round(Number(o.amount) * 100), 0);
      assert.deepEqual(r.rows, [[(cents / 100).toFixed(2), BigInt(kept.length)]]);
    });

    test('exactly maxRows rows is not truncated; one more is', async () => {
      const all = await runSandboxedQuery({
        sql: 'SELECT id FROM orders ORDER BY id',
        dataDir: dirs.lake,
        ...LIMITS,
        maxRows: 4,
      });
      assert.deepEqual(all, {
        columns: [{ name: 'id', type: 'BIGINT' }],
        rows: [[1n], [3n], [4n], [5n]],
        truncated: false,
      });
      const cut = await runSandboxedQuery({
        sql: 'SELECT id FROM orders ORDER BY id',
        dataDir: dirs.lake,
        ...LIMITS,
        maxRows: 3,
      });
      assert.deepEqual(cut.rows, [[1n], [3n], [4n]]);
      assert.equal(cut.truncated, true);
    });

    test('a name that is no lake table is refused with the tables there', async () => {
      await assert.rejects(
        runSandboxedQuery({ sql: 'SELECT * FROM ordrs', dataDir: dirs.lake, ...LIMITS }),
        (err: unknown) =>
          isTributaryError(err, 'QUERY_REFUSED') &&
          /'ordrs' is not a lake table.*customers, orders/.test(err.message),
      );
    });

    test('time travel out of reach and bad limits are the usual errors', async () => {
      await assert.rejects(
        runSandboxedQuery({ sql: 'SELECT * FROM orders VERSION AS OF 99', dataDir: dirs.lake, ...LIMITS }),
        (err: unknown) => isTributaryError(err, 'TABLE_VERSION_NOT_FOUND'),
      );
      await assert.rejects(
        runSandboxedQuery({ sql: 'SELECT 1', dataDir: dirs.lake, ...LIMITS, memoryLimit: 'lots' }),
        (err: unknown) => isTributaryError(err, 'CONFIG_INVALID'),
      );
      await assert.rejects(
        runSandboxedQuery({ sql: 'SELECT nope FROM orders', dataDir: dirs.lake, ...LIMITS }),
        (err: unknown) => isTributaryError(err, 'QUERY_INVALID') && /nope/.test(err.message),
      );
    });

    test('more queries than workers wait their turn, each with its own answer', async () => {
      const ids = [1, 3, 4, 5, 1, 3];
      const results = await Promise.all(
        ids.map((id) =>
          runSandboxedQuery({
            sql: `SELECT amount FROM orders WHERE id = ${id}`,
            dataDir: dirs.lake,
            ...LIMITS,
          }),
        ),
      );
      const amounts = new Map([...FIRST, ...SECOND].map((o) => [Number(o.id), o.amount]));
      assert.deepEqual(
        results.map((r) => r.rows),
        ids.map((id) => [[amounts.get(id)]]),
      );
    });

    test('after a worker is stopped, the next query runs', async () => {
      await assert.rejects(
        runSandboxedQuery({
          sql: "SELECT length(repeat('x', 1000000000))",
          dataDir: dirs.lake,
          ...LIMITS,
          timeoutMs: 20_000,
        }),
        (err: unknown) => isTributaryError(err, 'QUERY_MEMORY_LIMIT'),
      );
      const r = await runSandboxedQuery({
        sql: 'SELECT count(*) FROM orders',
        dataDir: dirs.lake,
        ...LIMITS,
      });
      assert.deepEqual(r.rows, [[4n]]);
    });
  });
});
