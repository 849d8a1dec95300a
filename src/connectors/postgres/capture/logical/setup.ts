/**
 * What a logical capture checks before it touches a slot, each failure a clear error
 * saying what to do: a PostgreSQL server (not the embedded PGlite, which cannot decode
 * its WAL), wal_level = logical, the table there with a key and REPLICA IDENTITY FULL, a
 * role allowed to replicate and to read the table, and the publication (created for the
 * table when it is missing and the role may create it).
 */
import { createHash } from 'node:crypto';
import { TributaryError } from '../../../../core/errors.ts';
import { quoteIdent } from '../../../../core/sql.ts';
import type { PgSession } from '../../client.ts';
import { postgresError } from '../../errors.ts';
import { displayName, type PgTableName, qualified } from '../../tables.ts';
import { walLevelError } from './replication.ts';

/** Slot and publication names: PostgreSQL allows lower-case letters, digits and underscores, at most 63. */
const NAME = /^[a-z0-9_]{1,63}$/;

/**
 * The default slot or publication name for capture `name`: `tributary_<name>` reduced to
 * what a slot name may hold; when that changed or shortened the name, a hash of it is
 * appended so two captures never share a slot by accident.
 */
export function defaultName(captureName: string): string {
  const reduced = captureName.toLowerCase().replace(/[^a-z0-9_]+/g, '_');
  const base = `tributary_${reduced}`;
  if (reduced === captureName && base.length <= 63) return base;
  const hash = createHash('sha1').update(captureName).digest('hex').slice(0, 8);
  return `${base.slice(0, 54)}_${hash}`;
}

export function checkName(kind: 'slot' | 'publication', name: string): string {
  if (!NAME.test(name)) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `'${name}' is not a valid replication ${kind} name: use 1 to 63 lower-case letters, digits and underscores`,
    );
  }
  return name;
}

export interface TableInfo {
  /** The table's OID (pg_class.oid). */
  oid: number;
  /** Key columns (the option, or the primary key). */
  key: string[];
  /** The role the capture logs in as. */
  role: string;
}

const q = async <R>(s: PgSession, target: string, what: string, text: string, values?: unknown[]) => {
  try {
    return (await s.query<R>(text, values)).rows;
  } catch (err) {
    throw postgresError(err, target, what);
  }
};

export async function checkServer(
  session: PgSession,
  target: string,
  pglite: boolean | undefined,
): Promise<void> {
  if (pglite) {
    throw new TributaryError(
      'CAPTURE_LOGICAL_UNSUPPORTED',
      `${target} is the embedded PostgreSQL (PGlite), which cannot decode its WAL: logical replication needs a PostgreSQL server. Capture from the embedded database with polling (capture mode 'polling'), or point the capture at a PostgreSQL server.`,
      { target },
    );
  }
  const [{ wal_level }] = await q<{ wal_level: string }>(
    session,
    target,
    'reading wal_level',
    'SHOW wal_level',
  );
  if (wal_level !== 'logical') throw walLevelError(target);
}

export async function checkTable(
  session: PgSession,
  target: string,
  table: PgTableName,
  key: readonly string[] | undefined,
): Promise<TableInfo> {
  const name = displayName(table);
  const [rel] = await q<{ oid: string | null; role: string; replicate: boolean; ident: string | null }>(
    session,
    target,
    `looking up ${name}`,
    `SELECT to_regclass($1)::oid AS oid, current_user AS role,
       (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS replicate,
       (SELECT relreplident FROM pg_class WHERE oid = to_regclass($1)) AS ident`,
    [qualified(table)],
  );
  if (rel.oid === null) {
    throw new TributaryError(
      'CAPTURE_TABLE_INVALID',
      `there is no table ${name} in ${target}: check the table name (schema.table) and the database at the end of the connection URL`,
      { target, table: name },
    );
  }
  const [priv] = await q<{ ok: boolean }>(
    session,
    target,
    `checking privileges on ${name}`,
    `SELECT has_table_privilege($1, 'SELECT') AS ok`,
    [qualified(table)],
  );
  if (!priv.ok) {
    throw new TributaryError(
      'CAPTURE_PERMISSION_DENIED',
      `the role '${rel.role}' may not read ${name} on ${target}: ask its owner to run GRANT SELECT ON ${qualified(table)} TO ${quoteIdent(rel.role)}`,
      { target, table: name },
    );
  }
  if (!rel.replicate) {
    throw new TributaryError(
      'CAPTURE_PERMISSION_DENIED',
      `the role '${rel.role}' on ${target} may not use replication: logical replication needs a role with the REPLICATION attribute. Ask an administrator to run ALTER ROLE ${quoteIdent(rel.role)} REPLICATION (or connect as such a role), or capture with polling instead.`,
      { target, role: rel.role },
    );
  }
  const columns = await q<{ name: string }>(
    session,
    target,
    `reading the columns of ${name}`,
    `SELECT attname AS name FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped`,
    [rel.oid],
  );
  let keyColumns: string[];
  if (key !== undefined && key.length > 0) {
    const names = new Set(columns.map((c) => c.name));
    const missing = key.filter((k) => !names.has(k));
    if (missing.length > 0) {
      throw new TributaryError(
        'CAPTURE_TABLE_INVALID',
        `the key column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} not in ${name} (its columns: ${[...names].join(', ')})`,
        { target, table: name },
      );
    }
    keyColumns = [...key];
  } else {
    const pk = await q<{ name: string }>(
      session,
      target,
      `reading the primary key of ${name}`,
      `SELECT a.attname AS name FROM pg_index i
       JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
       WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY k.n`,
      [rel.oid],
    );
    if (pk.length === 0) {
      throw new TributaryError(
        'CAPTURE_TABLE_INVALID',
        `${name} has no primary key: give the capture its key columns (key: [...]) — the columns that identify a row, whose changes are kept in order`,
        { target, table: name },
      );
    }
    keyColumns = pk.map((r) => r.name);
  }
  if (rel.ident !== 'f') {
    throw new TributaryError(
      'CAPTURE_TABLE_INVALID',
      `${name} does not have REPLICA IDENTITY FULL, which logical capture needs: without it an UPDATE that leaves a large (TOASTed) value unchanged does not carry that value, and an UPDATE or DELETE carries no before image. Run ALTER TABLE ${qualified(table)} REPLICA IDENTITY FULL (as the table's owner), then start the capture again.`,
      { target, table: name },
    );
  }
  return { oid: Number(rel.oid), key: keyColumns, role: rel.role };
}

/**
 * The publication `publication` for `table`: created when it does not exist (FOR TABLE,
 * inserts, updates and deletes), checked when it does (it publishes the table and those
 * operations). Returns whether it was created.
 */
export async function ensurePublication(
  session: PgSession,
  target: string,
  table: PgTableName,
  publication: string,
  role: string,
): Promise<boolean> {
  const name = displayName(table);
  const [pub] = await q<{ ins: boolean; upd: boolean; del: boolean; all: boolean }>(
    session,
    target,
    `looking up publication ${publication}`,
    `SELECT pubinsert AS ins, pubupdate AS upd, pubdelete AS del, puballtables AS all
     FROM pg_publication WHERE pubname = $1`,
    [publication],
  );
  const statement = `CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${qualified(table)} WITH (publish = 'insert, update, delete')`;
  if (pub === undefined) {
    try {
      await session.query(statement);
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === '42501') {
        throw new TributaryError(
          'CAPTURE_PERMISSION_DENIED',
          `the publication '${publication}' does not exist on ${target} and the role '${role}' may not create it (${(err as Error).message}): ask the owner of ${name} (or a superuser) to run ${statement}; or name an existing publication of the table`,
          { target, publication },
          err,
        );
      }
      if (code === '42710') return false; // created meanwhile by another process
      throw postgresError(err, target, `creating publication ${publication}`);
    }
  }
  if (!pub.all) {
    const [has] = await q<{ n: string }>(
      session,
      target,
      `checking publication ${publication}`,
      `SELECT count(*) AS n FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3`,
      [publication, table.schema, table.name],
    );
    if (Number(has.n) === 0) {
      throw new TributaryError(
        'CAPTURE_PUBLICATION_INVALID',
        `the publication '${publication}' on ${target} does not publish ${name}: run ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${qualified(table)}, or name another publication`,
        { target, publication },
      );
    }
  }
  const lacking = [!pub.ins && 'insert', !pub.upd && 'update', !pub.del && 'delete'].filter(Boolean);
  if (lacking.length > 0) {
    throw new TributaryError(
      'CAPTURE_PUBLICATION_INVALID',
      `the publication '${publication}' on ${target} does not publish ${lacking.join(', ')}: run ALTER PUBLICATION ${quoteIdent(publication)} SET (publish = 'insert, update, delete'), or name another publication`,
      { target, publication },
    );
  }
  return false;
}

export interface SlotInfo {
  plugin: string | null;
  database: string | null;
  temporary: boolean;
  activePid: number | null;
  walStatus: string | null;
  confirmedFlush: string | null;
}

export async function slotInfo(
  session: PgSession,
  target: string,
  slot: string,
): Promise<SlotInfo | undefined> {
  const [row] = await q<{
    plugin: string | null;
    database: string | null;
    temporary: boolean;
    active_pid: number | null;
    wal_status: string | null;
    confirmed_flush_lsn: string | null;
  }>(
    session,
    target,
    `looking up replication slot ${slot}`,
    `SELECT plugin, database, temporary, active_pid, wal_status, confirmed_flush_lsn::text
     FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  if (row === undefined) return undefined;
  return {
    plugin: row.plugin,
    database: row.database,
    temporary: row.temporary,
    activePid: row.active_pid,
    walStatus: row.wal_status,
    confirmedFlush: row.confirmed_flush_lsn,
  };
}

/** A slot of that name that is not a pgoutput slot of this database: someone else's. */
export function checkSlotIsOurs(info: SlotInfo, slot: string, target: string): void {
  const database = target.slice(target.indexOf('/') + 1);
  if (info.plugin !== 'pgoutput' || info.database !== database || info.temporary) {
    throw new TributaryError(
      'CAPTURE_SLOT_IN_USE',
      `a replication slot named '${slot}' already exists on ${target} for something else (plugin ${info.plugin ?? 'none: a physical slot'}, database ${info.database ?? '-'}${info.temporary ? ', temporary' : ''}): give this capture another slot name`,
      { target, slot },
    );
  }
}
