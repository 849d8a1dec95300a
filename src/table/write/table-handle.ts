/**
 * What the data plane needs from a table (src/table/table.ts, DeltaTable): its store,
 * snapshots and the optimistic commit. Stated structurally so these modules depend on
 * the contract in docs (table-api), not on the class.
 */
import type { Clock } from '../../core/clock.ts';
import { systemClock } from '../../core/clock.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import type { Action } from '../actions.ts';
import type { CommitOptions, CommitResult } from '../commit.ts';
import type { Snapshot } from '../snapshot.ts';

export type { ReadScope } from '../conflicts.ts';
export type CommitRequest = CommitOptions;
export type CommitOutcome = CommitResult;

export interface TableHandle {
  readonly store: ObjectStore;
  snapshot(at?: { version?: number; timestamp?: number }): Promise<Snapshot>;
  commit(actions: Action[], opts: CommitRequest): Promise<CommitOutcome>;
}

/** The table's clock when it exposes one, else the system clock. */
export function tableClock(table: TableHandle, override?: Clock): Clock {
  if (override) return override;
  const t = table as unknown as { clock?: Clock; ctx?: { clock?: Clock } };
  return t.clock ?? t.ctx?.clock ?? systemClock;
}

/** The table's location for messages. */
export function tableName(table: TableHandle): string {
  return table.store.url;
}
