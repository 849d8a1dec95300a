/**
 * `kind: sql` — a DuckDB SQL text over the data directory's tables, as `tributary query`
 * runs it (tables by name, time travel): each table is a view over one snapshot, on a
 * connection of its own, so the task reads the tables and changes none. With `expect`,
 * it is a check: `empty` fails the task when the query returns rows (a query for bad
 * rows, as dbt's tests), `not_empty` when it returns none. Placeholders such as
 * `{{ date }}` are filled in first (templates.ts).
 */
import { runQuery } from '../../../query/run.ts';
import type { TaskKind } from '../registry.ts';
import { checkParams, P, plain } from './params.ts';

/** Rows kept in the task's output (and in the failure message of a check). */
const SAMPLE_ROWS = 10;

export const sqlKind: TaskKind = {
  description: 'DuckDB SQL over the tables (read-only); optionally a check on its rows',
  check: (params) =>
    checkParams(params, {
      sql: { shape: P.text(), required: true },
      expect: { shape: P.text(['empty', 'not_empty']) },
    }),

  async run(params, ctx) {
    const sql = params.sql as string;
    const result = await runQuery(sql, { dataDir: ctx.dataDir, clock: ctx.clock });
    const sample = result.rows.slice(0, SAMPLE_ROWS).map((r) => plain(r) as Record<string, unknown>);
    const n = result.rows.length;
    if (params.expect === 'empty' && n > 0) {
      throw new Error(
        `the check query returned ${n} row${n === 1 ? '' : 's'} where none were expected; the first: ${JSON.stringify(sample.slice(0, 3))}`,
      );
    }
    if (params.expect === 'not_empty' && n === 0) {
      throw new Error('the check query returned no rows where some were expected');
    }
    return { rows: n, columns: result.columns.map((c) => c.name), sample };
  },
};
