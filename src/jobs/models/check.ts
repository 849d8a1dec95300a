/**
 * Checking the expectations of one table (a model's or a source's) over a pinned
 * snapshot: the rows of the run's partitions when `partition` is given, else the whole
 * table (see expectations.ts for what each check means).
 */
import type { Clock } from '../../core/clock.ts';
import { quoteIdent } from '../../core/sql.ts';
import { openConnection } from '../../table/index.ts';
import type { Expectation, TargetRef } from './config.ts';
import { checkOne, countTogether, type ExpectationResult } from './expectations.ts';
import { createView, type PartitionSpec, type PinnedTable, partitionText, type TableSet } from './inputs.ts';

export const DEFAULT_SAMPLE_SIZE = 5;

export interface CheckTableOptions {
  tables: TableSet;
  clock: Clock;
  sampleSize: number;
  partition?: PartitionSpec;
}

export async function checkTable(
  pinned: PinnedTable,
  expectations: Expectation[],
  opts: CheckTableOptions,
): Promise<ExpectationResult[]> {
  if (expectations.length === 0) return [];
  const conn = await openConnection();
  try {
    await createView(conn, '__checked', pinned, opts.partition);
    let whole = '"__checked"';
    if (opts.partition) {
      await createView(conn, '__whole', pinned);
      whole = '"__whole"';
    }
    const others = new Map<string, string>();
    const viewOf = async (to: TargetRef): Promise<string> => {
      const key = `${to.kind}:${to.name}`;
      const have = others.get(key);
      if (have) return have;
      const other = opts.tables.get(to.kind === 'ref' ? 'model' : 'source', to.name);
      if (!other) throw new Error(`${to.kind}('${to.name}') has no table`);
      const view = `__to_${others.size}`;
      await createView(conn, view, other);
      others.set(key, quoteIdent(view));
      return quoteIdent(view);
    };
    const ctx = { clock: opts.clock, sampleSize: opts.sampleSize, wholeView: whole, viewOf };
    const counted = await countTogether(conn, '"__checked"', expectations, ctx);
    const out: ExpectationResult[] = [];
    for (const [i, x] of expectations.entries()) {
      const r = await checkOne(conn, '"__checked"', x, ctx, counted[i]);
      out.push({
        target: pinned.name,
        targetKind: pinned.kind,
        expectation: x.name,
        type: x.check.type,
        severity: x.severity,
        ...r,
        tableVersion: pinned.snapshot.version,
        partition: partitionText(opts.partition),
      });
    }
    return out;
  } finally {
    conn.closeSync();
  }
}

/** The expectations of `results` that failed with severity error. */
export const errorsOf = (results: ExpectationResult[]) =>
  results.filter((r) => !r.passed && r.severity === 'error');
export const warningsOf = (results: ExpectationResult[]) =>
  results.filter((r) => !r.passed && r.severity === 'warn');
