/**
 * SQL literals for the DuckDB statements that every layer builds (table scans, MERGE,
 * contracts, dedup): quoting is one rule, kept in one place so no layer imports another
 * just to quote a name.
 */

/** `"name"` with embedded double quotes doubled: safe for any identifier in DuckDB SQL. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `'text'` with embedded single quotes doubled: a SQL string literal. */
export function quoteString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
