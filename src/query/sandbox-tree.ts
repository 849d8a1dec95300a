/**
 * The sandbox's rules, applied to DuckDB's own parse of a statement (the JSON of
 * `json_serialize_sql`), never to its text: comments, quoting, case and spacing are the
 * parser's business, and what reaches this walk is what DuckDB would run.
 *
 * Everything not named here is refused:
 * - query nodes: SELECT, set operations (UNION, EXCEPT, INTERSECT), recursive CTEs;
 * - table references: lake tables (the view names the caller mounts), names a WITH clause
 *   defines where DuckDB would bind them to it, subqueries, joins, VALUES, PIVOT/UNPIVOT,
 *   DESCRIBE/SUMMARIZE of a query, and the table functions of ALLOWED_TABLE_FUNCTIONS;
 * - expressions of the ordinary kinds (columns, constants, operators, CASE, casts,
 *   subqueries, lambdas, windows) and calls of ALLOWED_FUNCTIONS, unqualified.
 *
 * A WITH name is in scope the way DuckDB's binder sees it: in the query that defines it,
 * its subqueries, and the CTEs after it; in its own body only when it is recursive (the
 * recursive part). Outside that scope the same name would be looked up in DuckDB's
 * catalog (`WITH a AS (FROM duckdb_databases), duckdb_databases AS (...)` reads the
 * catalog view), so it is refused there.
 */
import { ALLOWED_FUNCTIONS, ALLOWED_TABLE_FUNCTIONS, asciiLower } from './sandbox-functions.ts';

/** Why a statement is refused (the caller wraps it in QUERY_REFUSED). */
export class SandboxRefusal extends Error {}

type Json = Record<string, unknown>;

const QUERY_NODES = new Set(['SELECT_NODE', 'SET_OPERATION_NODE', 'RECURSIVE_CTE_NODE']);

/** TableReferenceType values the parser produces for a query; CTE, COLUMN_DATA, DELIM_GET, BOUND_* it does not. */
const TABLE_REFS = new Set([
  'BASE_TABLE',
  'SUBQUERY',
  'JOIN',
  'TABLE_FUNCTION',
  'EXPRESSION_LIST',
  'EMPTY',
  'PIVOT',
  'SHOW_REF',
]);
const OTHER_TABLE_REFS = new Set(['CTE', 'COLUMN_DATA', 'DELIM_GET', 'BOUND_TABLE_REF', 'INVALID']);

/** ExpressionClass values allowed in a query (PARAMETER, DEFAULT and the BOUND_* classes are not). */
const EXPRESSIONS = new Set([
  'BETWEEN',
  'CASE',
  'CAST',
  'COLLATE',
  'COLUMN_REF',
  'COMPARISON',
  'CONJUNCTION',
  'CONSTANT',
  'FUNCTION',
  'LAMBDA',
  'LAMBDA_REF',
  'OPERATOR',
  'POSITIONAL_REFERENCE',
  'STAR',
  'SUBQUERY',
  'WINDOW',
]);

/** Where built-in functions live; a call qualified otherwise is refused. */
const BUILTIN_SCHEMAS = new Set(['', 'main', 'pg_catalog', 'system.main', 'system.pg_catalog']);

export interface TreeRules {
  /** Names of the lake-table views (lower case); any other base table must be a WITH name in scope. */
  views: ReadonlySet<string>;
}

/** Throws SandboxRefusal unless one parsed statement keeps to the rules. */
export function checkStatement(statement: Json, rules: TreeRules): void {
  walk(statement.node, rules, new Set());
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function qualified(...parts: unknown[]): string {
  return parts.filter((p) => typeof p === 'string' && p !== '').join('.');
}

/** Walks any part of the tree, checking each node it recognises by its class or type. */
function walk(value: unknown, rules: TreeRules, scope: ReadonlySet<string>): void {
  if (Array.isArray(value)) {
    for (const v of value) walk(v, rules, scope);
    return;
  }
  if (!isObject(value)) return;
  const type = value.type;
  if (typeof value.class === 'string') expression(value, rules, scope);
  else if (typeof type === 'string' && type.endsWith('_NODE')) queryNode(value, rules, scope);
  else if (typeof type === 'string' && TABLE_REFS.has(type)) tableRef(value, rules, scope);
  else if (typeof type === 'string' && OTHER_TABLE_REFS.has(type)) {
    throw new SandboxRefusal(`a ${type} table reference is not allowed`);
  } else walkFields(value, rules, scope);
}

function walkFields(node: Json, rules: TreeRules, scope: ReadonlySet<string>, skip: string[] = []): void {
  for (const [key, v] of Object.entries(node)) if (!skip.includes(key)) walk(v, rules, scope);
}

function queryNode(node: Json, rules: TreeRules, scope: ReadonlySet<string>): void {
  const type = node.type as string;
  if (!QUERY_NODES.has(type)) throw new SandboxRefusal(`a ${type} is not allowed: only SELECT queries are`);
  const inner = new Set(scope);
  const ctes = ((node.cte_map as Json | undefined)?.map ?? []) as Json[];
  for (const entry of ctes) {
    // Each CTE sees the ones before it (and, when recursive, itself: RECURSIVE_CTE_NODE below).
    walk(entry.value, rules, inner);
    inner.add(asciiLower(String(entry.key)));
  }
  if (type === 'RECURSIVE_CTE_NODE') {
    walk(node.left, rules, inner);
    const self = new Set(inner).add(asciiLower(String(node.cte_name)));
    walk(node.right, rules, self);
    walkFields(node, rules, inner, ['cte_map', 'left', 'right']);
    return;
  }
  walkFields(node, rules, inner, ['cte_map']);
}

function tableRef(ref: Json, rules: TreeRules, scope: ReadonlySet<string>): void {
  switch (ref.type) {
    case 'BASE_TABLE': {
      const name = qualified(ref.catalog_name, ref.schema_name, ref.table_name);
      const bare = ref.catalog_name === '' && ref.schema_name === '';
      const key = asciiLower(String(ref.table_name));
      if (!bare || !(rules.views.has(key) || scope.has(key))) {
        throw new SandboxRefusal(`table '${name}' is not a lake table: name a table of the lake`);
      }
      if (ref.at_clause !== null && ref.at_clause !== undefined) {
        throw new SandboxRefusal(`time travel on '${name}' is only for lake tables`);
      }
      walk(ref.sample, rules, scope);
      return;
    }
    case 'TABLE_FUNCTION': {
      const fn = ref.function as Json;
      const name = String(fn.function_name);
      const where = qualified(fn.catalog, fn.schema);
      if (
        fn.class !== 'FUNCTION' ||
        !ALLOWED_TABLE_FUNCTIONS.has(asciiLower(name)) ||
        !BUILTIN_SCHEMAS.has(where)
      ) {
        throw new SandboxRefusal(`table function ${qualified(fn.catalog, fn.schema, name)} is not allowed`);
      }
      walk(fn.children, rules, scope);
      walkFields(fn, rules, scope, ['children']);
      walkFields(ref, rules, scope, ['function']);
      return;
    }
    case 'SHOW_REF':
      // DESCRIBE / SUMMARIZE of a query or a table; SHOW TABLES and the like name no query.
      if (!isObject(ref.query)) throw new SandboxRefusal(`SHOW ${String(ref.table_name)} is not allowed`);
      walkFields(ref, rules, scope);
      return;
    default:
      walkFields(ref, rules, scope);
  }
}

function expression(expr: Json, rules: TreeRules, scope: ReadonlySet<string>): void {
  const cls = expr.class as string;
  if (cls === 'PARAMETER') throw new SandboxRefusal('query parameters ($1, ?, $name) are not supported');
  if (!EXPRESSIONS.has(cls)) throw new SandboxRefusal(`a ${cls} expression is not allowed`);
  if (cls === 'FUNCTION' || cls === 'WINDOW') {
    const name = String(expr.function_name);
    const where = qualified(expr.catalog, expr.schema);
    // The parser itself writes `[1]` as main.list_value, EXTRACT as main.date_part; built-in
    // functions live in system.main (and pg_catalog), and nothing else can be created.
    if (!BUILTIN_SCHEMAS.has(where)) {
      throw new SandboxRefusal(`function ${where}.${name} is not allowed: call functions by their bare name`);
    }
    if (!ALLOWED_FUNCTIONS.has(asciiLower(name))) throw new SandboxRefusal(`function ${name} is not allowed`);
  }
  walkFields(expr, rules, scope);
}
