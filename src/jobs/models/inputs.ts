/**
 * The tables a run reads, each pinned to one snapshot: a source table or a model not
 * in the run at the version it had when the run started, a model of the run at the
 * version the run wrote. Models and expectations read them through DuckDB views over
 * those snapshots' Parquet files, pruned to the partitions of an incremental run.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Clock } from '../../core/clock.ts';
import { isTributaryError } from '../../core/errors.ts';
import { quoteIdent } from '../../core/sql.ts';
import { DeltaTable, type Filter, type Snapshot, snapshotQuery } from '../../table/index.ts';
import { locateTable } from '../../table/locate.ts';
import { findField } from '../../table/types.ts';

export interface PinnedTable {
  /** The name in the project: a model's name, or a source table's. */
  name: string;
  kind: 'model' | 'source';
  table: DeltaTable;
  snapshot: Snapshot;
}

/** The partitions a run recomputes: values of one column. */
export interface PartitionSpec {
  column: string;
  values: string[];
}

export const partitionText = (p: PartitionSpec | undefined): string | null =>
  p === undefined ? null : `${p.column}=${p.values.join(',')}`;

/** Parses `event_date=2026-11-29` (repeatable, same column; or one value list `a,b`). */
export function parsePartitions(specs: string[] | undefined): PartitionSpec | undefined {
  if (specs === undefined || specs.length === 0) return undefined;
  let column: string | undefined;
  const values: string[] = [];
  for (const spec of specs) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(spec);
    if (!m || m[2].trim() === '') {
      throw new Error(`'${spec}' is not a partition: write column=value, like event_date=2026-11-29`);
    }
    if (column !== undefined && column !== m[1]) {
      throw new Error(`partitions of one run must be of one column: '${column}' and '${m[1]}'`);
    }
    column = m[1];
    for (const v of m[2].split(',')) if (v.trim() !== '' && !values.includes(v.trim())) values.push(v.trim());
  }
  return { column: column!, values };
}

export class TableSet {
  private readonly dataDir: string;
  private readonly clock: Clock | undefined;
  private readonly pinned = new Map<string, PinnedTable | null>();

  constructor(dataDir: string, clock?: Clock) {
    this.dataDir = dataDir;
    this.clock = clock;
  }

  private key(kind: PinnedTable['kind'], name: string): string {
    return `${kind}:${name}`;
  }

  /** Pins the table's current snapshot (once per run); null when there is no table. */
  async pin(kind: PinnedTable['kind'], name: string): Promise<PinnedTable | null> {
    const k = this.key(kind, name);
    const have = this.pinned.get(k);
    if (have !== undefined) return have;
    let found: PinnedTable | null = null;
    try {
      const { store } = await locateTable(name, this.dataDir);
      const table = await DeltaTable.open(store, { clock: this.clock });
      found = { name, kind, table, snapshot: await table.snapshot() };
    } catch (err) {
      if (!isTributaryError(err, 'TABLE_NOT_FOUND')) throw err;
    }
    this.pinned.set(k, found);
    return found;
  }

  get(kind: PinnedTable['kind'], name: string): PinnedTable | null | undefined {
    return this.pinned.get(this.key(kind, name));
  }

  /** After a model wrote its table: later readers in the run read this version. */
  set(pinned: PinnedTable): void {
    this.pinned.set(this.key(pinned.kind, pinned.name), pinned);
  }

  /** Opens (or creates on first write) a model's table, without pinning it. */
  async modelTable(name: string): Promise<{ store: DeltaTable['store'] }> {
    return locateTable(name, this.dataDir, { mustExist: false });
  }
}

/** The filter restricting a table to the run's partitions, if the table has that column. */
export function partitionFilter(snapshot: Snapshot, partition: PartitionSpec | undefined): Filter[] {
  if (partition === undefined) return [];
  const field = findField(snapshot.schema, partition.column);
  if (field === undefined) return [];
  return [{ column: field.name, op: 'in', value: partition.values }];
}

/**
 * Creates TEMP VIEW `view` over the pinned snapshot on `conn`; with `partition`, only
 * its rows (files of other partitions skipped, the rest filtered).
 */
export async function createView(
  conn: DuckDBConnection,
  view: string,
  pinned: PinnedTable,
  partition?: PartitionSpec,
): Promise<void> {
  const rel = await snapshotQuery(pinned.table, pinned.snapshot, conn, {
    filter: partitionFilter(pinned.snapshot, partition),
  });
  await conn.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(view)} AS ${rel}`);
}
