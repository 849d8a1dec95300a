/**
 * The initial snapshot: the table's rows as of the slot's consistent point, read in a
 * transaction that imported the snapshot the slot exported (SET TRANSACTION SNAPSHOT),
 * so every change committed before the point is in the snapshot and every change after
 * it comes from the slot — nothing lost, nothing twice at the hand-over.
 *
 * The rows go to a file first (one JSON array of text values per line, synced, then
 * renamed into place) and are published from the file: a crash while reading leaves no
 * published row and the snapshot is simply taken again; a crash while publishing resumes
 * from the file, at the same positions.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, renameSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { syncDirSync, syncFileSync } from '../../../../core/fsync.ts';
import { quoteIdent, quoteString } from '../../../../core/sql.ts';
import { postgresError } from '../../errors.ts';
import { type PgTableName, qualified } from '../../tables.ts';
import type { ChangeColumn, RowImage } from '../change.ts';
import { SESSION_OPTIONS } from './replication.ts';
import { SNAPSHOT_FILE } from './state.ts';

const FETCH_ROWS = 10_000;
const asText = (v: string) => v;

/** A normal session printing values the way the walsender does (see SESSION_OPTIONS), with values left as text. */
export async function textSession(url: string, target: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    application_name: applicationName,
    options: SESSION_OPTIONS,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    types: { getTypeParser: () => asText } as unknown as pg.CustomTypesConfig,
  });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    client.end().catch(() => {});
    throw postgresError(err, target, 'connecting');
  }
  return client;
}

export interface StagedSnapshot {
  columns: ChangeColumn[];
  rows: number;
}

/**
 * Reads `table` as of the exported snapshot `snapshotName` into `dir/snapshot.jsonl`.
 * The replication connection that exported the snapshot must stay open until this has
 * imported it (its first statements).
 */
export async function stageSnapshot(
  url: string,
  target: string,
  table: PgTableName,
  snapshotName: string,
  dir: string,
  applicationName: string,
): Promise<StagedSnapshot> {
  const client = await textSession(url, target, applicationName);
  const path = join(dir, SNAPSHOT_FILE);
  const tmp = `${path}.tmp`;
  const out = createWriteStream(tmp);
  let rows = 0;
  let columns: ChangeColumn[];
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT ${quoteString(snapshotName)}`);
    const attrs = await client.query<{ name: string; oid: string }>(
      `SELECT attname AS name, atttypid AS oid FROM pg_attribute
       WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
       ORDER BY attnum`,
      [qualified(table)],
    );
    // The columns pgoutput sends: generated columns are not replicated (PostgreSQL 12-17).
    columns = attrs.rows.map((r) => ({ name: r.name, typeOid: Number(r.oid) }));
    const list = columns.map((c) => quoteIdent(c.name)).join(', ');
    await client.query(
      `DECLARE tributary_snapshot NO SCROLL CURSOR FOR SELECT ${list} FROM ${qualified(table)}`,
    );
    for (;;) {
      const res = await client.query({
        text: `FETCH FORWARD ${FETCH_ROWS} FROM tributary_snapshot`,
        rowMode: 'array',
      });
      if (res.rows.length === 0) break;
      let text = '';
      for (const row of res.rows as (string | null)[][]) text += `${JSON.stringify(row)}\n`;
      rows += res.rows.length;
      if (!out.write(text)) await once(out, 'drain');
    }
    await client.query('COMMIT');
  } catch (err) {
    out.destroy();
    throw postgresError(err, target, `reading the snapshot of ${table.schema}.${table.name}`);
  } finally {
    await client.end().catch(() => {});
  }
  out.end();
  await once(out, 'finish');
  syncFileSync(tmp);
  renameSync(tmp, path);
  syncDirSync(dir);
  return { columns, rows };
}

/** The staged rows from row `from` on, in chunks of at most `chunk` rows. */
export async function* readStaged(
  dir: string,
  from: number,
  chunk: number,
): AsyncGenerator<{ start: number; rows: RowImage[] }> {
  const lines = createInterface({ input: createReadStream(join(dir, SNAPSHOT_FILE)), crlfDelay: Infinity });
  let index = 0;
  let rows: RowImage[] = [];
  let start = from;
  for await (const line of lines) {
    if (line === '') continue;
    if (index++ < from) continue;
    rows.push(JSON.parse(line) as RowImage);
    if (rows.length >= chunk) {
      yield { start, rows };
      start += rows.length;
      rows = [];
    }
  }
  if (rows.length > 0) yield { start, rows };
}
