/**
 * Table histories the interop tests write with Tributary and then have another reader
 * (delta-rs, Spark, Trino) read, each with the rows expected at every version computed
 * in plain code beside the writes: the independent truth the readers are held to.
 *
 * A history is written with one row fixture (test/interop/fixtures.ts's ALL_TYPES, or
 * Spark's with a map column), given as a RowKind.
 */
import assert from 'node:assert/strict';
import { cp, readdir, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { ManualClock } from '../../src/core/clock.ts';
import { LocalStore } from '../../src/storage/local.ts';
import { append, DeltaTable, deleteWhere, merge, update } from '../../src/table/index.ts';
import type { StructType } from '../../src/table/schema.ts';
import { ALL_TYPES, allTypesRow, toJsRows } from './fixtures.ts';
import { sortRows } from './helpers.ts';

type Row = Record<string, unknown>;

/** Rows of one schema: row `n` in normal form (its region given or from the awkward cycle) and as JS values. */
export interface RowKind {
  schema: StructType;
  row(n: number, region?: string | null): Row;
  jsRows(rows: Row[]): Row[];
}

export const ALL_TYPES_ROWS: RowKind = {
  schema: ALL_TYPES,
  row: (n, region) => (region === undefined ? allTypesRow(n) : allTypesRow(n, region)),
  jsRows: (rows) => toJsRows(rows, ALL_TYPES),
};

export const logFile = (path: string, v: number) =>
  join(path, '_delta_log', `${String(v).padStart(20, '0')}.json`);

/**
 * A table partitioned by `region` holding rows 0..15 (every region of the awkward cycle,
 * null included), written by two appends (versions 1 and 2). Returns the table and its
 * sorted rows.
 */
export async function writeAllTypes(
  path: string,
  kind: RowKind,
): Promise<{ table: DeltaTable; rows: Row[] }> {
  const table = await DeltaTable.create(new LocalStore(path), {
    schema: kind.schema,
    partitionColumns: ['region'],
  });
  const rows = Array.from({ length: 16 }, (_, n) => kind.row(n));
  await append(table, { rows: kind.jsRows(rows.slice(0, 9)) });
  await append(table, { rows: kind.jsRows(rows.slice(9)) });
  return { table, rows: sortRows(rows) };
}

/**
 * An unpartitioned table of rows 0..23 in 4 files of 6 (one append each): a reader that
 * skips files by their min/max statistics misses rows when a min is too high or a max too
 * low. Returns the rows in order (row n at index n).
 */
export async function writeFourFiles(path: string, kind: RowKind): Promise<Row[]> {
  const table = await DeltaTable.create(new LocalStore(path), { schema: kind.schema });
  const rows = Array.from({ length: 24 }, (_, n) => kind.row(n));
  for (let i = 0; i < 24; i += 6) await append(table, { rows: kind.jsRows(rows.slice(i, i + 6)) });
  return rows;
}

/**
 * Equality filters to check data skipping on writeFourFiles' table: for each column, every
 * third row (two per file, odd and even: long and short names), named `<column> <n>`,
 * with the ids of all rows holding that value (`value` reads a row's value as the reader
 * sees it) as `{ probe, id }` rows, sorted.
 */
export function equalityProbes(
  rows: Row[],
  columns: string[],
  value: (r: Row, column: string) => unknown = (r, column) => r[column],
): { probes: Array<{ probe: string; column: string; row: Row }>; expected: Row[] } {
  const probes: Array<{ probe: string; column: string; row: Row }> = [];
  const expected: Row[] = [];
  for (const column of columns) {
    for (const [k, r] of rows.entries()) {
      if (k % 3 !== 0) continue;
      const probe = `${column} ${k}`;
      probes.push({ probe, column, row: r });
      for (const x of rows) if (value(x, column) === value(r, column)) expected.push({ probe, id: x.id });
    }
  }
  return { probes, expected: sortRows(expected) };
}

/**
 * A table partitioned by `region` written as 12 small files: 6 appends (versions 1..6, a
 * second apart on `clock`) of one row in 'a:b' and one in the null partition, for
 * OPTIMIZE to compact into 2. Returns the table and its sorted rows.
 */
export async function writeSmallFiles(
  path: string,
  kind: RowKind,
  clock: ManualClock,
): Promise<{ table: DeltaTable; rows: Row[] }> {
  const table = await DeltaTable.create(
    new LocalStore(path),
    { schema: kind.schema, partitionColumns: ['region'] },
    { clock },
  );
  const rows: Row[] = [];
  for (let batch = 0; batch < 6; batch++) {
    clock.advance(1000);
    const b = [0, 1].map((k) => kind.row(batch * 2 + k, k === 0 ? 'a:b' : null));
    rows.push(...b);
    await append(table, { rows: kind.jsRows(b) });
  }
  return { table, rows: sortRows(rows) };
}

/**
 * A table partitioned by `region`: 12 rows appended (version 1), a MERGE that updates two
 * rows (one moves partition) and inserts two, an UPDATE across partitions, a DELETE with a
 * partition and a data predicate. Returns the sorted rows at every version (index 0: none).
 */
export async function writeMutations(path: string, kind: RowKind): Promise<Row[][]> {
  const table = await DeltaTable.create(new LocalStore(path), {
    schema: kind.schema,
    partitionColumns: ['region'],
  });
  const state = new Map<string, Row>();
  const expected: Row[][] = [[]];
  const commit = (version: number) => {
    expected[version] = sortRows(structuredClone([...state.values()]));
  };
  const initial = Array.from({ length: 12 }, (_, n) => kind.row(n));
  for (const r of initial) state.set(r.id as string, r);
  commit((await append(table, { rows: kind.jsRows(initial) })).version);

  const source = [
    { ...kind.row(2), name: 'merged two', i32: 2 },
    { ...kind.row(5), region: 'moved: here/now', f64: -1.5 },
    kind.row(100, 'merge = new'),
    kind.row(101, null),
  ];
  const m = await merge(
    table,
    { rows: kind.jsRows(source) },
    { on: ['id'], whenMatched: 'update', whenNotMatched: 'insert' },
  );
  assert.equal(m.metrics.numTargetRowsUpdated, 2);
  assert.equal(m.metrics.numTargetRowsInserted, 2);
  for (const r of source) state.set(r.id as string, r);
  commit(m.version!);

  const u = await update(table, { where: 'i8 = 127', set: { name: "'updated ' || CAST(i32 AS VARCHAR)" } });
  for (const r of state.values()) if (r.i8 === 127) r.name = `updated ${r.i32}`;
  commit(u.version!);

  const d = await deleteWhere(table, "region = 'a:b' OR flag = true");
  for (const [id, r] of state) if (r.region === 'a:b' || r.flag === true) state.delete(id);
  commit(d.version!);
  assert.ok(state.size > 0 && state.size < 14, 'the delete must leave some rows and remove some');
  return expected;
}

/**
 * A table partitioned by `region` with 12 one-row commits on `clock` (a minute apart), so
 * our writer leaves a checkpoint at version 10. Readers that time a commit by its log
 * file's modification time (delta-rs, Spark without in-commit timestamps) see the times
 * the clock committed at: every log file gets its commit's time. Returns the sorted rows
 * at every version and each version's commit time (ms).
 */
export async function writeCheckpointed(
  path: string,
  kind: RowKind,
  clock: ManualClock,
): Promise<{ expected: Row[][]; commitTimes: number[] }> {
  const table = await DeltaTable.create(
    new LocalStore(path),
    { schema: kind.schema, partitionColumns: ['region'] },
    { clock },
  );
  const expected: Row[][] = [[]];
  const commitTimes: number[] = [clock.now()];
  const all: Row[] = [];
  for (let n = 0; n < 12; n++) {
    clock.advance(60_000);
    const r = kind.row(n);
    const res = await append(table, { rows: kind.jsRows([r]) });
    assert.equal(res.version, n + 1);
    all.push(r);
    expected[res.version] = sortRows(all);
    commitTimes[res.version] = clock.now();
  }
  for (const [v, ms] of commitTimes.entries()) await utimes(logFile(path, v), ms / 1000, ms / 1000);
  const log = await readdir(join(path, '_delta_log'));
  assert.ok(
    log.includes('00000000000000000010.checkpoint.parquet'),
    `no checkpoint at 10: ${log.join(', ')}`,
  );
  return { expected, commitTimes };
}

/**
 * A copy of a table written by writeCheckpointed without commits 0..10: a reader can only
 * rebuild it from our checkpoint at version 10 (and commits 11, 12).
 */
export async function copyFromCheckpoint(path: string, copy: string): Promise<void> {
  await cp(path, copy, { recursive: true, preserveTimestamps: true });
  for (let v = 0; v <= 10; v++) await rm(logFile(copy, v));
}
