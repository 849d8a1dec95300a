/**
 * Which files may hold rows whose keys appear in a source batch, from partition values
 * and per-file key min/max statistics — before any data file is opened. This is what
 * makes MERGE cost follow the batch rather than the table when the table's layout
 * keeps keys clustered (files sorted by key, or a partition column derived from the key).
 *
 * The range test runs in DuckDB as a join of the source keys against a small table of
 * per-file [min, max] bounds, so comparisons use the column's own ordering.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteIdent, quoteString } from '../../core/sql.ts';
import type { Add } from '../actions.ts';
import { partitionValueSql } from '../partition-path.ts';
import { queryJson } from '../read/connection.ts';
import { timestampMaxBound } from '../read/filter.ts';
import type { StructType } from '../schema.ts';
import { parseStats, statText } from '../stats.ts';
import { duckType } from '../types.ts';

const RANGE_TYPES = new Set([
  'string',
  'long',
  'integer',
  'short',
  'byte',
  'date',
  'timestamp',
  'double',
  'float',
]);

function rangeable(type: unknown): boolean {
  return typeof type === 'string' && (RANGE_TYPES.has(type) || type.startsWith('decimal('));
}

/** Partition value tuples present in the source, as Delta partition value strings. */
export async function sourcePartitions(
  conn: DuckDBConnection,
  srcTable: string,
  schema: StructType,
  partitionColumns: string[],
): Promise<Array<Record<string, string | null>>> {
  const exprs = partitionColumns.map((c, i) => {
    const f = schema.fields.find((x) => x.name === c)!;
    return `${partitionValueSql(quoteIdent(c), f.type)} AS __pv${i}`;
  });
  const rows = await queryJson(conn, `SELECT DISTINCT ${exprs.join(', ')} FROM ${srcTable}`);
  return rows.map((r) => {
    const out: Record<string, string | null> = {};
    partitionColumns.forEach((c, i) => {
      const v = r[`__pv${i}`] as string | null;
      out[c] = v === '' ? null : v;
    });
    return out;
  });
}

export function partitionKey(values: Record<string, string | null>, partitionColumns: string[]): string {
  return JSON.stringify(partitionColumns.map((c) => values[c] ?? null));
}

/**
 * The subset of `files` whose key ranges can contain a source key. Files lacking stats
 * for a key column are always kept.
 */
export async function filesByKeyRange(
  conn: DuckDBConnection,
  files: Add[],
  schema: StructType,
  keys: string[],
  partitionColumns: string[],
  srcTable: string,
): Promise<Add[]> {
  const rangeKeys = keys.filter((k) => {
    const f = schema.fields.find((x) => x.name === k);
    return f && !partitionColumns.includes(k) && rangeable(f.type);
  });
  if (rangeKeys.length === 0 || files.length === 0) return files;
  const keep: Add[] = [];
  const ranged: Array<{ idx: number; bounds: Array<[string, string]> }> = [];
  files.forEach((add, idx) => {
    const stats = parseStats(add.stats);
    const bounds: Array<[string, string]> = [];
    for (const k of rangeKeys) {
      const lo = statText(stats?.minValues[k]);
      const hi = statText(stats?.maxValues[k]);
      if (lo === undefined || hi === undefined) {
        keep.push(add);
        return;
      }
      // Timestamp maxima are truncated to milliseconds (see timestampMaxBound).
      const timestamp = schema.fields.find((x) => x.name === k)!.type === 'timestamp';
      bounds.push([lo, timestamp ? timestampMaxBound(hi) : hi]);
    }
    ranged.push({ idx, bounds });
  });
  if (ranged.length === 0) return files;
  const types = rangeKeys.map((k) => duckType(schema.fields.find((x) => x.name === k)!.type));
  const cols = ['idx', ...rangeKeys.flatMap((_, i) => [`lo${i}`, `hi${i}`])].join(', ');
  const table = `__ranges_${Math.random().toString(36).slice(2)}`;
  await conn.run(
    `CREATE TEMP TABLE ${table} (idx INTEGER, ${rangeKeys.map((_, i) => `lo${i} ${types[i]}, hi${i} ${types[i]}`).join(', ')})`,
  );
  try {
    // Insert in chunks to keep each statement small.
    for (let i = 0; i < ranged.length; i += 1000) {
      const values = ranged
        .slice(i, i + 1000)
        .map(
          (r) =>
            `(${[String(r.idx), ...r.bounds.flatMap(([lo, hi], j) => [`CAST(${quoteString(lo)} AS ${types[j]})`, `CAST(${quoteString(hi)} AS ${types[j]})`])].join(', ')})`,
        )
        .join(', ');
      await conn.run(`INSERT INTO ${table} (${cols}) VALUES ${values}`);
    }
    const cond = rangeKeys
      .map((k, i) => `s.${quoteIdent(k)} >= r.lo${i} AND s.${quoteIdent(k)} <= r.hi${i}`)
      .join(' AND ');
    const hits = await queryJson(conn, `SELECT DISTINCT r.idx FROM ${table} r JOIN ${srcTable} s ON ${cond}`);
    for (const h of hits) keep.push(files[Number(h.idx)]);
  } finally {
    await conn.run(`DROP TABLE IF EXISTS ${table}`);
  }
  return keep;
}
