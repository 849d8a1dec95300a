/**
 * A synthetic bronze_user_events table (the clickstream speed layer's, pipelines/
 * clickstream.yaml) for the batch layer's benchmark and tests: `events` events of one
 * day appended straight with the table layer, rows made by DuckDB from range(), so ten
 * million take seconds, not the stream's minutes. Deterministic: the same arguments give
 * the same rows.
 * Shapes like the generator's: ~5,000 users, 70 % clicks, 15 % logins, 8 % purchases,
 * 7 % logouts, eight pages, web/mobile, three source partitions, and every 200th event
 * re-sent (a second record with the same event_id and event time).
 */
import { builtinDefinitionSync } from '../../pipeline/builtin.ts';
import { LocalStore } from '../../storage/local.ts';
import { append, DeltaTable } from '../../table/index.ts';
import type { StructType } from '../../table/schema.ts';

/** The bronze table's schema as the clickstream definition declares it. */
export function bronzeSchema(): StructType {
  const def = builtinDefinitionSync('clickstream').definition;
  const t = def.tables!.find((x) => x.name === 'bronze_user_events')!;
  return {
    type: 'struct',
    fields: t.columns!.map((c) => ({
      name: c.name,
      type: c.type as StructType['fields'][number]['type'],
      nullable: c.nullable !== false,
      metadata: {},
    })),
  };
}

/**
 * Appends `events` events of `day` (YYYY-MM-DD, UTC) to the bronze table at `dir`
 * (created if missing). `firstRecord` numbers the records after those of earlier calls,
 * so event ids and source offsets of two days do not repeat.
 */
export async function writeBronze(
  dir: string,
  day: string,
  events: number,
  firstRecord = 0,
): Promise<DeltaTable> {
  const table = await DeltaTable.open(new LocalStore(dir), {
    createIfMissing: { schema: bronzeSchema(), partitionColumns: ['event_date'] },
  });
  const start = Date.parse(`${day}T00:00:00Z`);
  const step = 86_400_000 / events;
  // i: the record; e: the event it carries (every 200th record re-sends the one before).
  const sql = `
    WITH base AS (SELECT n, n + ${firstRecord} AS i FROM range(${events}) t(n)),
    r AS (SELECT n, i, CASE WHEN i % 200 = 199 AND n > 0 THEN i - 1 ELSE i END AS e FROM base),
    h AS (SELECT n, i, e, n - (i - e) AS k, hash(e) AS x, md5(CAST(e AS VARCHAR)) AS m FROM r)
    SELECT
      substr(m, 1, 8) || '-' || substr(m, 9, 4) || '-4' ||
        substr(m, 14, 3) || '-a' || substr(m, 18, 3) || '-' ||
        substr(m, 21, 12) AS event_id,
      CAST(1 + x % 5000 AS BIGINT) AS user_id,
      CASE WHEN (x >> 16) % 100 < 70 THEN 'click' WHEN (x >> 16) % 100 < 85 THEN 'login'
           WHEN (x >> 16) % 100 < 93 THEN 'purchase' ELSE 'logout' END AS event_type,
      (['/home', '/products', '/search', '/cart', '/checkout', '/account', '/deals', '/help'])[CAST(1 + (x >> 24) % 8 AS BIGINT)] AS page,
      make_timestamp(CAST((${start} + k * ${step}) * 1000 AS BIGINT)) AS "timestamp",
      CASE WHEN (x >> 32) % 10 < 6 THEN 'web' ELSE 'mobile' END AS source,
      CAST(i % 3 AS INTEGER) AS source_partition,
      CAST(i // 3 AS BIGINT) AS source_offset,
      make_timestamp(CAST((${start} + k * ${step} + 1000) * 1000 AS BIGINT)) AS ingest_time,
      '${day}' AS event_date
    FROM h`;
  await append(table, { sql });
  return table;
}
