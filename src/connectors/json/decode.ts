/**
 * Decode and validate a micro-batch in DuckDB: the fetched values become one NDJSON file
 * (batch-file.ts), DuckDB's JSON reader parses it into the contract's typed columns, and
 * vectorized predicates keep the valid records. The few rejected records are explained
 * one by one: the contract's precise check over just those records, or the JSON parser's
 * own message for a record that is not JSON at all.
 */
import { isUtf8 } from 'node:buffer';
import { promises as fs } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteString } from '../../core/sql.ts';
import { recordAt, type ValueBatch } from '../../log/log.ts';
import type { CompiledContract } from '../../quality/contract.ts';
import { scratchFile, writeScratch } from '../../stream/scratch.ts';
import type { DeferredDecodedBatch, RejectedRecord } from '../../stream/types.ts';
import { type BatchFile, buildBatchFile } from './batch-file.ts';
import { explainViolations } from './explain.ts';

export type { DeferredDecodedBatch };

export interface DecodedBatch {
  validTable: string;
  valid: number;
  rejected: RejectedRecord[];
}

const VALID_TABLE = '__stream_valid';

/**
 * `longest`: the longest line in the file. The reader's object size bound must cover it
 * (a longer line would read as broken JSON), but the reader also sizes its buffers by
 * it: a bound far above the records (it was a fixed 256 MiB) leaves the whole batch in
 * one buffer, parsed by one thread; a bound near the records lets both threads parse.
 */
function readJson(file: string, vType: string, longest: number): string {
  const bound = Math.max(1 << 20, 2 * longest + 1024);
  return `read_json(${quoteString(file)}, format='newline_delimited', columns={'o': 'BIGINT', 'p': 'INTEGER', 't': 'DOUBLE', 'v': ${quoteString(vType)}}, ignore_errors=true, maximum_object_size=${bound})`;
}

export async function decodeBatch(
  conn: DuckDBConnection,
  batches: readonly ValueBatch[],
  contract: CompiledContract,
): Promise<DecodedBatch> {
  const d = await decodeBatchDeferred(conn, batches, contract, conn);
  return { validTable: d.validTable, valid: d.valid, rejected: await d.rejected };
}

/**
 * decodeBatch, with the contract's precise check (which explains the rejected records)
 * run on `explainConn` and not awaited. That check is one very large CASE over a handful
 * of records (prepared once, explain.ts), mostly on one thread. Run alongside the
 * sinks' preparation on the batch connection, it costs little wall time. Reads of the batch's temp tables are done before this returns, so
 * `explainConn` (another connection: it cannot see them) needs none.
 */
export async function decodeBatchDeferred(
  conn: DuckDBConnection,
  batches: readonly ValueBatch[],
  contract: CompiledContract,
  explainConn: DuckDBConnection,
  /**
   * The table the decoded rows go to: by default a temp table of `conn`; a plain
   * (non-temp) name makes it visible to the instance's other connections, so a batch can
   * be decoded on one connection while the sinks work on another.
   */
  raw: { table: string; shared: boolean } = { table: '__stream_raw', shared: false },
): Promise<DeferredDecodedBatch> {
  const rawTable = raw.table;
  const file = scratchFile('batch', 'ndjson');
  const built = await buildBatchFile(batches, contract.strict);
  const { bytes, records, longest } = built;
  await writeScratch(file, bytes);
  try {
    // One pass: typed columns for every row (TRY_CAST: invalid rows must not fail the
    // statement) plus the verdict; sinks read the rows where `_ok`.
    await conn.run(
      `CREATE OR REPLACE ${raw.shared ? '' : 'TEMP '}TABLE ${rawTable} AS SELECT o AS _o, p AS _p, t::BIGINT AS _t, (${contract.validRow}) AS _ok, ${contract.typedColumns.join(', ')} FROM ${contract.from(readJson(file, contract.readType, longest))}`,
    );
  } finally {
    await fs.rm(file, { force: true });
  }
  // A shared table is read by other connections, which make their own view.
  if (!raw.shared) {
    await conn.run(
      `CREATE OR REPLACE TEMP VIEW ${VALID_TABLE} AS SELECT * EXCLUDE (_ok) FROM ${rawTable} WHERE _ok`,
    );
  }
  const counts = (
    await conn.runAndReadAll(
      `SELECT count(*) FILTER (WHERE _ok) AS valid, count(*) FILTER (WHERE _o IS NULL) AS broken, count(*) FILTER (WHERE _o IS NOT NULL AND NOT _ok) AS bad FROM ${rawTable}`,
    )
  ).getRowObjects()[0];
  const valid = Number(counts.valid);
  const broken = Number(counts.broken);
  const bad = Number(counts.bad);
  if (valid + broken + bad !== records) {
    throw new Error(`decoded ${valid + broken + bad} of ${records} records`);
  }
  const notJson = broken > 0 ? await explainBroken(conn, batches, built, rawTable) : [];
  const found = bad > 0 ? await findBad(conn, batches, rawTable) : [];
  const explain = async () => {
    const rejected = [
      ...built.refused,
      ...notJson,
      ...(found.length > 0 ? await explainBad(explainConn, found, contract) : []),
    ];
    rejected.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    return rejected;
  };
  const rejected = explain();
  // Awaited by the caller later; a failure must not count as unhandled meanwhile.
  rejected.catch(() => {});
  return {
    validTable: VALID_TABLE,
    rawTable,
    valid,
    rejectedCount: built.refused.length + broken + bad,
    rejected,
  };
}

/**
 * Records the JSON reader could not read although the strict check passed them (their
 * line came back all NULL; not expected, but DuckDB has limits of its own). The decoded
 * table keeps the file's line order, so a NULL row's rowid is its line, and the file's
 * line map gives the record. That order is checked on the rows next to each broken line
 * (they must be the records of the lines next to it); if it does not hold, the broken
 * records are found as the offsets missing from the table instead (an anti-join over
 * every offset the file holds).
 */
async function explainBroken(
  conn: DuckDBConnection,
  batches: readonly ValueBatch[],
  file: BatchFile,
  rawTable: string,
): Promise<RejectedRecord[]> {
  const lines = (await conn.runAndReadAll(`SELECT rowid FROM ${rawTable} WHERE _o IS NULL ORDER BY 1`))
    .getRows()
    .map(([r]) => Number(r));
  const total = file.records;
  const at = (line: number) => {
    const batch = batches[file.lineBatch[line]];
    return { batch, i: file.lineRecord[line] };
  };
  const broken = new Set(lines);
  const neighbours = new Set<number>();
  for (const l of lines) {
    if (l > 0 && !broken.has(l - 1)) neighbours.add(l - 1);
    if (l + 1 < total && !broken.has(l + 1)) neighbours.add(l + 1);
  }
  let inOrder = lines.every((l) => l < total);
  if (inOrder && neighbours.size > 0) {
    const rows = (
      await conn.runAndReadAll(
        `SELECT rowid, _p, _o FROM ${rawTable} WHERE rowid IN (${[...neighbours].join(', ')})`,
      )
    ).getRows();
    inOrder =
      rows.length === neighbours.size &&
      rows.every(([r, p, o]) => {
        const { batch, i } = at(Number(r));
        return Number(p) === batch.partition && Number(o) === batch.offsets[i];
      });
  }
  const refused = new Set(file.refused.map((r) => `${r.partition}/${r.offset}`));
  const positions = inOrder
    ? lines.map((l) => {
        const { batch, i } = at(l);
        return [batch.partition, batch.offsets[i]] as const;
      })
    : (await missingOffsets(conn, batches, rawTable)).filter(([p, o]) => !refused.has(`${p}/${o}`));
  return positions.map(([partition, offset]) => {
    const { value, timestamp } = recordAt(batches, partition, offset);
    return { partition, offset, timestamp, value, field: '', rule: 'json', message: notJsonReason(value) };
  });
}

/** The offsets of the batch missing from the decoded table, by partition and offset. */
async function missingOffsets(
  conn: DuckDBConnection,
  batches: readonly ValueBatch[],
  rawTable: string,
): Promise<Array<readonly [number, number]>> {
  const expected: string[] = [];
  for (const b of batches) {
    if (b.count === 0) continue;
    const first = b.offsets[0];
    const last = b.offsets[b.count - 1];
    if (last - first + 1 === b.count) {
      expected.push(`SELECT ${b.partition} AS p, unnest(range(${first}, ${last + 1})) AS o`);
    } else {
      expected.push(
        `SELECT ${b.partition} AS p, unnest([${Array.from(b.offsets).join(',')}]::BIGINT[]) AS o`,
      );
    }
  }
  const rows = (
    await conn.runAndReadAll(
      `SELECT e.p, e.o FROM (${expected.join(' UNION ALL ')}) e ANTI JOIN ${rawTable} r ON r._p = e.p AND r._o = e.o ORDER BY 1, 2`,
    )
  ).getRows();
  return rows.map(([p, o]) => [Number(p), Number(o)] as const);
}

function notJsonReason(value: Uint8Array | null): string {
  if (value === null || value.length === 0) return 'empty record (no value)';
  if (!isUtf8(value)) return 'not valid UTF-8 text';
  try {
    JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8'));
  } catch (err) {
    return `not valid JSON: ${(err as Error).message}`;
  }
  return 'well-formed JSON that the JSON reader could not read (DuckDB refused the record)';
}

interface FoundRecord {
  partition: number;
  offset: number;
  timestamp: number;
  value: Uint8Array | null;
}

/** Records that are JSON but break the contract, with their original bytes. */
async function findBad(
  conn: DuckDBConnection,
  batches: readonly ValueBatch[],
  rawTable: string,
): Promise<FoundRecord[]> {
  const rows = (
    await conn.runAndReadAll(`SELECT _p, _o FROM ${rawTable} WHERE _o IS NOT NULL AND NOT _ok`)
  ).getRows();
  return rows.map(([p, o]) => {
    const partition = Number(p);
    const offset = Number(o);
    return { partition, offset, ...recordAt(batches, partition, offset) };
  });
}

/** The precise check names the rule each record breaks (explain.ts; it reads only the records' bytes). */
async function explainBad(
  conn: DuckDBConnection,
  found: readonly FoundRecord[],
  contract: CompiledContract,
): Promise<RejectedRecord[]> {
  const reasons = await explainViolations(
    conn,
    found.map((r) => ({ partition: r.partition, offset: r.offset, value: r.value! })),
    contract,
  );
  return found.map((r) => {
    const why = reasons.get(`${r.partition}/${r.offset}`) ?? {
      field: '',
      rule: 'contract',
      message: 'rejected by the contract check',
    };
    return { partition: r.partition, offset: r.offset, timestamp: r.timestamp, value: r.value, ...why };
  });
}
