/**
 * The contract's precise check over the records the fast path rejected.
 *
 * The check is one very large CASE expression (~18,700 characters for the orders
 * contract). Run as a fresh query per batch, DuckDB parses, binds and optimizes it every
 * time: measured ~25-35 ms of CPU for three records on a quiet machine, whatever the
 * number of records. So it is prepared once per connection and contract, over a temp
 * table that each batch fills with its rejected records and empties afterwards: the
 * table's definition never changes, so the plan stays valid, and each batch pays only for
 * loading a handful of records and evaluating the CASE over them.
 */
import { promises as fs } from 'node:fs';
import type { DuckDBConnection, DuckDBPreparedStatement } from '@duckdb/node-api';
import { quoteString } from '../../core/sql.ts';
import type { CompiledContract } from '../../quality/contract.ts';
import { scratchFile, writeScratch } from '../../stream/scratch.ts';

export interface Violation {
  field: string;
  rule: string;
  message: string;
}

export interface BadRecord {
  partition: number;
  offset: number;
  /** The record's bytes: JSON text (the fast path parsed it). */
  value: Uint8Array;
}

interface Prepared {
  contract: CompiledContract;
  table: string;
  check: DuckDBPreparedStatement;
  /** Checks on one connection run one after another: they share its temp table. */
  tail: Promise<unknown>;
}

const prepared = new WeakMap<DuckDBConnection, Prepared[]>();
let tables = 0;

async function preparedFor(conn: DuckDBConnection, contract: CompiledContract): Promise<Prepared> {
  let list = prepared.get(conn);
  if (!list) {
    list = [];
    prepared.set(conn, list);
  }
  const found = list.find((p) => p.contract === contract);
  if (found) return found;
  const table = `__stream_rejects_${++tables}`;
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${table} (p INTEGER, o BIGINT, v ${contract.preciseType})`);
  // The optimizer folds predicates using the table's statistics at prepare time, and the
  // plan keeps them: prepared over an empty table, `v.x IS NULL` became false for good
  // and a missing field went unexplained. So the table first holds rows that make every
  // field both NULL and non-NULL (a record that is NULL, one whose fields are all
  // absent, one whose fields are all present); deleting them later does not narrow the
  // statistics, and later inserts only widen them.
  const fields = contract.fieldNames.map((f) => `${quoteString(f)}: '0'::JSON`).join(', ');
  await conn.run(
    `INSERT INTO ${table} VALUES (0, -1, NULL), (0, -2, {${contract.fieldNames.map((f) => `${quoteString(f)}: NULL::JSON`).join(', ')}}), (0, -3, {${fields}})`,
  );
  const check = await conn.prepare(`SELECT p, o, ${contract.violation} AS why FROM ${table}`);
  await conn.run(`DELETE FROM ${table}`);
  const entry: Prepared = { contract, table, check, tail: Promise.resolve() };
  list.push(entry);
  return entry;
}

/**
 * Names the first rule each record breaks, keyed `partition/offset`; a record the
 * precise check finds valid (the fast path is slightly stricter, see contract.ts) has
 * no entry.
 */
export async function explainViolations(
  conn: DuckDBConnection,
  records: readonly BadRecord[],
  contract: CompiledContract,
): Promise<Map<string, Violation>> {
  const p = await preparedFor(conn, contract);
  const run = p.tail.then(() => check(conn, p, records));
  p.tail = run.catch(() => {});
  return run;
}

async function check(
  conn: DuckDBConnection,
  p: Prepared,
  records: readonly BadRecord[],
): Promise<Map<string, Violation>> {
  const lines = records.map(
    (r) =>
      // A raw line break in a value that passed the strict check is whitespace between tokens.
      `{"o":${r.offset},"p":${r.partition},"v":${Buffer.from(r.value)
        .toString('utf8')
        .replace(/[\r\n]/g, ' ')}}\n`,
  );
  let longest = 0;
  for (const l of lines) longest = Math.max(longest, Buffer.byteLength(l));
  const bound = Math.max(1 << 20, 2 * longest + 1024);
  const file = scratchFile('rejects', 'ndjson');
  await writeScratch(file, lines.join(''));
  try {
    await conn.run(
      `INSERT INTO ${p.table} SELECT p, o, v FROM read_json(${quoteString(file)}, format='newline_delimited', columns={'o': 'BIGINT', 'p': 'INTEGER', 'v': ${quoteString(p.contract.preciseType)}}, ignore_errors=true, maximum_object_size=${bound}) WHERE o IS NOT NULL`,
    );
    const rows = (await p.check.runAndReadAll()).getRowObjectsJson();
    return new Map(
      rows.filter((r) => r.why !== null).map((r) => [`${r.p}/${r.o}`, r.why as unknown as Violation]),
    );
  } finally {
    // Emptied even after a failure, so the next batch sees only its own records.
    await conn.run(`DELETE FROM ${p.table}`).catch(() => {});
    await fs.rm(file, { force: true });
  }
}
