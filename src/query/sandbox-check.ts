/**
 * The sandbox's decision on a SQL text, taken before anything is read:
 *
 * 1. Lake tables named the way `tributary query` names them (references.ts: `orders`,
 *    `gold.daily`, with `VERSION AS OF` / `TIMESTAMP AS OF` / `AT (...)`) become view
 *    names `__lake_<n>`, which the run mounts over the table's snapshot. References by
 *    path or URL are left as written, so the parse below sees and refuses them.
 * 2. DuckDB parses the result (`json_serialize_sql` on an instance of its own with no
 *    file access and its configuration locked): one statement, a SELECT.
 * 3. sandbox-tree.ts walks the parse tree: every table a lake view or a WITH name in
 *    scope, every function allowed.
 *
 * Only step 3 admits anything; step 1 merely names. A text the reference finder misreads
 * still reaches the parse as DuckDB would run it, and is refused there.
 */
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { isTributaryError, TributaryError } from '../core/errors.ts';
import { quoteIdent, quoteString } from '../core/sql.ts';
import { isLocation, locateTable, type TableLocation } from '../table/locate.ts';
import { type AsOf, findTableRefs, SqlReferenceError, type TableRef } from './references.ts';
import { checkStatement, SandboxRefusal } from './sandbox-tree.ts';
import { tokenize } from './sql-tokens.ts';

/** A lake table a checked query reads, and the view name it has in the checked SQL. */
export interface SandboxTable {
  view: string;
  name: string;
  asOf?: AsOf;
}

export interface CheckedQuery {
  /** The SQL to run once each table's view is mounted. */
  sql: string;
  tables: SandboxTable[];
}

/** Longer texts are refused before they are parsed. */
export const MAX_SQL_LENGTH = 100_000;

export function refused(reason: string, sql: string, cause?: unknown): TributaryError {
  return new TributaryError('QUERY_REFUSED', `query refused: ${reason}`, { sql, reason }, cause);
}

let parser: Promise<DuckDBInstance> | undefined;

/** An instance that only parses: no file access, no extensions, settings locked. */
function parserInstance(): Promise<DuckDBInstance> {
  parser ??= DuckDBInstance.create(':memory:', {
    threads: '1',
    temp_directory: '',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    enable_external_access: 'false',
    lock_configuration: 'true',
  });
  return parser;
}

/** A lake table name: what locateTable takes for a name under `<dataDir>/tables`, not a location. */
function isLakeName(name: string): boolean {
  return !isLocation(name) && !name.split('.').some((p) => p.trim() === '') && !/[\u0000-\u001f]/.test(name);
}

/**
 * Replaces each lake-table reference by its view; other references keep their text
 * without time travel. Admits nothing by itself (checkSandboxedQuery decides).
 */
export function nameTables(sql: string): CheckedQuery {
  let refs: TableRef[];
  try {
    refs = findTableRefs(sql);
  } catch (err) {
    if (err instanceof SyntaxError || err instanceof SqlReferenceError) {
      throw new TributaryError('QUERY_INVALID', `invalid SQL: ${err.message}`, { sql }, err);
    }
    throw err;
  }
  const tables: SandboxTable[] = [];
  const views = new Map<string, string>();
  let out = '';
  let pos = 0;
  for (const ref of refs) {
    let replacement: string;
    if (ref.kind === 'name' && isLakeName(ref.target)) {
      const key = JSON.stringify([ref.target.toLowerCase(), ref.asOf ?? null]);
      let view = views.get(key);
      if (view === undefined) {
        view = `__lake_${views.size}`;
        views.set(key, view);
        tables.push({ view, name: ref.target, ...(ref.asOf ? { asOf: ref.asOf } : {}) });
      }
      const alias = ref.implicitAlias === undefined ? '' : ` AS ${quoteIdent(ref.implicitAlias)}`;
      replacement = `${quoteIdent(view)}${alias}`;
    } else if (ref.kind === 'name') {
      replacement = quoteIdent(ref.target);
    } else {
      const literal = quoteString(ref.target);
      replacement = sql[ref.start] === "'" ? literal : `delta_scan(${literal})`;
    }
    out += `${sql.slice(pos, ref.start)}${replacement}`;
    pos = ref.end;
  }
  return { sql: out + sql.slice(pos), tables };
}

const STATEMENT_WORDS = new Set(
  (
    'ALTER ANALYZE ATTACH BEGIN CALL CHECKPOINT COMMIT COPY CREATE DEALLOCATE DELETE DETACH DROP ' +
    'EXECUTE EXPLAIN EXPORT IMPORT INSERT INSTALL LOAD MERGE PIVOT PRAGMA PREPARE RESET ROLLBACK SET ' +
    'TRUNCATE UNPIVOT UPDATE USE VACUUM'
  ).split(' '),
);

/** The statement's keyword, for the message only (the parser already said it is no SELECT). */
function statementWord(sql: string): string | undefined {
  try {
    for (const t of tokenize(sql)) {
      const word = t.kind === 'word' ? t.value.toUpperCase() : undefined;
      if (word !== undefined && STATEMENT_WORDS.has(word)) return word;
    }
  } catch {
    // unterminated quote: no word to name
  }
  return undefined;
}

async function parse(conn: DuckDBConnection, sql: string, original: string): Promise<unknown[]> {
  let count: number;
  try {
    count = (await conn.extractStatements(sql)).count;
  } catch (err) {
    const message = (err as Error).message;
    // IMPORT DATABASE is expanded while it is parsed, by reading the directory's
    // schema.sql: this instance may read nothing, so it fails here.
    if (message.includes('Permission Error')) {
      const word = statementWord(sql) ?? 'this statement';
      throw refused(`${word} is not allowed: it reads files`, original, err);
    }
    throw new TributaryError('QUERY_INVALID', `invalid SQL: ${message}`, { sql: original }, err);
  }
  if (count === 0) {
    throw new TributaryError('QUERY_INVALID', 'the SQL text holds no statement; give a query like SELECT 1', {
      sql: original,
    });
  }
  if (count > 1) throw refused(`only one statement is allowed, and this text holds ${count}`, original);
  const reader = await conn.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [sql]);
  const parsed = JSON.parse(String(reader.getRows()[0][0])) as {
    error: boolean;
    error_type?: string;
    error_message?: string;
    statements?: unknown[];
  };
  if (!parsed.error) return parsed.statements ?? [];
  if (parsed.error_type === 'not implemented') {
    const word = statementWord(sql);
    throw refused(
      word === undefined
        ? 'only a SELECT query is allowed'
        : `${word} is not allowed: only a SELECT query over the lake's tables is`,
      original,
    );
  }
  throw new TributaryError('QUERY_INVALID', `invalid SQL: ${parsed.error_message}`, { sql: original });
}

/**
 * Where the lake table `name` is; refused when the lake has no such table (the message
 * lists the ones it has).
 */
export async function locateLakeTable(name: string, dataDir: string, sql: string): Promise<TableLocation> {
  try {
    return await locateTable(name, dataDir);
  } catch (err) {
    if (isTributaryError(err, 'TABLE_NOT_FOUND') || isTributaryError(err, 'TABLE_INVALID_ARGUMENT')) {
      const tables = (err.details.tables as string[] | undefined) ?? [];
      const known = tables.length > 0 ? `; the lake's tables: ${tables.join(', ')}` : '';
      throw refused(`table '${name}' is not a lake table${known}`, sql, err);
    }
    throw err;
  }
}

/**
 * Decides whether `sql` may run in the sandbox, reading nothing but (given `dataDir`)
 * the lake's table list: resolves with the SQL to run and the lake tables it reads, or
 * rejects with QUERY_REFUSED naming the rule broken, or QUERY_INVALID when the text does
 * not parse. Without `dataDir`, whether each named table exists is left to the run.
 */
export async function checkSandboxedQuery(
  sql: string,
  opts: { dataDir?: string } = {},
): Promise<CheckedQuery> {
  if (sql.length > MAX_SQL_LENGTH) {
    throw refused(`the text is ${sql.length} characters long; the limit is ${MAX_SQL_LENGTH}`, sql);
  }
  if (sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, '').replace(/[\s;]/g, '') === '') {
    // DuckDB's extractor fails without a message on comments alone.
    throw new TributaryError('QUERY_INVALID', 'the SQL text holds no statement; give a query like SELECT 1', {
      sql,
    });
  }
  const named = nameTables(sql);
  const conn = await (await parserInstance()).connect();
  try {
    const [statement] = await parse(conn, named.sql, sql);
    try {
      checkStatement(statement as Record<string, unknown>, {
        views: new Set(named.tables.map((t) => t.view)),
      });
    } catch (err) {
      if (err instanceof SandboxRefusal) throw refused(err.message, sql, err);
      throw err;
    }
  } finally {
    conn.closeSync();
  }
  if (opts.dataDir !== undefined) {
    for (const t of named.tables) await locateLakeTable(t.name, opts.dataDir, sql);
  }
  return named;
}
