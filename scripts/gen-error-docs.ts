/**
 * Writes docs/errors.md from the error catalog in src/core/errors.ts, so the page can
 * never drift from the code (test/core/errors.test.ts checks it is up to date).
 * Run: node scripts/gen-error-docs.ts
 */
import { writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../src/core/errors.ts';
import { DUCKDB_ERROR_TYPES } from '../src/table/duckdb-errors.ts';

export function renderErrorDocs(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, spec]) => `| \`${code}\` | ${spec.domain} | ${spec.retryable ? 'yes' : 'no'} | ${spec.summary} |`,
  );
  const duckdb = Object.entries(DUCKDB_ERROR_TYPES).map(
    ([code, types]) => `| \`${code}\` | ${types.map((t) => `\`${t}\``).join(', ')} |`,
  );
  return `# Error codes

Every error Tributary raises is a \`TributaryError\` with a stable \`code\`, a \`domain\`
(whose fault it is) and whether retrying the same operation can help. The command line
prints \`error [CODE]: message\` and exits with 2 for \`user\` errors and 1 for the others.

- **user**: bad input or configuration; the message says what to change.
- **external**: a service or the storage misbehaved (network, broker, disk, a
  concurrent writer).
- **internal**: a bug in Tributary; please report it.

This page is generated from \`src/core/errors.ts\` by \`node scripts/gen-error-docs.ts\`.

| code | domain | retry helps | meaning |
| --- | --- | --- | --- |
${rows.join('\n')}

## DuckDB failures

DuckDB decodes and validates batches, and reads and writes every data file. Its
failures are mapped by DuckDB's error type (the start of its message, e.g.
\`IO Error: ...\`) on every connection of the process (\`src/table/duckdb-errors.ts\`);
the message quotes DuckDB and says what to do. A pipeline retries the retryable ones
with back-off, reloading progress from the tables, and stops on the others. Where a
failure has a more precise meaning, the operation reports that code instead: a write
whose values do not fit the table's columns gives \`TABLE_SCHEMA_MISMATCH\`, a predicate
that does not bind \`TABLE_INVALID_ARGUMENT\`, a query's own SQL \`QUERY_INVALID\`; out of
memory and I/O keep their DuckDB code everywhere.

| code | DuckDB error types |
| --- | --- |
${duckdb.join('\n')}
| \`DUCKDB_FAILED\` | any other (\`INTERNAL\`, \`FATAL\`, ...) |
`;
}

if (import.meta.main) {
  writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorDocs());
  console.log('wrote docs/errors.md');
}
