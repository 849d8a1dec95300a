/**
 * A table created by its first write: version 0 holds protocol, metaData and the first
 * commit's data (and txn), as Spark and delta-rs number a table's versions, instead of
 * an empty CREATE TABLE at 0 and the data at 1.
 *
 * Until that commit the table is a definition: its snapshot is empty, at version -1,
 * with the defined schema, so every operation plans against it as against an empty
 * table (a stream's progress is empty, a MERGE inserts every row). Its commit puts
 * version 0 with put-if-absent like any other commit, so of two writers creating the
 * same table exactly one wins. The loser sees the winner's metaData:
 *
 * - a different schema or partitioning → TABLE_ALREADY_EXISTS (nothing of the loser is
 *   committed; it writes again against the existing table if it wants to);
 * - the same, and the commit is a blind append (adds and txns only, read scope 'none')
 *   whose applications have no progress in the winner's table → committed again at the
 *   next version, as any blind append that lost a race;
 * - otherwise → the winner's TABLE_COMMIT_CONFLICT: the operation must re-read the table
 *   (MERGE, UPDATE, DELETE and OPTIMIZE do, retry.ts) and run again.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import { isTributaryError, TributaryError } from '../core/errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { Action, Metadata, Protocol } from './actions.ts';
import { type CommitOptions, type CommitOutcome, commit, isAppendOnly } from './commit.ts';
import { tableConfig } from './config.ts';
import { emptyState } from './log-replay.ts';
import { checkCreatableConfiguration, newTableProtocol } from './protocol.ts';
import type { StructType } from './schema.ts';
import { serializeSchema, validateSchema } from './schema-json.ts';
import { Snapshot } from './snapshot.ts';
import { loadLatest } from './snapshot-load.ts';

export interface TableDefinition {
  schema: StructType;
  partitionColumns?: string[];
  /** Table properties, e.g. delta.checkpointInterval, delta.logRetentionDuration. */
  configuration?: Record<string, string>;
  name?: string;
  description?: string;
}

/** Validates a definition and gives the protocol and metaData of the table it defines. */
export function defineTable(
  table: string,
  def: TableDefinition,
  now: number,
): { protocol: Protocol; metadata: Metadata } {
  const partitionColumns = def.partitionColumns ?? [];
  const configuration = def.configuration ?? {};
  validateSchema(def.schema, partitionColumns, table);
  tableConfig(configuration);
  checkCreatableConfiguration(configuration, table);
  const metadata: Metadata = {
    id: randomUUID(),
    ...(def.name === undefined ? {} : { name: def.name }),
    ...(def.description === undefined ? {} : { description: def.description }),
    format: { provider: 'parquet', options: {} },
    schemaString: serializeSchema(def.schema),
    partitionColumns,
    configuration,
    createdTime: now,
  };
  return { protocol: newTableProtocol(), metadata };
}

/** The empty snapshot (version -1) of a table that its first commit will create. */
export function pendingSnapshot(
  table: string,
  defined: { protocol: Protocol; metadata: Metadata },
): Snapshot {
  const state = emptyState();
  state.protocol = defined.protocol;
  state.metadata = defined.metadata;
  return new Snapshot(state, 0, table);
}

/**
 * Commits `actions` read from a pending snapshot (version -1) as version 0, with the
 * snapshot's protocol and metaData (a metaData among `actions`, from schema evolution,
 * takes the place of the defined one). See the header for a lost race.
 */
export async function commitFirst(
  store: ObjectStore,
  table: string,
  clock: Clock,
  actions: Action[],
  opts: CommitOptions,
): Promise<CommitOutcome> {
  const read = opts.readSnapshot;
  const first: Action[] = [];
  if (!actions.some((a) => 'protocol' in a)) first.push({ protocol: read.protocol });
  if (!actions.some((a) => 'metaData' in a))
    first.push({ metaData: { ...read.metadata, createdTime: clock.now() } });
  first.push(...actions);
  try {
    return await commit(store, table, clock, first, opts);
  } catch (err) {
    if (!isTributaryError(err, 'TABLE_COMMIT_CONFLICT')) throw err;
    // Another writer created the table first.
    const current = await loadLatest(store, table);
    const ours = describeShape(read);
    const theirs = describeShape(current);
    if (ours !== theirs) {
      throw new TributaryError(
        'TABLE_ALREADY_EXISTS',
        `table ${table} was created by another writer while this write was creating it, with ${theirs} where this write has ${ours}; nothing of this write was committed. Write again to add to the existing table, or choose another location`,
        { table, existing: theirs, wanted: ours },
        err,
      );
    }
    const blind =
      (opts.readScope ?? (isAppendOnly(actions) ? 'none' : 'all')) === 'none' && isAppendOnly(actions);
    // An application whose progress the winner recorded has moved: its rows may be there.
    const moved = actions.some((a) => 'txn' in a && current.txnVersion(a.txn.appId) !== undefined);
    if (!blind || moved) throw err;
    return commit(store, table, clock, actions, { ...opts, readSnapshot: current });
  }
}

function describeShape(s: Snapshot): string {
  return `schema ${serializeSchema(s.schema)} partitioned by [${s.partitionColumns.join(', ')}]`;
}
