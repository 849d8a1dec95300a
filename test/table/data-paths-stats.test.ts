import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { append } from '../../src/table/ops/append.ts';
import {
  escapePartitionComponent,
  fromAddPath,
  partitionDir,
  toAddPath,
  unescapePartitionComponent,
} from '../../src/table/partition-path.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import { scan } from '../../src/table/read/scan.ts';
import type { StructType } from '../../src/table/schema.ts';
import { buildStats, parseStats, parseTimestampMicros, timestampStat } from '../../src/table/stats.ts';
import { field, newTable, tempDir } from './data-helpers.ts';

describe('partition paths', () => {
  test('Hive escaping of awkward values', () => {
    assert.equal(escapePartitionComponent('a:b'), 'a%3Ab');
    assert.equal(escapePartitionComponent('a/b=c'), 'a%2Fb%3Dc');
    assert.equal(escapePartitionComponent(`"#%'*?\\{[]^`), '%22%23%25%27%2A%3F%5C%7B%5B%5D%5E');
    assert.equal(escapePartitionComponent('tab\there\x7f'), 'tab%09here%7F');
    assert.equal(escapePartitionComponent('sp ace é 日本'), 'sp ace é 日本');
    for (const v of ['a:b', '%%', 'x/y', 'é/%3A'])
      assert.equal(unescapePartitionComponent(escapePartitionComponent(v)), v);
  });

  test('directories and add.path', () => {
    assert.equal(partitionDir(['p'], { p: 'a:b' }), 'p=a%3Ab');
    assert.equal(toAddPath('p=a%3Ab/part-0.parquet'), 'p=a%253Ab/part-0.parquet');
    assert.equal(
      partitionDir(['p', 'q'], { p: null, q: '' }),
      'p=__HIVE_DEFAULT_PARTITION__/q=__HIVE_DEFAULT_PARTITION__',
    );
    assert.equal(toAddPath('p=sp ace é/f'), 'p=sp%20ace%20%C3%A9/f');
    for (const p of ['p=a%3Ab/f', 'p=sp ace é/f', 'p=%25/f']) assert.equal(fromAddPath(toAddPath(p)), p);
    // Deterministic: the same values always give the same string.
    assert.equal(partitionDir(['p'], { p: 'x#y' }), partitionDir(['p'], { p: 'x#y' }));
  });
});

describe('stats', () => {
  test('timestamps: floor the min, round the max up to the next millisecond', () => {
    const t = parseTimestampMicros('2026-01-01 00:00:00.123456+00')!;
    assert.equal(timestampStat(t, 'floor'), '2026-01-01T00:00:00.123Z');
    assert.equal(timestampStat(t, 'ceil'), '2026-01-01T00:00:00.124Z');
    const whole = parseTimestampMicros('2026-01-01 00:00:00.123+00')!;
    assert.equal(timestampStat(whole, 'ceil'), '2026-01-01T00:00:00.123Z');
    const before1970 = parseTimestampMicros('1969-12-31 23:59:59.9995+00')!;
    assert.equal(timestampStat(before1970, 'floor'), '1969-12-31T23:59:59.999Z');
    assert.equal(timestampStat(before1970, 'ceil'), '1970-01-01T00:00:00.000Z');
  });

  test('buildStats: truncation, NaN, lossless longs, nested structs, partition columns excluded', () => {
    const schema: StructType = {
      type: 'struct',
      fields: [
        field('s', 'string'),
        field('l', 'long'),
        field('d', 'double'),
        field('b', 'boolean'),
        field('p', 'string'),
        field('st', { type: 'struct', fields: [field('x', 'integer')] }),
      ],
    };
    const col = (o: Record<string, string>) => new Map(Object.entries(o));
    const stats = buildStats(
      schema,
      ['p'],
      3,
      new Map([
        ['"s"', col({ min: 'a'.repeat(40), max: 'z'.repeat(40), null_count: '0' })],
        ['"l"', col({ min: '-9223372036854775808', max: '9007199254740993', null_count: '1' })],
        ['"d"', col({ has_nan: 'true', null_count: '0' })],
        ['"b"', col({ min: '0', max: '1', null_count: '0' })],
        ['"st"."x"', col({ min: '1', max: '2', null_count: '0' })],
      ]),
    );
    assert.ok(stats.includes('"l":9007199254740993'), stats);
    assert.ok(stats.includes('"l":-9223372036854775808'), stats);
    const parsed = JSON.parse(stats);
    assert.equal(parsed.numRecords, 3);
    assert.equal(parsed.minValues.s, 'a'.repeat(32));
    assert.equal(parsed.maxValues.s, `${'z'.repeat(32)}\u{10FFFD}`);
    assert.equal(parsed.minValues.d, undefined);
    assert.equal(parsed.minValues.b, undefined);
    assert.equal(parsed.nullCount.b, 0);
    assert.equal(parsed.minValues.p, undefined);
    assert.equal(parsed.nullCount.p, undefined);
    assert.deepEqual(parsed.maxValues.st, { x: 2 });
    const lossless = parseStats(stats)!;
    assert.deepEqual(lossless.maxValues.l, { raw: '9007199254740993' });
  });

  test('buildStats: decimals beyond 15 significant digits get bounds that a reader parsing JSON numbers as doubles reads exactly', () => {
    // Trino does (its Delta Lake connector, 476): the exact 999999999999999999990.000001
    // read as 1e21, above every value of the file, and Trino skipped the file.
    const schema: StructType = {
      type: 'struct',
      fields: [
        field('big', 'decimal(38,6)'),
        field('mid', 'decimal(18,2)'),
        field('small', 'decimal(10,2)'),
        field('edge', 'decimal(38,6)'),
      ],
    };
    const col = (o: Record<string, string>) => new Map(Object.entries(o));
    const stats = buildStats(
      schema,
      [],
      2,
      new Map([
        ['"big"', col({ min: '999999999999999999990.000001', max: '999999999999999999995.000001' })],
        ['"mid"', col({ min: '-1234567890123456.78', max: '1234567890123456.78' })],
        ['"small"', col({ min: '-12345678.05', max: '12345678.05' })],
        [
          '"edge"',
          col({
            min: '-99999999999999999999999999999999.999999',
            max: '99999999999999999999999999999999.999999',
          }),
        ],
      ]),
    );
    const { minValues, maxValues } = parseStats(stats)!;
    const text = (v: unknown) => (v as { raw: string } | undefined)?.raw;
    assert.deepEqual(
      Object.keys(minValues).map((k) => [k, text(minValues[k]), text(maxValues[k])]),
      [
        ['big', '999999999999999000000.000000', '1000000000000000000000.000000'],
        ['mid', '-1234567890123460.00', '1234567890123460.00'],
        ['small', '-12345678.05', '12345678.05'],
      ],
    );
    // Rounded outwards, edge's bounds need 33 integer digits, more than decimal(38,6) holds: none.
    assert.ok(!('edge' in minValues) && !('edge' in maxValues), stats);
    // Each bound as a double's shortest text (what Trino gets back) is the bound itself.
    const unscaled = (t: string, scale: number) => {
      const [m, e = '0'] = t.toLowerCase().split('e');
      const [int, frac = ''] = m.split('.');
      return BigInt(`${int}${frac}`) * 10n ** BigInt(scale - frac.length + Number(e));
    };
    for (const bound of [...Object.values(minValues), ...Object.values(maxValues)]) {
      const t = text(bound)!;
      assert.equal(unscaled(String(Number(t)), 12), unscaled(t, 12), t);
    }
  });
});

describe('stats and partitions written by append', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const schema: StructType = {
    type: 'struct',
    fields: [
      field('id', 'long'),
      field('name', 'string'),
      field('ts', 'timestamp'),
      field('x', 'double'),
      field('p', 'string'),
      field('day', 'date'),
    ],
  };

  test('awkward partition values land in escaped directories and read back exactly', async () => {
    const { table, store } = await newTable(`${tmp.dir}/awk`, schema, ['p']);
    const values = ['a:b', 'x/y', 'sp ace', 'é日本', '100%', 'q?#=[]', null, 'tab\tnl\n'];
    await append(table, { rows: values.map((p, i) => ({ id: i, p })) });
    const snap = await table.snapshot();
    assert.equal(snap.files().length, values.length);
    const ab = snap.files().find((f) => f.partitionValues.p === 'a:b')!;
    assert.match(ab.path, /^p=a%253Ab\/part-\d{5}-/);
    for (const f of snap.files()) assert.ok(existsSync(store.localPath(fromAddPath(f.path))), f.path);
    const rows = await readRows(table, snap, { orderBy: 'id' });
    assert.deepEqual(
      rows.map((r) => r.p),
      values,
    );
    const pruned = await scan(table, snap, { filter: [{ column: 'p', op: '=', value: 'x/y' }] });
    assert.equal(pruned.length, 1);
    assert.deepEqual(pruned[0].partitionValues, { p: 'x/y' });
  });

  test('written stats: timestamps in ms, longs beyond 2^53, NaN columns without bounds', async () => {
    const { table } = await newTable(`${tmp.dir}/stats`, schema, ['p']);
    await append(table, {
      rows: [
        { id: 9007199254740993n, name: 'é'.repeat(40), ts: '2026-01-01T00:00:00.000999Z', x: 1, p: 'a' },
        { id: -5, name: 'b', ts: '2026-01-01T00:00:00.001001Z', x: Number.NaN, p: 'a' },
      ],
    });
    const [file] = (await table.snapshot()).files();
    const stats = file.stats!;
    assert.ok(stats.includes('"id":9007199254740993'), stats);
    const s = JSON.parse(stats);
    assert.equal(s.numRecords, 2);
    assert.equal(s.minValues.ts, '2026-01-01T00:00:00.000Z');
    assert.equal(s.maxValues.ts, '2026-01-01T00:00:00.002Z');
    assert.equal(s.minValues.name, 'b');
    assert.equal(s.maxValues.name, `${'é'.repeat(32)}\u{10FFFD}`);
    assert.equal(s.minValues.x, undefined);
    assert.equal(s.nullCount.x, 0);
    assert.equal(s.nullCount.day, 2);
    assert.equal(s.minValues.p, undefined);
  });

  test('scan skips files by min/max stats', async () => {
    const { table } = await newTable(`${tmp.dir}/skip`, schema);
    await append(table, {
      rows: [
        { id: 1, ts: '2026-01-01T00:00:00Z' },
        { id: 5, ts: '2026-01-01T01:00:00Z' },
      ],
    });
    await append(table, {
      rows: [
        { id: 10, ts: '2026-01-02T00:00:00Z' },
        { id: 15, ts: '2026-01-02T01:00:00Z' },
      ],
    });
    const snap = await table.snapshot();
    const eq = await scan(table, snap, { filter: [{ column: 'id', op: '=', value: 12 }] });
    assert.equal(eq.length, 1);
    const none = await scan(table, snap, { filter: [{ column: 'id', op: '>', value: 15 }] });
    assert.equal(none.length, 0);
    const ts = await scan(table, snap, {
      filter: [{ column: 'ts', op: '>=', value: new Date(Date.UTC(2026, 0, 1, 12)) }],
    });
    assert.equal(ts.length, 1);
    const isNull = await scan(table, snap, { filter: [{ column: 'name', op: 'is not null' }] });
    assert.equal(isNull.length, 0);
    const rows = await readRows(table, snap, {
      filter: [{ column: 'id', op: '<=', value: 10 }],
      orderBy: 'id',
    });
    assert.deepEqual(
      rows.map((r) => r.id),
      ['1', '5', '10'],
    );
  });
});
