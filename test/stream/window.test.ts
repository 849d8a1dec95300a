/**
 * The window operator against a plain-JavaScript computation of the same windows
 * (window-oracle.ts), over seeded input cut into many batches: tumbling and hopping,
 * 'final' and 'update', late rows, save and restore mid-run, batching independence,
 * bounded state, and the refusals of bad specs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { DuckDBConnection } from '@duckdb/node-api';
import { isTributaryError } from '../../src/core/errors.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { parseAggregate, WindowOperator, type WindowSpec } from '../../src/stream/window/index.ts';
import { openConnection } from '../../src/table/index.ts';
import {
  AGGREGATES,
  type BatchTruth,
  expected,
  generate,
  load,
  READ_EMITTED,
  type Row,
  randomCuts,
  T0,
  type WindowShape,
} from './window-oracle.ts';

const conns: DuckDBConnection[] = [];
async function connection(): Promise<DuckDBConnection> {
  const c = await openConnection();
  conns.push(c);
  return c;
}
after(() => {
  for (const c of conns) c.closeSync();
});

function spec(w: WindowShape): WindowSpec {
  return {
    kind: w.slideMs === w.sizeMs ? 'tumble' : 'hop',
    timeColumn: 'ts',
    sizeMs: w.sizeMs,
    ...(w.slideMs === w.sizeMs ? {} : { slideMs: w.slideMs }),
    groupBy: ['k'],
    aggregates: Object.entries(AGGREGATES).map(([name, sql]) => parseAggregate(name, sql)),
    watermarkDelayMs: w.delayMs,
    emit: w.emit,
  };
}

const rowsOf = async (conn: DuckDBConnection, sql: string) =>
  (await conn.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];

/** Runs batches [from, to) of the cut input through `op`; the outputs as the oracle states them. */
async function runBatches(
  conn: DuckDBConnection,
  op: WindowOperator,
  n: number,
  cuts: number[],
  from = 0,
  to = cuts.length + 1,
): Promise<BatchTruth[]> {
  const bounds = [0, ...cuts, n];
  const out: BatchTruth[] = [];
  for (let b = from; b < to; b++) {
    const r = await op.process(
      conn,
      `(SELECT * FROM src WHERE seq >= ${bounds[b]} AND seq < ${bounds[b + 1]})`,
    );
    const emitted = (await rowsOf(conn, READ_EMITTED(r.emitted))).map((x) => JSON.stringify(x)).sort();
    const late = (await rowsOf(conn, `SELECT _p || '/' || _o AS id FROM ${r.late}`))
      .map((x) => String(x.id))
      .sort();
    assert.equal(r.emittedRows, emitted.length);
    assert.equal(r.lateRows, late.length);
    out.push({ emitted, late, watermarkMs: r.watermarkMs });
  }
  return out;
}

async function straight(rows: Row[], cuts: number[], w: WindowShape): Promise<BatchTruth[]> {
  const conn = await connection();
  await load(conn, 'src', rows);
  const op = new WindowOperator(spec(w), 'w');
  await op.open(conn);
  return runBatches(conn, op, rows.length, cuts);
}

const SHAPES: Array<[string, WindowShape]> = [
  ['tumble final', { sizeMs: 60_000, slideMs: 60_000, delayMs: 120_000, emit: 'final' }],
  ['tumble update', { sizeMs: 60_000, slideMs: 60_000, delayMs: 120_000, emit: 'update' }],
  ['hop final', { sizeMs: 60_000, slideMs: 20_000, delayMs: 45_000, emit: 'final' }],
  ['hop update', { sizeMs: 60_000, slideMs: 20_000, delayMs: 45_000, emit: 'update' }],
];

describe('window results match a plain-JS computation, batch by batch', () => {
  for (const [label, w] of SHAPES) {
    test(`${label}: emitted rows, late rows and watermark of every batch`, async () => {
      // ~2 rows a second, disorder within the delay, every 37th row far behind, some without time.
      const rows = generate(label.length, 3000, {
        stepMs: 500,
        disorderMs: w.delayMs,
        lateEvery: 37,
        lateMs: w.delayMs,
        nullTimes: true,
      });
      const cuts = randomCuts(7, rows.length, 150);
      const truth = expected(rows, cuts, w);
      const got = await straight(rows, cuts, w);
      assert.ok(truth.reduce((n, b) => n + b.late.length, 0) > 20, 'the input has late rows');
      assert.ok(truth.reduce((n, b) => n + b.emitted.length, 0) > 100, 'the input closes windows');
      for (const [b, t] of truth.entries()) assert.deepEqual(got[b], t, `batch ${b}`);
    });
  }
});

describe("'final' holds a window back until the watermark passes its end", () => {
  const at = (s: number) => T0 + s * 1000;
  const row = (o: number, t: number): Row => ({ p: 0, o, t, k: 1, u: 'a', amount: 1, cents: 100 });
  const batches = [
    [0, 10, 59].map((s, i) => row(i, at(s))), // window [0 s, 60 s) and the watermark at −61 s
    [100, 170].map((s, i) => row(10 + i, at(s))), // watermark 50 s: [0, 60) still open
    [185].map((s, i) => row(20 + i, at(s))), // watermark 65 s: [0, 60) closes
  ];
  const rows = batches.flat();
  const cuts = [3, 5];
  for (const emit of ['final', 'update'] as const) {
    test(`${emit}`, async () => {
      const w: WindowShape = { sizeMs: 60_000, slideMs: 60_000, delayMs: 120_000, emit };
      const got = await straight(rows, cuts, w);
      assert.deepEqual(got, expected(rows, cuts, w));
      const starts = got.map((b) => b.emitted.map((e) => Number(JSON.parse(e).ws)));
      if (emit === 'final') {
        assert.deepEqual(starts, [[], [], [at(0)]]);
        assert.equal(JSON.parse(got[2].emitted[0]).n, '3');
      } else {
        assert.deepEqual(starts, [[at(0)], [at(60), at(120)], [at(180)]]);
      }
      assert.deepEqual(
        got.map((b) => b.watermarkMs),
        [at(59 - 120), at(170 - 120), at(185 - 120)],
      );
    });
  }
});

describe('save and restore mid-run give the outputs of a straight run', () => {
  const rows = generate(11, 2400, { stepMs: 500, disorderMs: 40_000, lateEvery: 53, lateMs: 45_000 });
  const cuts = randomCuts(3, rows.length, 120);
  for (const [label, w] of SHAPES) {
    test(label, async () => {
      const whole = await straight(rows, cuts, w);
      const dir = mkdtempSync(join(tmpdir(), 'tributary-window-'));
      try {
        const stores: ObjectStore[] = [new MemoryStore(), new LocalStore(dir)];
        for (const [i, at] of [9, cuts.length - 1].entries()) {
          const store = stores[i % 2];
          const c1 = await connection();
          await load(c1, 'src', rows);
          const first = new WindowOperator(spec(w), 'w');
          await first.open(c1);
          const before = await runBatches(c1, first, rows.length, cuts, 0, at);
          await first.save(c1, store, `state/${at}`);
          // A fresh connection and operator, as after a crash: nothing kept in memory.
          const c2 = await connection();
          await load(c2, 'src', rows);
          const second = new WindowOperator(spec(w), 'w');
          await second.open(c2, { store, state: await second.readSaved(store, `state/${at}`) });
          const rest = await runBatches(c2, second, rows.length, cuts, at);
          assert.deepEqual([...before, ...rest], whole, `restored after batch ${at}`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('state saved by another window shape is refused', async () => {
    const conn = await connection();
    await load(conn, 'src', rows.slice(0, 100));
    const w = SHAPES[0][1];
    const op = new WindowOperator(spec(w), 'w');
    await op.open(conn);
    await op.process(conn, 'src');
    const store = new MemoryStore();
    const state = await op.save(conn, store, 'state/1');
    const other = new WindowOperator({ ...spec(w), sizeMs: 30_000 }, 'w');
    await assert.rejects(other.open(conn, { store, state }), (e) => isTributaryError(e, 'CONFIG_INVALID'));
    // The delay and the emit mode may change.
    const relaxed = new WindowOperator({ ...spec(w), watermarkDelayMs: 1000, emit: 'update' }, 'w');
    await relaxed.open(conn, { store, state });
  });
});

describe('outputs do not depend on batching when disorder stays within the delay', () => {
  for (const [label, w] of SHAPES) {
    test(label, async () => {
      const rows = generate(5, 2000, { stepMs: 700, disorderMs: w.delayMs });
      const cutsList = [[], randomCuts(1, rows.length, 40), randomCuts(2, rows.length, 400), [1000]];
      const views: string[][] = [];
      for (const cuts of cutsList) {
        const got = await straight(rows, cuts, w);
        assert.deepEqual(
          got.flatMap((b) => b.late),
          [],
        );
        // Final: every emitted row; update: the last value emitted per (window, group).
        const last = new Map<string, string>();
        for (const e of got.flatMap((b) => b.emitted)) {
          const x = JSON.parse(e);
          const key = `${x.ws}|${x.k}`;
          if (w.emit === 'final') assert.ok(!last.has(key), `window ${key} emitted twice`);
          last.set(key, e);
        }
        views.push([...last.values()].sort());
      }
      for (const v of views.slice(1)) assert.deepEqual(v, views[0]);
      assert.ok(views[0].length > 50);
    });
  }
});

for (const [label, w] of [
  ['tumble final', { sizeMs: 60_000, slideMs: 60_000, delayMs: 120_000, emit: 'final' }],
  ['tumble update', { sizeMs: 60_000, slideMs: 60_000, delayMs: 120_000, emit: 'update' }],
  ['hop final', { sizeMs: 60_000, slideMs: 20_000, delayMs: 120_000, emit: 'final' }],
] as Array<[string, WindowShape]>) {
  test(`state stays bounded by the watermark over a long run (${label})`, async () => {
    // 20,000 rows over ~3 h of event time, in batches of at most 300 rows (≤ ~150 s each).
    const rows = generate(9, 20_000, { stepMs: 500, disorderMs: 100_000 });
    const cuts = randomCuts(4, rows.length, 300);
    const conn = await connection();
    await load(conn, 'src', rows);
    const op = new WindowOperator(spec(w), 'w');
    await op.open(conn);
    const bounds = [0, ...cuts, rows.length];
    const tables = async () =>
      Number(
        (
          await conn.runAndReadAll(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name LIKE '__win_w_%'",
          )
        ).getRows()[0][0],
      );
    let tablesAfterFirst = -1;
    let maxWindows = 0;
    for (let b = 0; b + 1 < bounds.length; b++) {
      await op.process(conn, `(SELECT * FROM src WHERE seq >= ${bounds[b]} AND seq < ${bounds[b + 1]})`);
      const { windows, distinctValues } = await op.stateRows(conn);
      // Open windows start within the delay + a batch's span + the disorder + the size
      // before the newest row: (120 + 150 + 100 + 60) s → ≤ 430 / slide + 1 windows × 6 groups.
      const bound = (Math.floor(430_000 / w.slideMs) + 1) * 6;
      assert.ok(windows <= bound, `batch ${b}: ${windows} open (window, group) rows`);
      assert.ok(distinctValues <= windows * 40, `batch ${b}: ${distinctValues} distinct values held`);
      maxWindows = Math.max(maxWindows, windows);
      if (b === 0) tablesAfterFirst = await tables();
      else assert.equal(await tables(), tablesAfterFirst, 'no table is left behind by a batch');
    }
    assert.ok(bounds.length > 100 && maxWindows > 6);
  });
}

describe('bad specs and inputs are refused with CONFIG_INVALID', () => {
  const base = spec(SHAPES[0][1]);
  const refused = (e: unknown) => isTributaryError(e, 'CONFIG_INVALID');

  test('parseAggregate', () => {
    assert.deepEqual(parseAggregate('u', ' count( DISTINCT user_id ) '), {
      name: 'u',
      fn: 'count_distinct',
      arg: 'user_id',
    });
    assert.deepEqual(parseAggregate('n', 'COUNT(*)'), { name: 'n', fn: 'count' });
    assert.deepEqual(parseAggregate('x', "sum(CASE WHEN s = ')' THEN 1 ELSE 0 END)"), {
      name: 'x',
      fn: 'sum',
      arg: "CASE WHEN s = ')' THEN 1 ELSE 0 END",
    });
    assert.deepEqual(parseAggregate('m', 'max(coalesce(a, b))'), {
      name: 'm',
      fn: 'max',
      arg: 'coalesce(a, b)',
    });
    for (const bad of [
      'median(x)',
      'sum(a) + sum(b)',
      'sum(DISTINCT x)',
      'count(DISTINCT *)',
      'sum()',
      'x',
      'avg(*)',
      'sum((x)',
    ]) {
      assert.throws(() => parseAggregate('a', bad), refused, bad);
    }
  });

  test('the spec itself', () => {
    const bad: Array<Partial<WindowSpec>> = [
      { kind: 'hop', slideMs: 25_000 }, // 60 s is not a multiple of 25 s
      { kind: 'hop' }, // no slide
      { slideMs: 10_000 }, // slide on a tumbling window
      { sizeMs: 0 },
      { watermarkDelayMs: -1 },
      { groupBy: ['k', 'k'] },
      { groupBy: ['window_start'] },
      { aggregates: [] },
      { aggregates: [parseAggregate('k', 'count(*)')] }, // clashes with the group column
    ];
    for (const b of bad)
      assert.throws(() => new WindowOperator({ ...base, ...b }, 'w'), refused, JSON.stringify(b));
  });

  test('the input: time column type, unknown columns, aggregates DuckDB cannot bind or sum', async () => {
    const conn = await connection();
    await conn.run(
      "CREATE OR REPLACE TEMP TABLE bad AS SELECT 0 AS _p, 1::BIGINT AS _o, '2026-01-01' AS ts_text, now() AS ts, 1 AS k, 'x' AS u, 1 AS amount, 1.5::DECIMAL(10,2) AS price",
    );
    const cases: Array<[Partial<WindowSpec>, RegExp]> = [
      [{ timeColumn: 'ts_text' }, /VARCHAR; a window needs a TIMESTAMP or TIMESTAMPTZ/],
      [{ timeColumn: 'nope' }, /time column 'nope' is not a column/],
      [{ groupBy: ['nope'] }, /group-by column 'nope' is not a column/],
      [{ aggregates: [parseAggregate('s', 'sum(nope)')] }, /aggregate 's' = sum\(nope\)/],
      [{ aggregates: [parseAggregate('s', 'sum(u)')] }, /needs a number, and u is VARCHAR/],
    ];
    for (const [change, message] of cases) {
      const op = new WindowOperator({ ...base, ...change }, 'w');
      await op.open(conn);
      await assert.rejects(op.process(conn, 'bad'), (e) => refused(e) && message.test((e as Error).message));
      // `check` refuses the same on an empty relation, before anything runs.
      await assert.rejects(op.check(conn, '(SELECT * FROM bad LIMIT 0)'), refused);
    }
    const ok = await new WindowOperator(base, 'w').check(conn, '(SELECT * FROM bad LIMIT 0)');
    assert.deepEqual(
      ok.map((c) => `${c.name} ${c.type}`),
      [
        'window_start TIMESTAMP WITH TIME ZONE',
        'window_end TIMESTAMP WITH TIME ZONE',
        'k INTEGER',
        'n BIGINT',
        'na BIGINT',
        's BIGINT',
        'mn INTEGER',
        'mx INTEGER',
        'a DOUBLE',
        'du BIGINT',
        'sp DECIMAL(38,2)',
        'big BIGINT',
      ],
    );
  });
});

test('a batch that fails part-way leaves the state as it was', async () => {
  // Each batch's partial sum fits a BIGINT; the merged sum of batches 1 and 2 does not,
  // so batch 2 fails when it merges into the state, after its own statements succeeded.
  const conn = await connection();
  const at = (s: number) => `make_timestamptz(${(T0 + s * 1000) * 1000})`;
  await conn.run(`CREATE OR REPLACE TEMP TABLE big (_p INTEGER, _o BIGINT, ts TIMESTAMPTZ, v BIGINT)`);
  await conn.run(
    `INSERT INTO big VALUES (0, 0, ${at(1)}, 5000000000000000000), (0, 1, ${at(2)}, 5000000000000000000), (0, 2, ${at(3)}, 7), (0, 3, ${at(200)}, 1)`,
  );
  const s: WindowSpec = {
    kind: 'tumble',
    timeColumn: 'ts',
    sizeMs: 60_000,
    groupBy: [],
    aggregates: [parseAggregate('n', 'count(*)'), parseAggregate('s', 'sum(v)')],
    watermarkDelayMs: 10_000,
    emit: 'final',
  };
  const batch = (offsets: number[]) => `(SELECT * FROM big WHERE _o IN (${offsets.join(', ')}))`;
  const read = async (table: string) =>
    (await rowsOf(conn, `SELECT epoch_ms(window_start) AS ws, n, s FROM ${table}`)).map((r) =>
      JSON.stringify(r),
    );

  const straightOp = new WindowOperator(s, 'straight');
  await straightOp.open(conn);
  await straightOp.process(conn, batch([0]));
  await straightOp.process(conn, batch([2]));
  const want = await read((await straightOp.process(conn, batch([3]))).emitted);

  const op = new WindowOperator(s, 'failing');
  await op.open(conn);
  await op.process(conn, batch([0]));
  await assert.rejects(op.process(conn, batch([1])), (e) => isTributaryError(e, 'DUCKDB_DATA'));
  await op.process(conn, batch([2]));
  const got = await read((await op.process(conn, batch([3]))).emitted);
  assert.deepEqual(got, want);
  assert.deepEqual(want, [JSON.stringify({ ws: String(T0), n: '2', s: '5000000000000000007' })]);
});

test('windows before 1970 are aligned to the epoch like the others', async () => {
  const conn = await connection();
  const rows: Row[] = [-60_001, -60_000, -1, 0, 59_999].map((t, o) => ({
    p: 0,
    o,
    t,
    k: 1,
    u: null,
    amount: 1,
    cents: null,
  }));
  await load(conn, 'src', rows);
  for (const w of [SHAPES[1][1], SHAPES[3][1]]) {
    const op = new WindowOperator(spec(w), 'w');
    await op.open(conn);
    const got = await runBatches(conn, op, rows.length, []);
    assert.deepEqual(got, expected(rows, [], w));
    const starts = got[0].emitted.map((e) => Number(JSON.parse(e).ws)).sort((a, b) => a - b);
    assert.deepEqual(
      starts,
      w.slideMs === 60_000
        ? [-120_000, -60_000, 0]
        : [-120_000, -100_000, -80_000, -60_000, -40_000, -20_000, 0, 20_000, 40_000],
    );
  }
});
