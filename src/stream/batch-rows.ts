/**
 * The rows a batch gives its sinks, beside decoding: rows that need no decoding (a Delta
 * table's versions), the valid relation with rule failures kept and tagged (a contract's
 * `on_failure: tag`), and the windows' late records as dead letters.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteIdent, quoteString } from '../core/sql.ts';
import { recordAt } from '../log/log.ts';
import type { FileRef } from '../table/index.ts';
import type { StatefulResult } from './stateful.ts';
import type { DeferredDecodedBatch, RejectedRecord, SourceBatch } from './types.ts';

/**
 * A batch of rows that need no decoding (a Delta table's versions) as the decoded table:
 * `_o` the version, `_p` the partition, `_t` the commit time, every row valid.
 */
export async function loadRows(
  conn: DuckDBConnection,
  batches: readonly SourceBatch[],
  rawTable: string,
  rowsRelation: (conn: DuckDBConnection, files: readonly FileRef[]) => Promise<string>,
): Promise<DeferredDecodedBatch> {
  const parts: string[] = [];
  for (const b of batches) {
    for (const v of b.rows!.versions) {
      if (v.files.length === 0) continue;
      const rel = await rowsRelation(conn, v.files);
      parts.push(
        `SELECT ${v.version}::BIGINT AS _o, ${b.partition}::INTEGER AS _p, ${v.timestamp}::BIGINT AS _t, true AS _ok, * FROM (${rel})`,
      );
    }
  }
  if (parts.length === 0) {
    parts.push(
      `SELECT NULL::BIGINT AS _o, NULL::INTEGER AS _p, NULL::BIGINT AS _t, true AS _ok, * FROM (${await rowsRelation(conn, [])}) WHERE false`,
    );
  }
  await conn.run(`CREATE OR REPLACE TABLE ${rawTable} AS ${parts.join(' UNION ALL ')}`);
  const valid = Number((await conn.runAndReadAll(`SELECT count(*) FROM ${rawTable}`)).getRows()[0][0]);
  return { validTable: '__stream_valid', rawTable, valid, rejectedCount: 0, rejected: Promise.resolve([]) };
}

/**
 * SQL of the rows the sinks get: the valid ones, or with `tag`, also those that broke a
 * rule of the contract, with a status and a reason column (their reasons are needed
 * before any sink runs: rejects are rare, explaining them is quick). `tagged`: the
 * records kept that way (`partition/offset`), not for the DLQ.
 */
export async function validRows(
  conn: DuckDBConnection,
  decoded: DeferredDecodedBatch,
  tag: { statusColumn: string; reasonColumn: string } | undefined,
): Promise<{ rows: string; tagged: Set<string> }> {
  if (!tag) return { rows: `SELECT * EXCLUDE (_ok) FROM ${decoded.rawTable} WHERE _ok`, tagged: new Set() };
  const explained = await decoded.rejected;
  const kept = await conn.runAndReadAll(
    `SELECT _p, _o FROM ${decoded.rawTable} WHERE _o IS NOT NULL AND NOT _ok`,
  );
  const inTable = new Set(kept.getRows().map(([p, o]) => `${p}/${o}`));
  const reasons = explained.filter((r) => inTable.has(`${r.partition}/${r.offset}`));
  const tagged = new Set(reasons.map((r) => `${r.partition}/${r.offset}`));
  const tags = `${decoded.rawTable}_tags`;
  await conn.run(`CREATE OR REPLACE TABLE ${tags} (_p INTEGER, _o BIGINT, reason VARCHAR)`);
  if (reasons.length > 0) {
    const values = reasons
      .map(
        (r) =>
          `(${r.partition}, ${r.offset}, ${quoteString(`${r.field ? `${r.field}: ` : ''}${r.message}`)})`,
      )
      .join(', ');
    await conn.run(`INSERT INTO ${tags} VALUES ${values}`);
  }
  const status = quoteIdent(tag.statusColumn);
  const reason = quoteIdent(tag.reasonColumn);
  return {
    rows: `SELECT r.* EXCLUDE (_ok), CASE WHEN r._ok THEN 'SUCCESS' ELSE 'FAILED' END AS ${status}, t.reason AS ${reason} FROM ${decoded.rawTable} r LEFT JOIN ${tags} t ON t._p = r._p AND t._o = r._o WHERE r._ok OR t._o IS NOT NULL`,
    tagged,
  };
}

/**
 * The windows' late records as dead letters: one per record, naming every window it is
 * late for (the DLQ holds each source offset once: its tail is its progress), with the
 * record's original bytes.
 */
export function lateRejects(late: StatefulResult['late'], fetched: readonly SourceBatch[]): RejectedRecord[] {
  const values = fetched.flatMap((b) => (b.values ? [b.values] : []));
  const byRecord = new Map<string, RejectedRecord>();
  for (const l of late) {
    const why =
      l.eventTime === null
        ? `no event time: the record fits no window of '${l.window}'`
        : `event time ${l.eventTime} is behind the watermark ${l.watermark} of window '${l.window}' (its windows were closed)`;
    const key = `${l.partition}/${l.offset}`;
    const seen = byRecord.get(key);
    if (seen) {
      seen.field += `,${l.window}`;
      seen.message += `; ${why}`;
      continue;
    }
    const { value, timestamp } = recordAt(values, l.partition, l.offset);
    byRecord.set(key, {
      partition: l.partition,
      offset: l.offset,
      timestamp,
      value,
      field: l.window,
      rule: 'late',
      message: why,
    });
  }
  return [...byRecord.values()];
}
