import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { append } from '../../src/table/ops/append.ts';
import { queryJson, withConnection } from '../../src/table/read/connection.ts';
import { readRows } from '../../src/table/read/read-rows.ts';
import { scan } from '../../src/table/read/scan.ts';
import type { StructType } from '../../src/table/schema.ts';
import { field, newTable, tempDir } from './data-helpers.ts';

const ALL_TYPES: StructType = {
  type: 'struct',
  fields: [
    field('id', 'long', false),
    field('s', 'string'),
    field('i', 'integer'),
    field('sh', 'short'),
    field('by', 'byte'),
    field('d', 'double'),
    field('f', 'float'),
    field('b', 'boolean'),
    field('bin', 'binary'),
    field('dt', 'date'),
    field('ts', 'timestamp'),
    field('dec', 'decimal(38,2)'),
    field('st', { type: 'struct', fields: [field('x', 'integer'), field('y', 'string')] }),
    field('arr', { type: 'array', elementType: 'long', containsNull: true }),
    field('m', { type: 'map', keyType: 'string', valueType: 'integer', valueContainsNull: true }),
  ],
};

describe('data plane: writing files', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  test('every type round-trips through append and readRows', async () => {
    const { table } = await newTable(`${tmp.dir}/all`, ALL_TYPES);
    await append(table, {
      rows: [
        {
          id: 9007199254740993n,
          s: 'héllo',
          i: -5,
          sh: 300,
          by: -7,
          d: 1.25,
          f: 0.5,
          b: true,
          bin: new Uint8Array([0, 1, 255]),
          dt: '2026-03-04',
          ts: '2026-01-01T12:34:56.789123Z',
          dec: '12345678901234567890123456789012.34',
          st: { x: 1, y: 'why' },
          arr: [1, null, 3],
          m: { k: 1 },
        },
        { id: 2 },
      ],
    });
    const snap = await table.snapshot();
    assert.equal(snap.version, 1);
    const rows = await readRows(table, snap, { orderBy: 'id' });
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[0], {
      id: '2',
      s: null,
      i: null,
      sh: null,
      by: null,
      d: null,
      f: null,
      b: null,
      bin: null,
      dt: null,
      ts: null,
      dec: null,
      st: null,
      arr: null,
      m: null,
    });
    assert.deepEqual(rows[1], {
      id: '9007199254740993',
      s: 'héllo',
      i: -5,
      sh: 300,
      by: -7,
      d: 1.25,
      f: 0.5,
      b: true,
      bin: '\\x00\\x01\\xFF',
      dt: '2026-03-04',
      ts: '2026-01-01 12:34:56.789123+00',
      dec: '12345678901234567890123456789012.34',
      st: { x: 1, y: 'why' },
      arr: ['1', null, '3'],
      m: [{ key: 'k', value: 1 }],
    });
  });

  test('files carry Delta physical and logical types (timestamp MICROS adjusted to UTC)', async () => {
    const { table } = await newTable(`${tmp.dir}/types`, ALL_TYPES);
    await append(table, {
      rows: [{ id: 1, ts: new Date(Date.UTC(2026, 0, 1)), dt: '2026-01-01', dec: '1.5' }],
    });
    const files = await scan(table, await table.snapshot());
    assert.equal(files.length, 1);
    assert.match(files[0].path, /^part-00000-[0-9a-f-]{36}-c000\.zstd\.parquet$/);
    const schema = await withConnection((c) =>
      queryJson(
        c,
        `SELECT name, type, converted_type, logical_type, repetition_type FROM parquet_schema('${files[0].localPath}')`,
      ),
    );
    const byName = new Map(schema.map((r) => [r.name, r]));
    assert.equal(byName.get('ts')?.type, 'INT64');
    assert.match(String(byName.get('ts')?.logical_type), /isAdjustedToUTC=1/);
    assert.match(String(byName.get('ts')?.logical_type), /MICROS=MicroSeconds\(\)/);
    assert.equal(byName.get('dt')?.type, 'INT32');
    assert.equal(byName.get('dt')?.converted_type, 'DATE');
    assert.equal(byName.get('id')?.type, 'INT64');
    assert.equal(byName.get('dec')?.converted_type, 'DECIMAL');
    assert.equal(byName.get('arr')?.converted_type, 'LIST');
    assert.equal(byName.get('m')?.converted_type, 'MAP');
    assert.equal(byName.get('key')?.repetition_type, 'REQUIRED');
    assert.equal(byName.get('bin')?.type, 'BYTE_ARRAY');
  });

  test('large batches split near the target file size, per partition', async () => {
    const schema: StructType = {
      type: 'struct',
      fields: [field('id', 'long'), field('payload', 'string'), field('p', 'integer')],
    };
    const { table } = await newTable(`${tmp.dir}/split`, schema, ['p']);
    const sql = `SELECT i AS id, md5(i::VARCHAR) || md5((i * 7)::VARCHAR) AS payload, (i % 2)::INTEGER AS p FROM range(200000) t(i)`;
    const res = await append(table, { sql }, { targetFileSize: 1_000_000 });
    const files = (await table.snapshot()).files();
    assert.equal(res.files, files.length);
    assert.ok(files.length >= 6, `expected several files per partition, got ${files.length}`);
    for (const f of files) assert.ok(f.size < 2_500_000, `file of ${f.size} bytes`);
    let total = 0;
    for (const f of files) total += JSON.parse(f.stats!).numRecords;
    assert.equal(total, 200000);
    const count = await readRows(table, await table.snapshot(), { columns: ['p'] });
    assert.equal(count.length, 200000);
  });

  test('statistics cover the first 32 leaf columns only', async () => {
    const schema: StructType = {
      type: 'struct',
      fields: Array.from({ length: 35 }, (_, i) => field(`c${i}`, 'integer')),
    };
    const { table } = await newTable(`${tmp.dir}/wide`, schema);
    const row = Object.fromEntries(schema.fields.map((f, i) => [f.name, i]));
    await append(table, { rows: [row] });
    const stats = JSON.parse((await table.snapshot()).files()[0].stats!);
    assert.equal(Object.keys(stats.minValues).length, 32);
    assert.equal(stats.minValues.c31, 31);
    assert.equal(stats.minValues.c32, undefined);
  });
});
