/**
 * Mirroring a model's table into PostgreSQL (`export: { postgres: gold.x, key: [...] }`):
 * the rows a run changed replace the table's rows in ONE transaction —
 *
 *   BEGIN; SET LOCAL TimeZone = 'UTC'; advisory lock on the table
 *   DELETE the partitions' rows (a partition run) | DELETE every row (a full rebuild)
 *   INSERT the rows of the Delta snapshot the run wrote (text arrays through unnest)
 *   COMMIT
 *
 * so readers see the old rows or the new ones, never a mix, and a re-run or a retry
 * (even after a COMMIT whose answer was lost) leaves the same rows. The table is created
 * when missing (columns typed from the model's, the key as primary key) and checked
 * when present (ensureTable). DELETE rather than TRUNCATE: readers are not blocked.
 */
import type { PgConnector, PgSession } from '../../connectors/postgres/client.ts';
import { postgresError } from '../../connectors/postgres/errors.ts';
import {
  displayName,
  ensureTable,
  type PgColumn,
  parseTableName,
  qualified,
} from '../../connectors/postgres/tables.ts';
import { postgresType, textExpr } from '../../connectors/postgres/types.ts';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import { quoteIdent } from '../../core/sql.ts';
import { openConnection } from '../../table/index.ts';
import { describeQuery } from '../../table/validate.ts';
import { createView, type PartitionSpec, type PinnedTable } from './inputs.ts';
import type { Model } from './project.ts';

export interface ExportResult {
  /** The PostgreSQL table, schema.name. */
  table: string;
  /** Rows inserted. */
  rows: number;
  /** Rows the transaction deleted (the old rows of what it replaced). */
  deleted: number;
  /** The Delta version exported. */
  version: number;
}

/** Rows per INSERT statement (all in the one transaction). */
const CHUNK_ROWS = 20_000;

const lockKey = (text: string) => `hashtextextended('${text.replace(/'/g, "''")}', 0)`;

/** Reads the rows to export as one text array per column, with their PostgreSQL types. */
async function readRows(
  pinned: PinnedTable,
  partition: PartitionSpec | undefined,
): Promise<{ columns: PgColumn[]; values: (string | null)[][] }> {
  const conn = await openConnection();
  try {
    await createView(conn, '__export', pinned, partition);
    const described = await describeQuery(conn, 'SELECT * FROM "__export"');
    const columns = described.map((c) => ({ name: c.name, type: postgresType(c.type) }));
    const exprs = described.map((c) => `${textExpr(c.name, c.type)} AS ${quoteIdent(c.name)}`);
    const reader = await conn.runAndReadAll(`SELECT ${exprs.join(', ')} FROM "__export"`);
    return { columns, values: reader.getColumns() as (string | null)[][] };
  } finally {
    conn.closeSync();
  }
}

/** Exports the pinned snapshot of a model's table (its partitions, or all of it). */
export async function exportModel(
  db: PgConnector,
  model: Model,
  pinned: PinnedTable,
  partition: PartitionSpec | undefined,
): Promise<ExportResult> {
  const spec = model.config.export!;
  const target = parseTableName(spec.postgres);
  const name = displayName(target);
  const { columns, values } = await readRows(pinned, partition);
  const fail = (message: string) =>
    new TributaryError('MODEL_FAILED', `model ${model.name}: export to ${name}: ${message}`, {
      model: model.name,
      table: name,
    });
  for (const k of spec.key) {
    if (!columns.some((c) => c.name === k)) {
      throw fail(`key column '${k}' is not a column of the model (${columns.map((c) => c.name).join(', ')})`);
    }
  }
  const partColumn = partition
    ? columns.find((c) => c.name.toLowerCase() === partition.column.toLowerCase())
    : undefined;
  if (partition && !partColumn)
    throw fail(`the model has no column '${partition.column}' to replace rows by`);
  const n = values[0]?.length ?? 0;
  const cols = columns.map((c) => quoteIdent(c.name)).join(', ');
  const insert =
    `INSERT INTO ${qualified(target)} (${cols}) SELECT ${columns.map((c, i) => `u.c${i}::${c.type}`).join(', ')} ` +
    `FROM unnest(${columns.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${columns.map((_, i) => `c${i}`).join(', ')})`;
  let session: PgSession;
  try {
    session = await db.connect();
  } catch (err) {
    throw postgresError(err, db.target, `exporting model ${model.name}`);
  }
  let broken = false;
  try {
    await ensureTable(session, target, columns, spec.key, `model ${model.name}`);
    await session.query('BEGIN');
    let deleted = 0;
    try {
      await session.query("SET LOCAL TimeZone = 'UTC'");
      await session.query(`SELECT pg_advisory_xact_lock(${lockKey(`tributary model export ${name}`)})`);
      const del = partColumn
        ? await session.query(
            `DELETE FROM ${qualified(target)} WHERE ${quoteIdent(partColumn.name)} IN (SELECT unnest($1::text[])::${partColumn.type})`,
            [partition!.values],
          )
        : await session.query(`DELETE FROM ${qualified(target)}`);
      deleted = del.rowCount ?? 0;
      for (let from = 0; from < n; from += CHUNK_ROWS) {
        await session.query(
          insert,
          values.map((col) => col.slice(from, from + CHUNK_ROWS)),
        );
      }
      await session.query('COMMIT');
    } catch (err) {
      await session.query('ROLLBACK').catch(() => {});
      throw err;
    }
    return { table: name, rows: n, deleted, version: pinned.snapshot.version };
  } catch (err) {
    broken = true;
    if (isTributaryError(err)) throw err;
    throw postgresError(err, db.target, `exporting model ${model.name} into ${name}`);
  } finally {
    session.release(broken);
  }
}
